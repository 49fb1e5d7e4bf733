"""Change notices and reschedules.

Source: DOMAIN.md §2 (and §1 for the windows, §0 for elapsed durations, §7 for
business days). Numbers come from settings ``policy.change``:
``planned_notice_business_days`` (10, disruptive planned maintenance),
``upgrade_notice_business_days`` (10; default: the stricter business-day
reading also for upgrades), ``partner_answer_days`` (3 calendar days),
``max_reschedules`` (1), ``reschedule_min_days_before`` (7, elapsed; exactly 7
days is in time) and ``reschedule_allow_weekend`` (a rescheduled date may be a
weekend window).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from di_ops.core.settings import ChangePolicy, PolicyConfig
from di_ops.core.settings import policy as load_policy
from di_ops.rules.calendar import add_business_days
from di_ops.rules.common import normalise_region, require_aware
from di_ops.rules.maintenance import Window, next_window, window_at


def _change_policy(policy: PolicyConfig | None) -> ChangePolicy:
    return (policy if policy is not None else load_policy()).change


def _first_weekday_window_after_notice(region: str, notice_at: datetime, business_days: int) -> Window:
    require_aware(notice_at, "notice_at")
    name = normalise_region(region)
    return next_window(name, add_business_days(name, notice_at, business_days), allow_weekend=False)


def earliest_change_window(region: str, notice_at: datetime, *, policy: PolicyConfig | None = None) -> Window:
    """The first weekday window starting at or after ``notice_at`` + N business days.

    Source: DOMAIN.md §2 ("written notice at least 10 business days before"),
    N = ``policy.change.planned_notice_business_days``; business days per
    DOMAIN.md §7, weekday windows per DOMAIN.md §1.
    """
    return _first_weekday_window_after_notice(region, notice_at, _change_policy(policy).planned_notice_business_days)


def upgrade_change_window(region: str, notice_at: datetime, *, policy: PolicyConfig | None = None) -> Window:
    """The first weekday window an upgrade announced at ``notice_at`` may use.

    Source: DOMAIN.md §2 ("Upgrade notice: sent 10 days before the change
    window"; default: the stricter business-day reading), N =
    ``policy.change.upgrade_notice_business_days``. Weekday windows only
    (DOMAIN.md §1: upgrades are customer-application changes).
    """
    return _first_weekday_window_after_notice(region, notice_at, _change_policy(policy).upgrade_notice_business_days)


def partner_answer_deadline(notice_at: datetime, *, policy: PolicyConfig | None = None) -> datetime:
    """When the partner should have answered a conflict: ``notice_at`` + 3 calendar days, elapsed.

    Source: DOMAIN.md §2 ("within 2-3 days"; default deadline notice + 3
    calendar days) and §0 (durations are elapsed). Returned in ``notice_at``'s zone.
    """
    require_aware(notice_at, "notice_at")
    days = _change_policy(policy).partner_answer_days
    return (notice_at.astimezone(UTC) + timedelta(days=days)).astimezone(notice_at.tzinfo)


def reschedule_refusal(
    scheduled_start: datetime,
    requested_at: datetime,
    reschedules_so_far: int,
    emergency: bool,
    *,
    policy: PolicyConfig | None = None,
) -> str | None:
    """Why a reschedule request must be refused, or None when it is allowed.

    Source: DOMAIN.md §2 (one reschedule, no later than 7 days before the
    scheduled upgrade - exactly 7 days is in time; emergency changes cannot be
    rescheduled) and §0 (the 7 days are elapsed time, compared as instants).
    """
    require_aware(scheduled_start, "scheduled_start")
    require_aware(requested_at, "requested_at")
    if isinstance(reschedules_so_far, bool) or not isinstance(reschedules_so_far, int) or reschedules_so_far < 0:
        raise ValueError(f"reschedules_so_far must be an int >= 0, got {reschedules_so_far!r}")
    rules = _change_policy(policy)
    if emergency:
        return "emergency changes cannot be rescheduled (DOMAIN.md §2)"
    if reschedules_so_far >= rules.max_reschedules:
        return (
            f"already rescheduled {reschedules_so_far} time(s); "
            f"at most {rules.max_reschedules} reschedule(s) allowed (DOMAIN.md §2)"
        )
    notice = scheduled_start.astimezone(UTC) - requested_at.astimezone(UTC)
    minimum = timedelta(days=rules.reschedule_min_days_before)
    if notice < minimum:
        return (
            f"requested {notice} before the scheduled start {scheduled_start.isoformat()}; "
            f"a reschedule must be asked at least {rules.reschedule_min_days_before} days before (DOMAIN.md §2)"
        )
    return None


def may_reschedule(
    scheduled_start: datetime,
    requested_at: datetime,
    reschedules_so_far: int,
    emergency: bool,
    *,
    policy: PolicyConfig | None = None,
) -> bool:
    """True when the partner may still reschedule the change.

    Source: DOMAIN.md §2 (see :func:`reschedule_refusal` for the reasons).
    """
    return reschedule_refusal(scheduled_start, requested_at, reschedules_so_far, emergency, policy=policy) is None


def reschedule_window(region: str, new_start: datetime, *, policy: PolicyConfig | None = None) -> Window | None:
    """The operator window of ``region`` a rescheduled change may move to at ``new_start``, or None.

    Source: DOMAIN.md §2 (the new date must be an available operator window of
    the cluster's region - weekday or weekend per
    ``policy.change.reschedule_allow_weekend``). ``new_start`` must lie inside
    the window (start inclusive, end exclusive; DOMAIN.md §0).
    """
    window = window_at(region, new_start)
    if window is None:
        return None
    if window.weekend and not _change_policy(policy).reschedule_allow_weekend:
        return None
    return window
