"""Response objectives of TAC cases and the compliance of a set of cases.

Source: DOMAIN.md §7. Objectives, the standard (95 %) and the severities it
applies to come from ``include/config/policy.yaml`` (``sla``).

Interpretations (defaults chosen here):

* S1/S2 objectives are elapsed minutes (24×7 wall clock, DOMAIN.md §0); S3/S4
  are business days of the case region (:func:`di_ops.rules.calendar.add_business_days`).
* A first response dated before the case was opened is a data error →
  ValueError (it cannot be judged met or breached).
* ``response_status`` judges what is known at ``as_of``: a first response dated
  after ``as_of`` is not known yet, so the case is judged as having no response
  (a rerun with the same ``as_of`` gives the same answer whatever arrived later).
* ``compliance``: ``ratio`` = met / (met + breached) (pending cases are left out
  by the caller); ``meets_standard`` = ratio ≥ standard; ``too_few_to_judge`` =
  the Wilson score interval (95 %, z = 1.96) strictly straddles the standard
  (low < standard < high), i.e. the sample cannot tell whether the true rate
  meets it. No cases: ratio None, meets_standard False, too_few_to_judge True.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from di_ops.core import settings
from di_ops.core.settings import Objective, SlaPolicy
from di_ops.rules.calendar import add_business_days
from di_ops.rules.common import normalise_region, require_aware
from di_ops.rules.severity import normalise_severity

Status = Literal["met", "breached", "pending"]


def objective_for(severity: str, *, policy: SlaPolicy | None = None) -> Objective:
    """The response objective of a severity (minutes or business days). Source: DOMAIN.md §7."""
    rules = policy if policy is not None else settings.policy().sla
    name = normalise_severity(severity)
    return next(objective for level, objective in rules.objectives.items() if level == name)


def response_due(severity: str, opened_at: datetime, region: str, *, policy: SlaPolicy | None = None) -> datetime:
    """When the operator's first response to a case is due, as an instant in UTC.

    S1 +15 minutes, S2 +30 minutes of elapsed time (24×7); S3 1 business day,
    S4 3 business days of the region's calendar (numbers from ``policy.sla``).
    Severity names as :func:`di_ops.rules.severity.normalise_severity` accepts.
    Naive ``opened_at`` or an unknown region/severity raise ValueError. The
    result is in UTC: a local time in a repeated DST hour (fold=1) never
    compares equal to another zone's datetime (PEP 495), a UTC one does.

    Source: DOMAIN.md §7 (response objectives, business-day arithmetic).
    """
    require_aware(opened_at, "opened_at")
    name = normalise_region(region)
    objective = objective_for(severity, policy=policy)
    if objective.minutes is not None:
        due = opened_at.astimezone(UTC) + timedelta(minutes=objective.minutes)
    else:
        assert objective.business_days is not None  # the settings model guarantees exactly one
        due = add_business_days(name, opened_at, objective.business_days)
    return due.astimezone(UTC)


def response_status(
    severity: str,
    opened_at: datetime,
    first_response_at: datetime | None,
    region: str,
    as_of: datetime,
    *,
    policy: SlaPolicy | None = None,
) -> Status:
    """The status of one case at ``as_of``: "met", "breached" or "pending".

    A response at or before the due time is met, after it breached. Without a
    response (or with one dated after ``as_of``, not yet known then) the case
    is breached once ``as_of`` is past the due time, else pending. A response
    dated before ``opened_at`` raises ValueError.

    Source: DOMAIN.md §7 ("A response at exactly the due time is met …").
    """
    require_aware(as_of, "as_of")
    due = response_due(severity, opened_at, region, policy=policy).astimezone(UTC)
    if first_response_at is not None:
        responded = require_aware(first_response_at, "first_response_at").astimezone(UTC)
        if responded < opened_at.astimezone(UTC):
            raise ValueError(
                f"first_response_at {first_response_at.isoformat()} is before opened_at {opened_at.isoformat()}"
            )
        if responded <= as_of.astimezone(UTC):
            return "met" if responded <= due else "breached"
    return "breached" if as_of.astimezone(UTC) > due else "pending"


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (low, high) of a success rate; (0.0, 1.0) when ``n`` is 0.

    Source: DOMAIN.md §7 (the 95 % standard is judged on samples of cases);
    E. B. Wilson (1927), the usual score interval for a binomial proportion.
    """
    for label, value in (("successes", successes), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{label} must be an int, got {value!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if not (isinstance(z, int | float) and math.isfinite(z) and z > 0):
        raise ValueError(f"z must be a positive finite number, got {z!r}")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


class Compliance(BaseModel):
    """Compliance of a set of judged cases with the SLA standard. Source: DOMAIN.md §7."""

    model_config = ConfigDict(frozen=True)

    n: int
    met: int
    breached: int
    ratio: float | None
    low: float
    high: float
    standard: float
    meets_standard: bool
    too_few_to_judge: bool


def compliance(met: int, breached: int, standard: float | None = None, *, z: float = 1.96) -> Compliance:
    """Ratio met / (met + breached), its Wilson interval, and the verdict against the standard.

    ``standard`` defaults to ``policy.sla.standard`` (0.95; applied separately
    to S3 and to S4 cases by the caller). ``too_few_to_judge`` is True when the
    interval strictly straddles the standard (low < standard < high): the
    sample cannot decide either way. Pending cases are not counted.

    Source: DOMAIN.md §7 (standard: at least 95 % of S3 and, separately, S4 cases).
    """
    for label, value in (("met", met), ("breached", breached)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{label} must be a non-negative int, got {value!r}")
    target = settings.policy().sla.standard if standard is None else standard
    if not (isinstance(target, int | float) and 0 < target <= 1):
        raise ValueError(f"standard must be in (0, 1], got {target!r}")
    n = met + breached
    low, high = wilson_interval(met, n, z)
    ratio = met / n if n else None
    return Compliance(
        n=n,
        met=met,
        breached=breached,
        ratio=ratio,
        low=low,
        high=high,
        standard=target,
        meets_standard=ratio is not None and ratio >= target,
        too_few_to_judge=low < target < high,
    )
