"""Certificate renewal planning: when a UC application certificate is renewed.

Source: DOMAIN.md §4. Renewal runs only 3–7 days before expiry (numbers from
``include/config/policy.yaml``, ``certificates``), inside a weekday maintenance
window of the cluster's region whose opening lies in
``[notAfter − 7 days, notAfter − 3 days]`` (both ends inclusive, elapsed time,
DOMAIN.md §0). For an SME cluster pass its publishing region
(``maintenance.effective_region``).

Defaults that interpret the source:

- A valid window is *usable* when it opens at or after ``as_of`` **or is open at
  ``as_of``** (it opened earlier and has not closed): the renewal can still run
  in the window the operator is in.
- Less than 3 days left (``notAfter − as_of < 3 days``) is an emergency even if
  ``as_of`` falls inside a valid window: the source's "less than 3 days left
  and no renewal done" is checked first. Exactly 3 days left is not an
  emergency.
- An emergency's window is the window open at ``as_of`` (any day), else the
  next window of any day, weekend included; it has no fallbacks (no valid
  window remains). When that window opens only after ``notAfter`` the reason
  says to renew at once (DOMAIN.md §1: emergencies "may run immediately").
- ``as_of >= notAfter`` is *expired* (an incident): no window, no fallbacks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from di_ops.rules.common import normalise_region, require_aware
from di_ops.rules.maintenance import Window, next_window, window_at, windows_between
from di_ops.settings import CertificatePolicy
from di_ops.settings import policy as policy_settings

__all__ = ["RenewalPlan", "Window", "plan_renewal", "renewal_range", "usable_windows"]

RenewalStatus = Literal["scheduled", "emergency", "expired"]


class RenewalPlan(BaseModel):
    """When to renew a certificate, and why.

    ``window``: scheduled → the earliest usable valid window; emergency → the window
    open at ``as_of``, else the next one of any day; expired → None.
    ``fallbacks``: the later usable valid windows, ascending (empty unless scheduled).
    """

    model_config = ConfigDict(frozen=True)

    status: RenewalStatus
    window: Window | None
    fallbacks: list[Window] = Field(default_factory=list)
    reason: str = ""


def _policy(policy: CertificatePolicy | None) -> CertificatePolicy:
    return policy or policy_settings().certificates


def _utc(value: datetime, name: str) -> datetime:
    # Arithmetic and comparisons between datetimes sharing a tzinfo use wall time in Python;
    # DOMAIN.md §0 wants elapsed time, so every instant is handled in UTC.
    return require_aware(value, name).astimezone(UTC)


def renewal_range(not_after: datetime, *, policy: CertificatePolicy | None = None) -> tuple[datetime, datetime]:
    """``(earliest_open, latest_open)`` = ``(notAfter − 7 days, notAfter − 3 days)``, elapsed time.

    A window is valid when it is a weekday window whose opening lies in this range,
    both ends inclusive. Source: DOMAIN.md §4 and §0.
    """
    not_after = _utc(not_after, "not_after")
    settings = _policy(policy)
    return (
        not_after - timedelta(days=settings.renew_earliest_days_before),
        not_after - timedelta(days=settings.renew_latest_days_before),
    )


def usable_windows(
    not_after: datetime, region: str, as_of: datetime, *, policy: CertificatePolicy | None = None
) -> list[Window]:
    """The valid renewal windows still usable at ``as_of`` (open now, or opening later), ascending.

    Source: DOMAIN.md §4 (weekday window of the region opening in
    ``[notAfter − 7 d, notAfter − 3 d]``); usable = opens at/after ``as_of`` or is open at ``as_of``.
    """
    as_of = _utc(as_of, "as_of")
    earliest, latest = renewal_range(not_after, policy=policy)
    valid = windows_between(region, earliest, latest)
    return [w for w in valid if w.start.astimezone(UTC) >= as_of or w.contains(as_of)]


def plan_renewal(
    not_after: datetime, region: str, as_of: datetime, *, policy: CertificatePolicy | None = None
) -> RenewalPlan:
    """Plan the renewal of a certificate expiring at ``not_after`` in ``region``, seen at ``as_of``.

    Source: DOMAIN.md §4 (3–7 days before expiry in a weekday window; emergency with
    less than 3 days left or no weekday window left; expired is an incident).
    """
    not_after = _utc(not_after, "not_after")
    as_of = _utc(as_of, "as_of")
    name = normalise_region(region)
    settings = _policy(policy)
    if as_of >= not_after:
        return RenewalPlan(
            status="expired",
            window=None,
            fallbacks=[],
            reason=f"expired at {not_after.isoformat()} (as of {as_of.isoformat()}): an incident, not a renewal",
        )
    earliest, latest = renewal_range(not_after, policy=settings)
    left = not_after - as_of
    if left < timedelta(days=settings.renew_latest_days_before):
        why = f"less than {settings.renew_latest_days_before} days left ({left}) and no renewal done"
    else:
        usable = usable_windows(not_after, name, as_of, policy=settings)
        if usable:
            first, *later = usable
            return RenewalPlan(
                status="scheduled",
                window=first,
                fallbacks=later,
                reason=(
                    f"earliest weekday window of {name} opening in [{earliest.isoformat()}, {latest.isoformat()}]"
                    f"; {len(later)} fallback(s)"
                ),
            )
        why = f"no weekday window of {name} left opening in [{earliest.isoformat()}, {latest.isoformat()}]"
    window = window_at(name, as_of) or next_window(name, as_of, allow_weekend=True)
    when = "open now" if window.contains(as_of) else "the next window, weekend included"
    reason = f"emergency change: {why}; {when}"
    if window.start.astimezone(UTC) >= not_after:
        reason += f"; that window opens after notAfter {not_after.isoformat()}: renew immediately"
    return RenewalPlan(status="emergency", window=window, fallbacks=[], reason=reason)
