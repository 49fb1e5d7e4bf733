"""Certificate renewal planning: DOMAIN.md §4 (3–7 days before expiry, weekday window, inclusive bounds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import CertificatePolicy
from di_ops.rules.certificates import (
    RenewalPlan,
    gives_full_notice,
    notice_due,
    plan_renewal,
    planning_horizon,
    renewal_range,
    sweep_plan,
    usable_windows,
)
from di_ops.rules.maintenance import Window, next_window, window_at, windows_between

ZONES = {
    "AMER": ZoneInfo("America/New_York"),
    "APJC": ZoneInfo("Asia/Tokyo"),
    "AUS": ZoneInfo("Australia/Sydney"),
    "EMEA": ZoneInfo("Europe/Amsterdam"),
}
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)

# Anchors: an ordinary week, and the weeks whose renewal ranges cross each region's DST nights
# (EMEA 2025-03-30 / 2025-10-26, AMER 2025-03-09 / 2025-11-02, AUS 2025-04-06 / 2025-10-05).
ANCHORS = [
    ("EMEA", datetime(2025, 6, 2)),
    ("EMEA", datetime(2025, 3, 27)),
    ("EMEA", datetime(2025, 10, 23)),
    ("AMER", datetime(2025, 6, 2)),
    ("AMER", datetime(2025, 3, 6)),
    ("AMER", datetime(2025, 10, 30)),
    ("AUS", datetime(2025, 6, 2)),
    ("AUS", datetime(2025, 4, 3)),
    ("AUS", datetime(2025, 10, 2)),
    ("APJC", datetime(2025, 6, 2)),
    ("APJC", datetime(2025, 12, 31)),
]


def _window(region: str, local: datetime) -> Window:
    """The first weekday window of ``region`` opening at or after local ``local``."""
    return next_window(region, local.replace(tzinfo=ZONES[region]))


def _planned(plan: RenewalPlan) -> list[Window]:
    return ([plan.window] if plan.window is not None else []) + plan.fallbacks


def _is_valid(window: Window, region: str, not_after: datetime) -> bool:
    """Independent reading of DOMAIN.md §4: a Mon-Fri 21:00-local opening in [nA - 7 d, nA - 3 d]."""
    local = window.start.astimezone(ZONES[region])
    not_after = not_after.astimezone(UTC)
    in_range = not_after - 7 * DAY <= window.start <= not_after - 3 * DAY
    return window.region == region and not window.weekend and local.weekday() < 5 and local.hour == 21 and in_range


# --- boundaries of [notAfter - 7 d, notAfter - 3 d] ---------------------------------------


@pytest.mark.parametrize(("region", "anchor"), ANCHORS)
@pytest.mark.parametrize(
    ("days_before", "nudge", "planned"),
    [
        (7, timedelta(0), True),  # opening exactly at notAfter - 7 d: valid
        (7, SECOND, False),  # opening 1 s before notAfter - 7 d: outside
        (7, -SECOND, True),
        (3, timedelta(0), True),  # opening exactly at notAfter - 3 d: valid
        (3, -SECOND, False),  # opening 1 s after notAfter - 3 d: outside
        (3, SECOND, True),
    ],
)
def test_range_bounds_are_inclusive_and_elapsed(
    region: str, anchor: datetime, days_before: int, nudge: timedelta, planned: bool
) -> None:
    window = _window(region, anchor)
    # in UTC: Python adds to an aware local datetime in wall-clock time, DOMAIN.md §0 wants elapsed time
    not_after = window.start.astimezone(UTC) + days_before * DAY + nudge
    plan = plan_renewal(not_after, region, as_of=window.start - 30 * DAY)
    assert plan.status == "scheduled"
    assert (window in _planned(plan)) is planned
    assert all(_is_valid(w, region, not_after) for w in _planned(plan))
    if planned and days_before == 7 and nudge == timedelta(0):
        assert plan.window == window


def test_range_is_elapsed_time_across_a_dst_night() -> None:
    # Thursday 2025-03-27 21:00 CET; notAfter 7 days later is 22:00 CEST (wall clock moved).
    window = _window("EMEA", datetime(2025, 3, 27))
    not_after = datetime(2025, 4, 3, 22, tzinfo=ZONES["EMEA"])
    assert renewal_range(not_after)[0] == window.start
    assert plan_renewal(not_after, "EMEA", datetime(2025, 3, 1, tzinfo=UTC)).window == window
    # (a wall-clock reading would put the range start at Thursday 22:00 CET and miss this window)
    later = plan_renewal(not_after + SECOND, "EMEA", datetime(2025, 3, 1, tzinfo=UTC))
    assert window not in _planned(later)


def test_renewal_range_numbers_come_from_the_policy() -> None:
    not_after = datetime(2025, 6, 20, 12, tzinfo=UTC)
    assert renewal_range(not_after) == (not_after - 7 * DAY, not_after - 3 * DAY)
    narrow = CertificatePolicy(renew_earliest_days_before=5, renew_latest_days_before=4)
    assert renewal_range(not_after, policy=narrow) == (not_after - 5 * DAY, not_after - 4 * DAY)


# --- statuses --------------------------------------------------------------------------------

EMEA = ZONES["EMEA"]
# notAfter Wednesday 2025-06-11 22:00: valid openings Thu 5th and Fri 6th (weekday), Sat 7th and
# Sun 8th (weekend); the range ends Sunday 2025-06-08 22:00, 3 days before.
NOT_AFTER = datetime(2025, 6, 11, 22, tzinfo=EMEA)
THU, FRI, SAT, SUN = (datetime(2025, 6, d, 21, tzinfo=EMEA) for d in (5, 6, 7, 8))


@pytest.mark.parametrize(
    ("as_of", "status", "window_start", "fallbacks"),
    [
        (datetime(2025, 5, 1, tzinfo=EMEA), "scheduled", THU, [FRI]),
        (THU, "scheduled", THU, [FRI]),  # opens exactly at as_of
        (THU + SECOND, "scheduled", THU, [FRI]),  # open at as_of: still usable
        (FRI - SECOND, "scheduled", FRI, []),  # Thursday's window closed at 06:00
        (FRI + timedelta(hours=8, minutes=59), "scheduled", FRI, []),  # Sat 05:59, Friday's still open
        (FRI + timedelta(hours=9), "emergency", SAT, []),  # Sat 06:00: only weekend windows left
        (SAT + timedelta(hours=1), "emergency", SAT, []),  # open at as_of, weekend included
        (SUN + timedelta(hours=1), "emergency", SUN, []),  # exactly 3 days left: not yet "less than 3"
        (SUN + timedelta(hours=1, seconds=1), "emergency", SUN, []),  # just under 3 days left
        (NOT_AFTER - SECOND, "emergency", datetime(2025, 6, 11, 21, tzinfo=EMEA), []),
        (NOT_AFTER, "expired", None, []),  # exactly at notAfter: expired
        (NOT_AFTER + DAY, "expired", None, []),
    ],
)
def test_statuses_around_the_range(
    as_of: datetime, status: str, window_start: datetime | None, fallbacks: list[datetime]
) -> None:
    plan = plan_renewal(NOT_AFTER, "emea", as_of)
    assert plan.status == status
    assert (plan.window.start if plan.window else None) == window_start
    assert [w.start for w in plan.fallbacks] == fallbacks
    assert plan.reason


@pytest.mark.parametrize(
    ("left", "status", "why"),
    [
        (3 * DAY, "scheduled", "earliest weekday window"),
        (3 * DAY - SECOND, "emergency", "less than 3 days left"),
    ],
)
def test_three_days_left_exactly_versus_just_under(left: timedelta, status: str, why: str) -> None:
    # notAfter Monday 2025-06-16 21:00: the Thursday 12th 21:00 window opens exactly 4 days before.
    not_after = datetime(2025, 6, 16, 21, tzinfo=EMEA)
    as_of = datetime(2025, 6, 13, 21, tzinfo=EMEA) + (3 * DAY - left)  # Friday's window opens at 3 d
    plan = plan_renewal(not_after, "EMEA", as_of)
    assert plan.status == status and why in plan.reason
    assert plan.window == window_at("EMEA", as_of)  # the Friday window open at as_of either way


def test_less_than_three_days_left_is_an_emergency_even_inside_a_valid_window() -> None:
    not_after = datetime(2025, 6, 16, 21, tzinfo=EMEA)
    as_of = datetime(2025, 6, 13, 21, 30, tzinfo=EMEA)
    assert usable_windows(not_after, "EMEA", as_of)[-1].start == datetime(2025, 6, 13, 21, tzinfo=EMEA)
    assert plan_renewal(not_after, "EMEA", as_of).status == "emergency"


def test_emergency_between_windows_takes_the_next_one_of_any_day() -> None:
    as_of = datetime(2025, 6, 7, 12, tzinfo=EMEA)  # Saturday noon, outside any window
    plan = plan_renewal(NOT_AFTER, "EMEA", as_of)
    assert plan.window == next_window("EMEA", as_of, allow_weekend=True)
    assert plan.window is not None and plan.window.weekend and "next window" in plan.reason


def test_an_emergency_whose_next_window_is_after_expiry_says_renew_immediately() -> None:
    as_of = datetime(2025, 6, 11, 12, tzinfo=EMEA)  # 10 h left; the 21:00 window opens before 22:00 expiry
    assert "renew immediately" not in plan_renewal(NOT_AFTER, "EMEA", as_of).reason
    not_after = datetime(2025, 6, 11, 20, tzinfo=EMEA)  # expires before the 21:00 window opens
    plan = plan_renewal(not_after, "EMEA", as_of)
    assert plan.status == "emergency" and "renew immediately" in plan.reason


def test_a_weekend_only_range_is_an_emergency() -> None:
    # a policy whose range is one day: notAfter Tuesday 22:00 -> openings in [Sat 22:00 - 1 d, Sat 22:00]
    narrow = CertificatePolicy(renew_earliest_days_before=4, renew_latest_days_before=3)
    not_after = datetime(2025, 6, 10, 22, tzinfo=EMEA)
    as_of = datetime(2025, 6, 6, 12, tzinfo=EMEA)
    assert windows_between("EMEA", *renewal_range(not_after, policy=narrow), allow_weekend=True)[0].weekend
    plan = plan_renewal(not_after, "EMEA", as_of, policy=narrow)
    assert (plan.status, plan.fallbacks) == ("emergency", [])
    assert plan.window == next_window("EMEA", as_of, allow_weekend=True)
    assert "no weekday window" in plan.reason


@pytest.mark.parametrize(
    ("region", "local_as_of", "elapsed"),
    [
        ("EMEA", datetime(2025, 3, 30, 1, 30), timedelta(hours=8)),  # spring forward
        ("EMEA", datetime(2025, 10, 26, 1, 30), timedelta(hours=10)),  # fall back
        ("AMER", datetime(2025, 3, 9, 1, 30), timedelta(hours=8)),
        ("AMER", datetime(2025, 11, 2, 1, 30), timedelta(hours=10)),
        ("AUS", datetime(2025, 4, 6, 1, 30), timedelta(hours=10)),  # southern autumn: fall back
        ("AUS", datetime(2025, 10, 5, 1, 30), timedelta(hours=8)),
    ],
)
def test_emergency_on_a_dst_night_uses_the_open_window(region: str, local_as_of: datetime, elapsed: timedelta) -> None:
    as_of = local_as_of.replace(tzinfo=ZONES[region])
    plan = plan_renewal(as_of.astimezone(UTC) + DAY, region, as_of)
    assert plan.status == "emergency" and plan.window is not None
    assert plan.window.weekend and plan.window.contains(as_of)
    assert plan.window.end.astimezone(UTC) - plan.window.start.astimezone(UTC) == elapsed


@pytest.mark.parametrize("region", ["AMER", "APJC", "AUS", "EMEA", "emea", " Aus "])
def test_every_region_plans_in_its_own_windows(region: str) -> None:
    name = region.strip().upper()
    not_after = datetime(2025, 6, 20, 12, tzinfo=UTC)
    plan = plan_renewal(not_after, region, datetime(2025, 6, 1, tzinfo=UTC))
    assert plan.status == "scheduled" and plan.window is not None
    assert all(_is_valid(w, name, not_after) for w in _planned(plan))


@pytest.mark.parametrize(
    ("not_after", "region", "as_of", "message"),
    [
        (datetime(2025, 6, 20), "EMEA", datetime(2025, 6, 1, tzinfo=UTC), "not_after"),
        (datetime(2025, 6, 20, tzinfo=UTC), "EMEA", datetime(2025, 6, 1), "as_of"),
        (datetime(2025, 6, 20, tzinfo=UTC), "MARS", datetime(2025, 6, 1, tzinfo=UTC), "AMER, APJC, AUS, EMEA"),
        (datetime(2025, 6, 20, tzinfo=UTC), "MARS", datetime(2025, 7, 1, tzinfo=UTC), "unknown region"),
    ],
)
def test_bad_inputs_raise(not_after: datetime, region: str, as_of: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_renewal(not_after, region, as_of)


def test_the_contract_constructor_still_works() -> None:
    plan = RenewalPlan(status="expired", window=None, fallbacks=[])
    assert plan.reason == "" and plan.model_config.get("frozen")


# --- properties ------------------------------------------------------------------------------

REGIONS = st.sampled_from(sorted(ZONES))
NOT_AFTERS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
LEADS = st.timedeltas(min_value=-DAY, max_value=12 * DAY)


@settings(max_examples=200, deadline=None)
@given(not_after=NOT_AFTERS, region=REGIONS, lead=LEADS)
@example(not_after=datetime(2025, 6, 12, 19, tzinfo=UTC), region="EMEA", lead=10 * DAY)  # window at nA - 7 d
@example(not_after=datetime(2025, 6, 8, 19, tzinfo=UTC), region="EMEA", lead=10 * DAY)  # window at nA - 3 d
@example(not_after=datetime(2025, 4, 3, 20, tzinfo=UTC), region="EMEA", lead=10 * DAY)  # across EU DST
@example(not_after=datetime(2025, 6, 11, 20, tzinfo=UTC), region="EMEA", lead=4 * DAY)  # weekend-only rest
@example(not_after=datetime(2025, 6, 11, 20, tzinfo=UTC), region="EMEA", lead=3 * DAY)  # exactly 3 d left
@example(not_after=datetime(2025, 6, 11, 20, tzinfo=UTC), region="EMEA", lead=timedelta(0))  # expired
def test_a_plan_uses_only_valid_windows_and_all_of_them(not_after: datetime, region: str, lead: timedelta) -> None:
    as_of = not_after - lead
    plan = plan_renewal(not_after, region, as_of)
    earliest, latest = not_after - 7 * DAY, not_after - 3 * DAY
    usable = [w for w in windows_between(region, earliest, latest) if w.start >= as_of or w.contains(as_of)]
    if as_of >= not_after:
        assert (plan.status, plan.window, plan.fallbacks) == ("expired", None, [])
    elif lead >= 3 * DAY and usable:
        assert plan.status == "scheduled"
        assert _planned(plan) == usable  # the earliest first, then every later valid window
        starts = [w.start for w in _planned(plan)]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        for window in _planned(plan):
            assert _is_valid(window, region, not_after)
            assert window.start >= as_of or window.contains(as_of)
    else:
        assert plan.status == "emergency" and plan.fallbacks == [] and plan.window is not None
        assert plan.window == (window_at(region, as_of) or next_window(region, as_of, allow_weekend=True))
        assert plan.window.contains(as_of) or plan.window.start >= as_of


@settings(max_examples=200, deadline=None)
@given(not_after=NOT_AFTERS, region=REGIONS, lead=st.timedeltas(min_value=3 * DAY, max_value=40 * DAY))
@example(not_after=datetime(2025, 6, 11, 20, tzinfo=UTC), region="EMEA", lead=7 * DAY)
def test_seen_early_enough_a_renewal_is_always_scheduled(not_after: datetime, region: str, lead: timedelta) -> None:
    # At least 7 days ahead, the 4-day range always holds weekday openings (DOMAIN.md §4 default).
    plan = plan_renewal(not_after, region, not_after - max(lead, 7 * DAY))
    assert plan.status == "scheduled" and plan.window is not None and not plan.window.weekend


# --- the unattended sweep: only windows opening after as_of (DOMAIN.md §2, §4) ---------------

MICRO = timedelta(microseconds=1)
NEW_YORK = ZONES["AMER"]


@pytest.mark.parametrize(("region", "anchor"), ANCHORS)
@pytest.mark.parametrize(
    ("offset", "takes_first"),
    [
        (-timedelta(hours=1), True),
        (-MICRO, True),  # 1 µs before the opening: that window may still be planned
        (timedelta(0), False),  # at the opening: its renewal run has started, take the next one
        (MICRO, False),
        (timedelta(hours=4), False),  # open: the run selected its plans at the opening
    ],
)
def test_the_sweep_plans_only_windows_opening_after_as_of(
    region: str, anchor: datetime, offset: timedelta, takes_first: bool
) -> None:
    first = _window(region, anchor)
    not_after = first.start.astimezone(UTC) + 7 * DAY  # ``first`` is the earliest valid window
    as_of = first.start.astimezone(UTC) + offset
    manual = plan_renewal(not_after, region, as_of)
    swept = sweep_plan(not_after, region, as_of)
    assert manual.window == first  # a caller that carries it out may still use the open window
    assert swept.status == "scheduled" and swept.window is not None
    if takes_first:
        assert swept.window == first
    else:
        assert swept.window == manual.fallbacks[0] and swept.fallbacks == manual.fallbacks[1:]
        assert "after " + as_of.isoformat() in swept.reason
    assert all(w.start.astimezone(UTC) > as_of for w in _planned(swept))


@pytest.mark.parametrize(
    ("as_of", "monday_window"),
    [
        # 05:00 UTC is 00:00 EST / 01:00 EDT: inside the AMER window that opened at 21:00 ET.
        (datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2026, 11, 30, 21, tzinfo=NEW_YORK)),
        (datetime(2026, 7, 7, 5, tzinfo=UTC), datetime(2026, 7, 6, 21, tzinfo=NEW_YORK)),
    ],
)
def test_the_real_amer_case_the_0500_utc_sweep_takes_the_next_window(as_of: datetime, monday_window: datetime) -> None:
    open_now = window_at("AMER", as_of)
    assert open_now is not None and open_now.start == monday_window
    not_after = monday_window.astimezone(UTC) + 7 * DAY
    assert plan_renewal(not_after, "AMER", as_of).window == open_now  # the defect: never carried out
    plan = sweep_plan(not_after, "AMER", as_of)
    assert plan.window is not None and plan.window.start == monday_window + DAY  # Tuesday 21:00 ET
    assert plan.window.start.astimezone(UTC) > as_of and not plan.window.weekend


def test_when_only_the_open_window_is_left_the_sweep_plans_an_emergency() -> None:
    as_of = FRI + timedelta(hours=1)  # Friday's window (the last weekday one) is open; 4 d 20 h left
    assert plan_renewal(NOT_AFTER, "EMEA", as_of).status == "scheduled"
    plan = sweep_plan(NOT_AFTER, "EMEA", as_of)
    assert plan.status == "emergency" and "no weekday window" in plan.reason
    assert plan.window is not None and plan.window.contains(as_of) and not plan.short_notice


# --- notice: 10 business days before the window (DOMAIN.md §2, §7) ----------------------------

# Friday 2025-05-23 21:00 CEST + 10 business days = Friday 2025-06-06 21:00 = the FRI window.
NOTICE_FULL_FOR_FRI = datetime(2025, 5, 23, 21, tzinfo=EMEA)


@pytest.mark.parametrize(
    ("notice_at", "full"),
    [
        (NOTICE_FULL_FOR_FRI - MICRO, True),
        (NOTICE_FULL_FOR_FRI, True),  # due exactly at the opening: the full notice
        (NOTICE_FULL_FOR_FRI + MICRO, False),
    ],
)
def test_full_notice_boundary(notice_at: datetime, full: bool) -> None:
    friday = window_at("EMEA", FRI)
    assert friday is not None
    assert notice_due("EMEA", NOTICE_FULL_FOR_FRI) == FRI
    assert gives_full_notice(friday, notice_at) is full


@pytest.mark.parametrize(
    ("notice_at", "window", "fallbacks", "short"),
    [
        (NOTICE_FULL_FOR_FRI - 2 * DAY, THU, [FRI], False),  # Wed 21:00: both windows fully announced
        (NOTICE_FULL_FOR_FRI - MICRO, FRI, [], False),  # only Friday's: it is taken, Thursday's dropped
        (NOTICE_FULL_FOR_FRI, FRI, [], False),
        (NOTICE_FULL_FOR_FRI + MICRO, THU, [FRI], True),  # none: the earliest, flagged short notice
    ],
)
def test_a_plan_prefers_the_fully_announced_window_else_says_short_notice(
    notice_at: datetime, window: datetime, fallbacks: list[datetime], short: bool
) -> None:
    plan = plan_renewal(NOT_AFTER, "EMEA", notice_at, opens_after=notice_at, notice_at=notice_at)
    assert plan.status == "scheduled" and plan.window is not None
    assert (plan.window.start, [w.start for w in plan.fallbacks], plan.short_notice) == (window, fallbacks, short)
    assert ("short notice" in plan.reason) is short
    assert ("fully announced" in plan.reason) is not short


def test_without_notice_at_nothing_is_flagged() -> None:
    late = NOTICE_FULL_FOR_FRI + 5 * DAY
    assert plan_renewal(NOT_AFTER, "EMEA", late).short_notice is False
    assert sweep_plan(NOT_AFTER, "EMEA", late).short_notice is True


def test_the_notice_period_and_the_horizon_come_from_the_policy() -> None:
    from di_ops.core.settings import policy

    change = policy().change.model_copy(update={"planned_notice_business_days": 5})
    assert notice_due("EMEA", NOTICE_FULL_FOR_FRI, change=change) == datetime(2025, 5, 30, 21, tzinfo=EMEA)
    narrow = CertificatePolicy(renew_earliest_days_before=5, renew_latest_days_before=3)
    due = notice_due("EMEA", NOTICE_FULL_FOR_FRI)
    assert planning_horizon("EMEA", NOTICE_FULL_FOR_FRI) == due + 7 * DAY
    assert planning_horizon("EMEA", NOTICE_FULL_FOR_FRI, policy=narrow) == due + 5 * DAY
