"""Capacity: configured users and devices against what the partner declared (and any approved expansion).

Source: DOMAIN.md §8. The partner declares the number of knowledge workers and workspace devices at
activation; growth beyond them needs an approved expansion before the users/devices are configured.
Defaults that read the source (each a setting in ``include/config/capacity.yaml``, passed in here):

* a measure is a *warning* when configured > ``warning_percent`` % of the allowed number (90: "above
  90 %"; exactly 90 % is within), a *breach* when configured > 100 % of the allowed number (exactly
  100 % is a warning, not a breach);
* the allowed number is the declared one, raised by the latest expansion of that measure approved at or
  before ``as_of`` (an expansion names the new approved total, the end state like the declaration; one
  approved later than ``as_of`` does not count yet, and an expansion never lowers the declaration);
* a measure the inventory does not declare is *not declared* (reported, not judged); a customer the
  admin API gave no counts for is *not measured*;
* the customer's verdict is its worst judged measure (breach > warning > within), *not declared* when
  neither measure is declared, *not measured* when there are no counts.

Ratios are compared as exact fractions: 90 % of 10 devices is exactly 9, with no float rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal

from di_ops.rules.common import FrozenRecord, require_aware

Measure = Literal["knowledge_workers", "workspace_devices"]
Verdict = Literal["within", "warning", "breach", "not_declared", "not_measured"]
MEASURES: Final[tuple[Measure, ...]] = ("knowledge_workers", "workspace_devices")
# What the admin API counts for each declared measure (docs/uc_admin_api.md, capacity call).
CONFIGURED_NAME: Final[dict[Measure, str]] = {"knowledge_workers": "users", "workspace_devices": "devices"}
JUDGED: Final[tuple[Verdict, ...]] = ("within", "warning", "breach")
DEFAULT_WARNING_PERCENT: Final = Decimal(90)
BREACH_PERCENT: Final = Decimal(100)


class Expansion(FrozenRecord):
    """An approved expansion (``<data>/capacity/expansions.csv``): new approved totals, either may be None."""

    customer_id: str
    knowledge_workers: int | None = None
    workspace_devices: int | None = None
    approved_by: str
    approved_at: datetime
    change_reference: str

    def total(self, measure: Measure) -> int | None:
        value: int | None = getattr(self, measure)
        return value


class MeasureFigure(FrozenRecord):
    """One measure of one customer: the numbers and the verdict, with the reason in words."""

    measure: Measure
    configured: int | None
    declared: int | None
    allowed: int | None
    expansion: str | None  # the change reference of the expansion that raised the allowed number
    percent: float | None  # configured / allowed, for display only (verdicts use exact fractions)
    verdict: Verdict
    reason: str


class CustomerCapacity(FrozenRecord):
    customer_id: str
    verdict: Verdict
    figures: tuple[MeasureFigure, ...]

    def figure(self, measure: Measure) -> MeasureFigure:
        return next(f for f in self.figures if f.measure == measure)


def latest_expansion(
    expansions: Iterable[Expansion], customer_id: str, measure: Measure, as_of: datetime
) -> Expansion | None:
    """The latest expansion of ``measure`` approved for ``customer_id`` at or before ``as_of`` (None: none)."""
    require_aware(as_of, "as_of")
    found = [
        e
        for e in expansions
        if e.customer_id == customer_id
        and e.total(measure) is not None
        and require_aware(e.approved_at, "approved_at") <= as_of
    ]
    return max(found, key=lambda e: (e.approved_at, e.change_reference), default=None)


def judge_measure(
    measure: Measure,
    configured: int | None,
    declared: int | None,
    expansion: Expansion | None = None,
    *,
    warning_percent: Decimal = DEFAULT_WARNING_PERCENT,
) -> MeasureFigure:
    """The verdict of one measure (DOMAIN.md §8; boundaries in the module docstring)."""
    if not Decimal(0) < warning_percent < BREACH_PERCENT:
        raise ValueError(f"warning_percent must lie between 0 and 100, got {warning_percent}")
    for name, value in (("configured", configured), ("declared", declared)):
        if value is not None and value < 0:
            raise ValueError(f"{name} {measure} must not be negative, got {value}")
    label = measure.replace("_", " ")
    raised = expansion.total(measure) if expansion is not None else None
    if declared is None:
        return MeasureFigure(
            measure=measure,
            configured=configured,
            declared=None,
            allowed=None,
            expansion=None,
            percent=None,
            verdict="not_declared",
            reason=f"no declared number of {label} in the inventory: not judged",
        )
    allowed = declared if raised is None or raised <= declared else raised
    reference = expansion.change_reference if expansion is not None and allowed != declared else None
    if configured is None:
        return MeasureFigure(
            measure=measure,
            configured=None,
            declared=declared,
            allowed=allowed,
            expansion=reference,
            percent=None,
            verdict="not_measured",
            reason=f"the admin API gave no count of {CONFIGURED_NAME[measure]}: not judged",
        )
    ratio = Fraction(configured, allowed) * 100 if allowed else (Fraction(0) if configured == 0 else None)
    verdict: Verdict
    if ratio is None or ratio > Fraction(BREACH_PERCENT):
        verdict = "breach"
    elif ratio > Fraction(warning_percent):
        verdict = "warning"
    else:
        verdict = "within"
    what = f"{configured} {CONFIGURED_NAME[measure]} configured of {allowed} allowed"
    basis = f" (declared {declared}, raised by approved expansion {reference})" if reference else ""
    percent = None if ratio is None else float(ratio)
    shown = "no allowance" if percent is None else f"{percent:.1f} %"
    reason = {
        "breach": f"{what}{basis}: {shown}, above 100 % without an approved expansion",
        "warning": f"{what}{basis}: {shown}, above {warning_percent} %: plan an expansion",
        "within": f"{what}{basis}: {shown}",
    }[verdict]
    return MeasureFigure(
        measure=measure,
        configured=configured,
        declared=declared,
        allowed=allowed,
        expansion=reference,
        percent=percent,
        verdict=verdict,
        reason=reason,
    )


def customer_verdict(figures: Iterable[MeasureFigure]) -> Verdict:
    """The worst judged verdict; else not measured (any measure lacks counts) or not declared."""
    verdicts = [f.verdict for f in figures]
    judged = [v for v in verdicts if v in JUDGED]
    if judged:
        return max(judged, key=JUDGED.index)
    return "not_measured" if "not_measured" in verdicts else "not_declared"


def judge_customer(
    customer_id: str,
    declared: dict[Measure, int | None],
    configured: dict[Measure, int] | None,
    expansions: Iterable[Expansion],
    as_of: datetime,
    *,
    warning_percent: Decimal = DEFAULT_WARNING_PERCENT,
) -> CustomerCapacity:
    """Both measures of one customer judged as of ``as_of`` (``configured`` None: the API had no counts)."""
    approved = tuple(expansions)
    figures = tuple(
        judge_measure(
            measure,
            None if configured is None else configured.get(measure),
            declared.get(measure),
            latest_expansion(approved, customer_id, measure, as_of),
            warning_percent=warning_percent,
        )
        for measure in MEASURES
    )
    return CustomerCapacity(customer_id=customer_id, verdict=customer_verdict(figures), figures=figures)


def is_new_breach(previous: Verdict | None, current: Verdict) -> bool:
    """An alert is due when a customer enters breach (one alert per state change, DOMAIN.md §8)."""
    return current == "breach" and previous != "breach"
