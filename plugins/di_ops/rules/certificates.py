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
  in the window the operator is in. A caller that cannot join a window once it
  has begun (the unattended sweep: a window's renewal run selects its plans at
  the opening) passes ``opens_after``: then only windows opening strictly after
  that instant are usable (DOMAIN.md §2 "a plan is only as good as its
  execution", §4 "otherwise the plan takes the next valid window").
- Notice (DOMAIN.md §2, business days per §7): a plan announced at ``notice_at``
  gives the full notice for a window opening at or after ``notice_due`` =
  ``notice_at`` + ``policy.change.planned_notice_business_days`` business days
  of the region. With ``notice_at`` a scheduled plan takes the earliest usable
  window that gives the full notice (the later usable ones are its fallbacks);
  when none does, the earliest usable window with ``short_notice`` set.
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

from di_ops.core.settings import CertificatePolicy, ChangePolicy
from di_ops.core.settings import policy as policy_settings
from di_ops.rules.calendar import add_business_days
from di_ops.rules.common import normalise_region, require_aware
from di_ops.rules.maintenance import Window, next_window, window_at, windows_between

__all__ = [
    "RenewalPlan",
    "Window",
    "gives_full_notice",
    "notice_due",
    "plan_renewal",
    "planning_horizon",
    "renewal_range",
    "sweep_plan",
    "usable_windows",
]

RenewalStatus = Literal["scheduled", "emergency", "expired"]


class RenewalPlan(BaseModel):
    """When to renew a certificate, and why.

    ``window``: scheduled → the earliest usable valid window; emergency → the window
    open at ``as_of``, else the next one of any day; expired → None.
    ``fallbacks``: the later usable valid windows, ascending (empty unless scheduled).
    ``short_notice``: a scheduled plan whose window opens before its notice is due (DOMAIN.md §2);
    only set when the caller gave ``notice_at``.
    """

    model_config = ConfigDict(frozen=True)

    status: RenewalStatus
    window: Window | None
    fallbacks: list[Window] = Field(default_factory=list)
    reason: str = ""
    short_notice: bool = False


def _policy(policy: CertificatePolicy | None) -> CertificatePolicy:
    return policy or policy_settings().certificates


def _change(change: ChangePolicy | None) -> ChangePolicy:
    return change or policy_settings().change


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
    not_after: datetime,
    region: str,
    as_of: datetime,
    *,
    policy: CertificatePolicy | None = None,
    opens_after: datetime | None = None,
) -> list[Window]:
    """The valid renewal windows still usable at ``as_of`` (open now, or opening later), ascending.

    Source: DOMAIN.md §4 (weekday window of the region opening in
    ``[notAfter − 7 d, notAfter − 3 d]``); usable = opens at/after ``as_of`` or is open at ``as_of``.
    With ``opens_after``: only windows opening strictly after it (a window that has begun by then
    cannot be joined; DOMAIN.md §2, §4).
    """
    as_of = _utc(as_of, "as_of")
    after = None if opens_after is None else _utc(opens_after, "opens_after")
    earliest, latest = renewal_range(not_after, policy=policy)
    valid = windows_between(region, earliest, latest)
    usable = [w for w in valid if w.start.astimezone(UTC) >= as_of or w.contains(as_of)]
    return usable if after is None else [w for w in usable if w.start.astimezone(UTC) > after]


def notice_due(region: str, notice_at: datetime, *, change: ChangePolicy | None = None) -> datetime:
    """The first instant a window may open to be announced at ``notice_at`` with the full notice.

    Source: DOMAIN.md §2 (written notice at least ``change.planned_notice_business_days`` = 10
    business days before; the period runs from when the notice is sent) and §7 (business days of
    the region's calendar, holidays included). In the region's zone.
    """
    return add_business_days(region, _utc(notice_at, "notice_at"), _change(change).planned_notice_business_days)


def gives_full_notice(window: Window, notice_at: datetime, *, change: ChangePolicy | None = None) -> bool:
    """True when a notice sent at ``notice_at`` comes the full notice period before ``window`` opens.

    Source: DOMAIN.md §2 (at least 10 business days before; a window opening exactly at the due
    instant has the full notice).
    """
    return notice_due(window.region, notice_at, change=change).astimezone(UTC) <= window.start.astimezone(UTC)


