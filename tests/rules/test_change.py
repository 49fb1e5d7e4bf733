"""Change notices and reschedules (DOMAIN.md §2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core import settings as di_settings
from di_ops.rules.calendar import add_business_days
from di_ops.rules.change import (
    earliest_change_window,
    may_reschedule,
    partner_answer_deadline,
    reschedule_refusal,
    reschedule_window,
    upgrade_change_window,
)
from di_ops.rules.maintenance import next_window, window_opening_on

AMS = ZoneInfo("Europe/Amsterdam")
NY = ZoneInfo("America/New_York")
US = timedelta(microseconds=1)
FAST = settings(max_examples=200, deadline=None)


def policy_with(**change: object) -> di_settings.PolicyConfig:
    base = di_settings.policy()
    return base.model_copy(update={"change": base.change.model_copy(update=change)})


# --- notice windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notice_at", "opens_on"),
    [
        # Monday 2025-01-06 09:00 + 10 business days = Monday 2025-01-20 09:00 -> that evening's window
        (datetime(2025, 1, 6, 9, tzinfo=AMS), date(2025, 1, 20)),
        # exactly 21:00 + 10 business days = 21:00 two weeks later: the window opening then counts
        (datetime(2025, 1, 6, 21, tzinfo=AMS), date(2025, 1, 20)),
        (datetime(2025, 1, 6, 21, tzinfo=AMS) + US, date(2025, 1, 21)),
        # Friday 22:00 -> due Friday 22:00 two weeks later; the next weekday window is Monday's
        (datetime(2025, 1, 3, 22, tzinfo=AMS), date(2025, 1, 20)),
        # Saturday -> counting starts Monday 00:00, due Saturday 00:00 after two weeks -> Monday
        (datetime(2025, 1, 4, 10, tzinfo=AMS), date(2025, 1, 20)),
        (datetime(2025, 12, 22, 9, tzinfo=AMS), date(2026, 1, 5)),  # across the year end
    ],
)
def test_earliest_change_window(notice_at: datetime, opens_on: date) -> None:
    window = earliest_change_window("EMEA", notice_at)
    assert window == window_opening_on("EMEA", opens_on)
    assert not window.weekend
    assert upgrade_change_window("EMEA", notice_at) == window  # default: same 10 business days


def test_notice_numbers_come_from_policy() -> None:
    notice = datetime(2025, 1, 6, 9, tzinfo=AMS)
    assert earliest_change_window("EMEA", notice, policy=policy_with(planned_notice_business_days=1)).opens_on == (
        date(2025, 1, 7)
    )
    assert upgrade_change_window("EMEA", notice, policy=policy_with(upgrade_notice_business_days=0)).opens_on == (
        date(2025, 1, 6)
    )


def test_change_window_errors() -> None:
    with pytest.raises(ValueError, match="notice_at must be timezone-aware"):
        earliest_change_window("EMEA", datetime(2025, 1, 6, 9))
    with pytest.raises(ValueError, match=r"unknown region 'Mars'; known regions: AMER, APJC, AUS, EMEA"):
        upgrade_change_window("Mars", datetime(2025, 1, 6, 9, tzinfo=UTC))


@FAST
@given(
    region=st.sampled_from(["AMER", "APJC", "AUS", "EMEA"]),
    notice_at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)),
)
@example(region="EMEA", notice_at=datetime(2025, 3, 14, 20, tzinfo=UTC))
@example(region="AMER", notice_at=datetime(2025, 10, 20, 12, tzinfo=UTC))
def test_change_window_respects_notice(region: str, notice_at: datetime) -> None:
    window = earliest_change_window(region, notice_at)
    due = add_business_days(region, notice_at, di_settings.policy().change.planned_notice_business_days)
    assert not window.weekend
    assert window.start.astimezone(UTC) >= due.astimezone(UTC)
    assert next_window(region, due) == window  # and it is the first such window


# --- partner answer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notice_at", "deadline_utc"),
    [
        (datetime(2025, 1, 6, 9, tzinfo=AMS), datetime(2025, 1, 9, 8, tzinfo=UTC)),
        # elapsed across the EMEA DST start: 72 h later is 10:00 CEST, not 09:00
        (datetime(2025, 3, 28, 9, tzinfo=AMS), datetime(2025, 3, 31, 8, tzinfo=UTC)),
        (datetime(2025, 12, 30, 12, tzinfo=UTC), datetime(2026, 1, 2, 12, tzinfo=UTC)),
    ],
)
def test_partner_answer_deadline(notice_at: datetime, deadline_utc: datetime) -> None:
    deadline = partner_answer_deadline(notice_at)
    assert deadline == deadline_utc
    assert deadline.tzinfo is notice_at.tzinfo
    assert partner_answer_deadline(notice_at, policy=policy_with(partner_answer_days=2)) == deadline_utc - timedelta(
        days=1
    )


def test_partner_answer_deadline_naive() -> None:
    with pytest.raises(ValueError, match="notice_at must be timezone-aware"):
        partner_answer_deadline(datetime(2025, 1, 6, 9))


# --- reschedules ------------------------------------------------------------------------------

SCHEDULED = datetime(2025, 2, 3, 21, tzinfo=AMS)


@pytest.mark.parametrize(
    ("requested_at", "so_far", "emergency", "allowed", "reason"),
    [
        pytest.param(SCHEDULED - timedelta(days=8), 0, False, True, None, id="8-days-before"),
        pytest.param(SCHEDULED - timedelta(days=7), 0, False, True, None, id="exactly-7-days-in-time"),
        pytest.param(SCHEDULED - timedelta(days=7) + US, 0, False, False, "at least 7 days", id="just-under-7"),
        pytest.param(SCHEDULED - timedelta(days=1), 0, False, False, "at least 7 days", id="1-day-before"),
        pytest.param(SCHEDULED + timedelta(hours=1), 0, False, False, "at least 7 days", id="after-start"),
        pytest.param(SCHEDULED - timedelta(days=30), 1, False, False, "already rescheduled 1", id="second-one"),
        pytest.param(SCHEDULED - timedelta(days=30), 0, True, False, "emergency", id="emergency"),
        pytest.param(SCHEDULED - timedelta(days=1), 1, True, False, "emergency", id="emergency-first-reason"),
    ],
)
def test_reschedule(requested_at: datetime, so_far: int, emergency: bool, allowed: bool, reason: str | None) -> None:
    assert may_reschedule(SCHEDULED, requested_at, so_far, emergency) is allowed
    refusal = reschedule_refusal(SCHEDULED, requested_at, so_far, emergency)
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None and reason in refusal


@pytest.mark.parametrize(
    ("requested_at", "allowed"),
    [
        # EMEA DST start on 2025-03-30: 7 wall-clock days before is only 6 d 23 h elapsed
        (datetime(2025, 3, 27, 21, tzinfo=AMS), False),
        (datetime(2025, 3, 27, 20, tzinfo=AMS), True),
        (datetime(2025, 3, 27, 19, tzinfo=UTC), True),  # exactly 7 x 24 h before, stated in UTC
        (datetime(2025, 3, 27, 19, tzinfo=UTC) + US, False),
    ],
)
def test_reschedule_seven_days_are_elapsed(requested_at: datetime, allowed: bool) -> None:
    scheduled = datetime(2025, 4, 3, 21, tzinfo=AMS)  # 19:00 UTC
    assert may_reschedule(scheduled, requested_at, 0, False) is allowed


def test_reschedule_numbers_come_from_policy() -> None:
    requested = SCHEDULED - timedelta(days=30)
    assert may_reschedule(SCHEDULED, requested, 1, False, policy=policy_with(max_reschedules=2))
    assert not may_reschedule(SCHEDULED, requested, 0, False, policy=policy_with(max_reschedules=0))
    assert not may_reschedule(SCHEDULED, requested, 0, False, policy=policy_with(reschedule_min_days_before=31))


@pytest.mark.parametrize("so_far", [-1, 1.0, True, "0"])
def test_reschedule_count_validated(so_far: object) -> None:
    with pytest.raises(ValueError, match="reschedules_so_far must be an int >= 0"):
        may_reschedule(SCHEDULED, SCHEDULED - timedelta(days=9), so_far, False)  # type: ignore[arg-type]


def test_reschedule_naive_rejected() -> None:
    with pytest.raises(ValueError, match="scheduled_start must be timezone-aware"):
        may_reschedule(datetime(2025, 2, 3, 21), SCHEDULED, 0, False)
    with pytest.raises(ValueError, match="requested_at must be timezone-aware"):
        reschedule_refusal(SCHEDULED, datetime(2025, 1, 3, 21), 0, False)


@pytest.mark.parametrize(
    ("new_start", "allow_weekend", "opens_on"),
    [
        (datetime(2025, 2, 7, 21, tzinfo=AMS), True, date(2025, 2, 7)),  # Friday window
        (datetime(2025, 2, 8, 21, tzinfo=AMS), True, date(2025, 2, 8)),  # Saturday window: allowed by default
        (datetime(2025, 2, 8, 21, tzinfo=AMS), False, None),
        (datetime(2025, 2, 8, 12, tzinfo=AMS), True, None),  # not in any window
        (datetime(2025, 2, 9, 6, tzinfo=AMS), True, None),  # exactly a window's end: outside
    ],
)
def test_reschedule_window(new_start: datetime, allow_weekend: bool, opens_on: date | None) -> None:
    window = reschedule_window("EMEA", new_start, policy=policy_with(reschedule_allow_weekend=allow_weekend))
    assert window == (window_opening_on("EMEA", opens_on) if opens_on else None)
    if allow_weekend:
        assert reschedule_window("EMEA", new_start) == window  # the shipped setting allows weekends
