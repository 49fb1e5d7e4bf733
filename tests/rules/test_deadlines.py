"""Deadlines behind the Deadline Alerts: next local time (inclusive bound, DST gap and repeat),
earliest region, the window that holds a run (both sides of its open and close)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from di_ops.rules.deadlines import earliest_local_time, next_local_time, window_close

ZONES = {
    "AMER": ZoneInfo("America/New_York"),
    "APJC": ZoneInfo("Asia/Tokyo"),
    "AUS": ZoneInfo("Australia/Sydney"),
    "EMEA": ZoneInfo("Europe/Amsterdam"),
}
SIX = time(6, 0)
U = UTC


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=U)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "region", "at", "expected"),
    [
        # exactly 06:00 CET is the deadline itself (inclusive); a microsecond later it is tomorrow's
        (utc(2026, 11, 27, 5, 0), "EMEA", SIX, utc(2026, 11, 27, 5, 0)),
        (utc(2026, 11, 27, 5, 0, 0, 1), "EMEA", SIX, utc(2026, 11, 28, 5, 0)),
        (utc(2026, 11, 27, 4, 59, 59), "EMEA", SIX, utc(2026, 11, 27, 5, 0)),
        # summer time: 06:00 CEST is 04:00 UTC
        (utc(2026, 7, 1, 0, 0), "EMEA", SIX, utc(2026, 7, 1, 4, 0)),
        # Sydney in daylight time (UTC+11) in November; Tokyo never changes
        (utc(2026, 11, 26, 18, 0), "AUS", SIX, utc(2026, 11, 26, 19, 0)),
        (utc(2026, 11, 26, 19, 0, 1), "AUS", SIX, utc(2026, 11, 27, 19, 0)),
        (utc(2026, 11, 26, 20, 0), "APJC", SIX, utc(2026, 11, 26, 21, 0)),
        (utc(2026, 11, 26, 20, 0), "AMER", SIX, utc(2026, 11, 27, 11, 0)),
        # a local start given in another zone is compared as an instant
        (datetime(2026, 11, 27, 6, 0, tzinfo=ZONES["EMEA"]), "EMEA", SIX, utc(2026, 11, 27, 5, 0)),
        # DST gap in Amsterdam (2026-03-29 02:00 -> 03:00): 02:30 is read as 03:30 CEST = 01:30 UTC
        (utc(2026, 3, 29, 0, 0), "EMEA", time(2, 30), utc(2026, 3, 29, 1, 30)),
        # repeated hour (2026-10-25 02:00-03:00 twice): the first occurrence, 02:30 CEST = 00:30 UTC
        (utc(2026, 10, 25, 0, 0), "EMEA", time(2, 30), utc(2026, 10, 25, 0, 30)),
        (utc(2026, 10, 25, 0, 30, 1), "EMEA", time(2, 30), utc(2026, 10, 26, 1, 30)),
        # New York spring forward 2026-03-08: 06:00 EDT = 10:00 UTC that morning
        (utc(2026, 3, 8, 6, 0), "AMER", SIX, utc(2026, 3, 8, 10, 0)),
    ],
)
def test_next_local_time(start: datetime, region: str, at: time, expected: datetime) -> None:
    assert next_local_time(start, at, region) == expected


@pytest.mark.parametrize(
    ("start", "regions", "expected"),
    [
        # 18:00 UTC: Sydney's 06:00 (19:00 UTC) comes first
        (utc(2026, 11, 26, 18, 0), (), ("AUS", utc(2026, 11, 26, 19, 0))),
        # just after Sydney's: Tokyo's 06:00 (21:00 UTC) comes next
        (utc(2026, 11, 26, 19, 0, 1), (), ("APJC", utc(2026, 11, 26, 21, 0))),
        # after Tokyo's: Amsterdam (05:00 UTC), then New York (11:00 UTC)
        (utc(2026, 11, 26, 21, 0, 1), (), ("EMEA", utc(2026, 11, 27, 5, 0))),
        (utc(2026, 11, 27, 5, 0, 1), (), ("AMER", utc(2026, 11, 27, 11, 0))),
        # restricted to the Americas and Europe, lower-case names accepted
        (utc(2026, 11, 26, 18, 0), ("amer", "EMEA"), ("EMEA", utc(2026, 11, 27, 5, 0))),
    ],
)
def test_earliest_local_time(start: datetime, regions: tuple[str, ...], expected: tuple[str, datetime]) -> None:
    assert earliest_local_time(start, SIX, regions) == expected


def test_a_tie_goes_to_the_region_named_first() -> None:
    start = utc(2026, 11, 26, 12, 0)
    assert earliest_local_time(start, SIX, ("EMEA", "EMEA")) == ("EMEA", utc(2026, 11, 27, 5, 0))
    # 06:00 in Tokyo (UTC+9) and 07:00 in Sydney in winter (UTC+10) are the same instant
    july = utc(2026, 7, 1, 12, 0)
    assert earliest_local_time(july, SIX, ("APJC",)) == ("APJC", utc(2026, 7, 1, 21, 0))
    assert next_local_time(july, time(7, 0), "AUS") == utc(2026, 7, 1, 21, 0)


@pytest.mark.parametrize(
    ("start", "region", "expected"),
    [
        # inside the Friday window (21:00 CET opens): closes Saturday 06:00 CET = 05:00 UTC
        (utc(2026, 11, 27, 20, 0), "EMEA", utc(2026, 11, 28, 5, 0)),
        (utc(2026, 11, 28, 4, 59, 59), "EMEA", utc(2026, 11, 28, 5, 0)),
        # the close instant is not in the window: the next (Saturday's, a weekend window) counts
        (utc(2026, 11, 28, 5, 0), "EMEA", utc(2026, 11, 29, 5, 0)),
        # before Friday's window opens: Friday's window
        (utc(2026, 11, 27, 19, 59, 59), "EMEA", utc(2026, 11, 28, 5, 0)),
        # Sydney: Friday's window 21:00 AEDT = 10:00 UTC, closes Saturday 06:00 AEDT = Friday 19:00 UTC
        (utc(2026, 11, 27, 10, 0), "AUS", utc(2026, 11, 27, 19, 0)),
        # an elapsed-8-hour DST night in Amsterdam (2026-03-28 -> 29): 06:00 CEST = 04:00 UTC
        (utc(2026, 3, 28, 21, 0), "EMEA", utc(2026, 3, 29, 4, 0)),
    ],
)
def test_window_close(start: datetime, region: str, expected: datetime) -> None:
    assert window_close(region, start) == expected


@pytest.mark.parametrize(
    "call",
    [lambda: next_local_time(datetime(2026, 1, 1), SIX, "EMEA"), lambda: window_close("EMEA", datetime(2026, 1, 1))],
)
def test_naive_start_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


def test_unknown_region_refused() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        earliest_local_time(utc(2026, 1, 1), SIX, ("MARS",))


INSTANTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(U))
TIMES = st.times()


@settings(max_examples=300, deadline=None)
@given(start=INSTANTS, at=TIMES, region=st.sampled_from(sorted(ZONES)))
def test_next_local_time_properties(start: datetime, at: time, region: str) -> None:
    found = next_local_time(start, at, region)
    assert found >= start
    # within a day (plus at most a DST shift) of the start
    assert found - start < timedelta(days=1, hours=2)
    local = found.astimezone(ZONES[region])
    # it reads `at` on the wall clock, unless `at` falls into a DST gap (then it is shifted forward)
    shift = datetime.combine(local.date(), local.time()) - datetime.combine(local.date(), at)
    assert timedelta(0) <= shift <= timedelta(hours=1)
    # nothing earlier qualifies: the same wall time a local day earlier lies before start
    previous = datetime.combine(local.date() - timedelta(days=1), at).replace(tzinfo=ZONES[region], fold=0)
    if shift == timedelta(0):
        assert previous.astimezone(U) < start
    # idempotent: searching from the result finds the result
    assert next_local_time(found, at, region) == found


@settings(max_examples=200, deadline=None)
@given(start=INSTANTS, at=TIMES)
def test_earliest_is_the_minimum_over_regions(start: datetime, at: time) -> None:
    region, instant = earliest_local_time(start, at)
    assert instant == min(next_local_time(start, at, r) for r in ZONES)
    assert instant == next_local_time(start, at, region)


@settings(max_examples=200, deadline=None)
@given(start=INSTANTS, region=st.sampled_from(sorted(ZONES)))
def test_window_close_is_after_start_and_a_local_six(start: datetime, region: str) -> None:
    close = window_close(region, start)
    assert start < close <= start + timedelta(hours=34)
    assert close.astimezone(ZONES[region]).time() == SIX