def planning_horizon(
    region: str,
    next_sweep: datetime,
    *,
    policy: CertificatePolicy | None = None,
    change: ChangePolicy | None = None,
) -> datetime:
    """The latest notAfter a sweep must plan now, when the next sweep runs at ``next_sweep``.

    Source: DOMAIN.md §2 (10 business days' notice) and §4 (the earliest renewal window opens at
    or after notAfter − 7 days). A certificate expiring after this instant can still be announced
    with the full notice by the next sweep: its earliest window opens at or after notAfter − 7 d,
    which is later than ``notice_due(next_sweep)``. Derived from the policy, never a fixed number
    of days (weekends and the region's holidays lengthen it). In UTC.
    """
    earliest_days = _policy(policy).renew_earliest_days_before
    due = notice_due(region, next_sweep, change=change).astimezone(UTC)
    return due + timedelta(days=earliest_days)


def _short_notice_split(
    usable: list[Window], region: str, notice_at: datetime | None, change: ChangePolicy | None
) -> tuple[list[Window], str]:
    """``usable`` starting at the earliest window with the full notice, or all of it flagged short."""
    if notice_at is None:
        return usable, ""
    full = [w for w in usable if gives_full_notice(w, notice_at, change=change)]
    if full:
        return full, ""
    due = notice_due(region, notice_at, change=change)
    days = _change(change).planned_notice_business_days
    return usable, (
        f"; short notice: announced {_utc(notice_at, 'notice_at').isoformat()}, the {days} business days of "
        f"{region} run until {due.isoformat()}, after every valid window"
    )


def plan_renewal(
    not_after: datetime,
    region: str,
    as_of: datetime,
    *,
    policy: CertificatePolicy | None = None,
    opens_after: datetime | None = None,
    notice_at: datetime | None = None,
    change: ChangePolicy | None = None,
) -> RenewalPlan:
    """Plan the renewal of a certificate expiring at ``not_after`` in ``region``, seen at ``as_of``.

    Source: DOMAIN.md §4 (3–7 days before expiry in a weekday window; emergency with
    less than 3 days left or no weekday window left; expired is an incident) and §2.
    ``opens_after``: a scheduled window must open strictly after this instant (the sweep
    passes its ``as_of``: it cannot join a window that has begun). ``notice_at``: when the
    plan is announced; the earliest window with the full notice is preferred, else the plan
    is marked ``short_notice`` (see the module docstring).
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
        usable = usable_windows(not_after, name, as_of, policy=settings, opens_after=opens_after)
        if usable:
            chosen, short = _short_notice_split(usable, name, notice_at, change)
            first, *later = chosen
            which = "earliest" if notice_at is None or short else "earliest fully announced"
            return RenewalPlan(
                status="scheduled",
                window=first,
                fallbacks=later,
                reason=(
                    f"{which} weekday window of {name} opening in [{earliest.isoformat()}, {latest.isoformat()}]"
                    f"{' after ' + _utc(opens_after, 'opens_after').isoformat() if opens_after else ''}"
                    f"; {len(later)} fallback(s){short}"
                ),
                short_notice=bool(short),
            )
        why = f"no weekday window of {name} left opening in [{earliest.isoformat()}, {latest.isoformat()}]"
    window = window_at(name, as_of) or next_window(name, as_of, allow_weekend=True)
    when = "open now" if window.contains(as_of) else "the next window, weekend included"
    reason = f"emergency change: {why}; {when}"
    if window.start.astimezone(UTC) >= not_after:
        reason += f"; that window opens after notAfter {not_after.isoformat()}: renew immediately"
    return RenewalPlan(status="emergency", window=window, fallbacks=[], reason=reason)


def sweep_plan(
    not_after: datetime,
    region: str,
    as_of: datetime,
    *,
    policy: CertificatePolicy | None = None,
    change: ChangePolicy | None = None,
) -> RenewalPlan:
    """The plan as the unattended sweep makes it at ``as_of``: announced at ``as_of``, into a window opening after it.

    Source: DOMAIN.md §2 (a plan is only as good as its execution; a notice never names a window
    that has begun; the notice period runs from the notice) and §4 (otherwise the next valid
    window). A window that has begun had its renewal run select its plans at the opening, so a
    plan into it would never be carried out; the earliest window with the full notice is taken,
    else the plan is ``short_notice``.
    """
    return plan_renewal(not_after, region, as_of, policy=policy, opens_after=as_of, notice_at=as_of, change=change)
