"""Maintenance windows (DOMAIN.md §1, §0): DST nights, containment bounds, weekend flag, searches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core import settings as di_settings
from di_ops.rules.maintenance import (
    Window,
    effective_region,
    next_window,
    window_at,
    window_length,
    window_opening_on,
    windows_between,
)

AMS = ZoneInfo("Europe/Amsterdam")
NY = ZoneInfo("America/New_York")
SYD = ZoneInfo("Australia/Sydney")
TOKYO = ZoneInfo("Asia/Tokyo")
ZONES = {"AMER": NY, "APJC": TOKYO, "AUS": SYD, "EMEA": AMS}
FAST = settings(max_examples=200, deadline=None)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)


# --- window shape through DST -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "day", "elapsed"),
    [
        pytest.param("EMEA", date(2025, 3, 29), 8, id="emea-dst-start"),  # last Sunday of March
        pytest.param("EMEA", date(2025, 3, 28), 9, id="emea-night-before"),
        pytest.param("EMEA", date(2025, 3, 30), 9, id="emea-night-after"),
        pytest.param("EMEA", date(2025, 10, 25), 10, id="emea-dst-end"),  # last Sunday of October
        pytest.param("AMER", date(2025, 3, 8), 8, id="amer-dst-start"),  # 2nd Sunday of March
        pytest.param("AMER", date(2025, 11, 1), 10, id="amer-dst-end"),  # 1st Sunday of November
        pytest.param("AUS", date(2025, 10, 4), 8, id="aus-dst-start"),  # 1st Sunday of October
        pytest.param("AUS", date(2025, 4, 5), 10, id="aus-dst-end"),  # 1st Sunday of April
        pytest.param("APJC", date(2025, 3, 29), 9, id="apjc-no-dst"),
        pytest.param("EMEA", date(2025, 12, 31), 9, id="year-end"),
        pytest.param("EMEA", date(2028, 2, 29), 9, id="leap-day"),
        pytest.param("AMER", date(2028, 2, 28), 9, id="eve-of-leap-day"),
    ],
)
def test_window_is_nine_wall_clock_hours(region: str, day: date, elapsed: int) -> None:
    window = window_opening_on(region, day)
    zone = ZONES[region]
    assert window.start == datetime(day.year, day.month, day.day, 21, tzinfo=zone)
    next_day = day + timedelta(days=1)
    assert window.end == datetime(next_day.year, next_day.month, next_day.day, 6, tzinfo=zone)
    assert window.start.tzinfo is zone and window.end.tzinfo is zone
    assert window_length(window) == (timedelta(hours=9), timedelta(hours=elapsed))
    assert window.opens_on == day


@pytest.mark.parametrize(
    ("day", "weekend"),
    [
        (date(2025, 1, 3), False),  # Friday: a weekday window, although it runs into Saturday morning
        (date(2025, 1, 4), True),  # Saturday
        (date(2025, 1, 5), True),  # Sunday: runs into Monday morning, still a weekend window
        (date(2025, 1, 6), False),  # Monday
    ],
)
def test_weekend_flag_follows_opening_day(day: date, weekend: bool) -> None:
    assert window_opening_on("EMEA", day).weekend is weekend


def test_window_is_frozen() -> None:
    window = window_opening_on("EMEA", date(2025, 1, 3))
    with pytest.raises(ValueError):
        window.weekend = True  # type: ignore[misc]
    assert window == Window(region="EMEA", start=window.start, end=window.end, weekend=False)


# --- containment ------------------------------------------------------------------------------

FRIDAY = window_opening_on("EMEA", date(2025, 1, 3))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(local(AMS, 2025, 1, 3, 21) - US, None, id="just-before-start"),
        pytest.param(local(AMS, 2025, 1, 3, 21), FRIDAY, id="exactly-start-in"),
        pytest.param(local(AMS, 2025, 1, 4, 2), FRIDAY, id="after-midnight"),
        pytest.param(local(AMS, 2025, 1, 4, 6) - US, FRIDAY, id="just-before-end"),
        pytest.param(local(AMS, 2025, 1, 4, 6), None, id="exactly-end-out"),
        pytest.param(local(AMS, 2025, 1, 4, 12), None, id="midday"),
        pytest.param(datetime(2025, 1, 3, 20, tzinfo=UTC), FRIDAY, id="start-in-utc"),
        pytest.param(local(AMS, 2025, 1, 4, 21), window_opening_on("EMEA", date(2025, 1, 4)), id="saturday"),
    ],
)
def test_window_at_bounds(moment: datetime, expected: Window | None) -> None:
    assert window_at("emea", moment) == expected


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        # EMEA DST end night 2025-10-25/26: 21:00 CEST = 19:00 UTC .. 06:00 CET = 05:00 UTC (10 h)
        (datetime(2025, 10, 25, 19, tzinfo=UTC), True),
        (datetime(2025, 10, 26, 5, tzinfo=UTC) - US, True),
        (datetime(2025, 10, 26, 5, tzinfo=UTC), False),
        # AMER DST start night 2025-03-08/09: 21:00 EST = 02:00 UTC .. 06:00 EDT = 10:00 UTC (8 h)
        (datetime(2025, 3, 9, 10, tzinfo=UTC) - US, True),
        (datetime(2025, 3, 9, 10, tzinfo=UTC), False),
        # the repeated hour of the EMEA DST end night, second pass, is inside the window
        (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), True),
    ],
)
def test_containment_on_dst_nights(moment: datetime, inside: bool) -> None:
    region = "EMEA" if moment.month == 10 else "AMER"
    assert (window_at(region, moment) is not None) is inside


# --- searches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "allow_weekend", "opens_on"),
    [
        (local(AMS, 2025, 1, 3, 21), False, date(2025, 1, 3)),  # exactly at a start: that window
        (local(AMS, 2025, 1, 3, 21) + US, False, date(2025, 1, 6)),  # skips Sat and Sun
        (local(AMS, 2025, 1, 3, 21) + US, True, date(2025, 1, 4)),
        (local(AMS, 2025, 1, 5, 12), False, date(2025, 1, 6)),
        (local(AMS, 2025, 1, 5, 12), True, date(2025, 1, 5)),
        (local(AMS, 2025, 12, 31, 22), False, date(2026, 1, 1)),  # year end
        (local(AMS, 2028, 2, 28, 22), False, date(2028, 2, 29)),  # leap day
        (datetime(2025, 1, 3, 19, 59, tzinfo=UTC), False, date(2025, 1, 3)),
    ],
)
def test_next_window(after: datetime, allow_weekend: bool, opens_on: date) -> None:
    assert next_window("EMEA", after, allow_weekend=allow_weekend) == window_opening_on("EMEA", opens_on)


def test_windows_between_inclusive_bounds() -> None:
    first, last = local(AMS, 2025, 1, 3, 21), local(AMS, 2025, 1, 7, 21)
    assert [w.opens_on.day for w in windows_between("EMEA", first, last)] == [3, 6, 7]
    assert [w.opens_on.day for w in windows_between("EMEA", first, last, allow_weekend=True)] == [3, 4, 5, 6, 7]
    assert [w.opens_on.day for w in windows_between("EMEA", first + US, last - US)] == [6]
    assert windows_between("EMEA", last, first) == []
    assert windows_between("EMEA", first, first) == [window_opening_on("EMEA", date(2025, 1, 3))]


def test_effective_region_for_sme() -> None:
    assert effective_region("emea") == "EMEA"
    assert effective_region("EMEA", "amer") == "AMER"
    with pytest.raises(ValueError, match=r"unknown region 'Mars'; known regions: AMER, APJC, AUS, EMEA"):
        effective_region("EMEA", "Mars")


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: window_at("EMEA", datetime(2025, 1, 3, 21)),
        lambda: next_window("EMEA", datetime(2025, 1, 3, 21)),
        lambda: windows_between("EMEA", datetime(2025, 1, 3), local(AMS, 2025, 1, 9)),
        lambda: windows_between("EMEA", local(AMS, 2025, 1, 3), datetime(2025, 1, 9)),
        lambda: FRIDAY.contains(datetime(2025, 1, 3, 22)),
    ],
)
def test_naive_datetimes_rejected(call: object) -> None:
    with pytest.raises(ValueError, match="must be timezone-aware, got naive 2025-01-"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("region", ["MARS", "", "EU"])
def test_unknown_region_names_known_ones(region: str) -> None:
    for call in (
        lambda: window_at(region, local(AMS, 2025, 1, 3)),
        lambda: next_window(region, local(AMS, 2025, 1, 3)),
        lambda: windows_between(region, local(AMS, 2025, 1, 3), local(AMS, 2025, 1, 9)),
        lambda: window_opening_on(region, date(2025, 1, 3)),
    ):
        with pytest.raises(ValueError, match=rf"unknown region '{region}'; known regions: AMER, APJC, AUS, EMEA"):
            call()


def test_no_change_days_configured(config_copy: Path) -> None:
    path = config_copy / "regions.yaml"
    data = yaml.safe_load(path.read_text())
    data["maintenance_window"]["change_days"] = []
    path.write_text(yaml.safe_dump(data))
    di_settings.clear_caches()
    with pytest.raises(ValueError, match="change_days is empty"):
        next_window("EMEA", local(AMS, 2025, 1, 3))
    assert next_window("EMEA", local(AMS, 2025, 1, 3), allow_weekend=True).weekend


def test_gap_opening_is_shifted_like_zoneinfo(config_copy: Path) -> None:
    path = config_copy / "regions.yaml"
    path.write_text(
        path.read_text().replace('opens: "21:00"', 'opens: "02:30"').replace('closes: "06:00"', 'closes: "05:00"')
    )
    di_settings.clear_caches()
    window = window_opening_on("AMER", date(2025, 3, 9))  # 02:30 does not exist that night
    assert window.start.astimezone(UTC) == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)  # read as EST = 03:30 EDT
    assert window.start.replace(tzinfo=None) == datetime(2025, 3, 9, 3, 30)
    assert window.end == local(NY, 2025, 3, 9, 5)  # closes later the same morning


# --- properties -------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC))
DST_PINS = [
    ("EMEA", datetime(2025, 3, 30, 1, tzinfo=UTC)),
    ("EMEA", datetime(2025, 10, 26, 1, tzinfo=UTC)),
    ("AMER", datetime(2025, 3, 9, 7, tzinfo=UTC)),
    ("AMER", datetime(2025, 11, 2, 6, tzinfo=UTC)),
    ("AUS", datetime(2025, 4, 5, 16, tzinfo=UTC)),
    ("AUS", datetime(2025, 10, 4, 16, tzinfo=UTC)),
]


def pinned(test: Callable[[str, datetime], None]) -> Callable[[str, datetime], None]:
    for region, moment in DST_PINS:
        test = example(region=region, moment=moment)(test)
    return test


@FAST
@given(region=st.sampled_from(sorted(ZONES)), moment=instants)
@pinned
def test_windows_are_nine_wall_clock_hours(region: str, moment: datetime) -> None:
    window = next_window(region, moment, allow_weekend=True)
    wall, elapsed = window_length(window)
    assert wall == timedelta(hours=9)
    assert elapsed in (8 * HOUR, 9 * HOUR, 10 * HOUR)
    assert window.start.astimezone(ZONES[region]).hour == 21


@FAST
@given(region=st.sampled_from(sorted(ZONES)), moment=instants)
@pinned
def test_window_at_and_next_window_agree(region: str, moment: datetime) -> None:
    current = window_at(region, moment)
    upcoming = next_window(region, moment, allow_weekend=True)
    assert upcoming.start.astimezone(UTC) >= moment
    assert upcoming.start.astimezone(UTC) - moment <= timedelta(hours=25)
    if current is not None:
        assert current.start.astimezone(UTC) <= moment < current.end.astimezone(UTC)
        assert window_at(region, current.start) == current
        assert window_at(region, current.end) is None
    weekday = next_window(region, moment)
    assert not weekday.weekend and weekday.start.astimezone(UTC) >= upcoming.start.astimezone(UTC)


@FAST
@given(region=st.sampled_from(sorted(ZONES)), start=instants, hours=st.integers(0, 24 * 10), weekend=st.booleans())
@example(region="EMEA", start=datetime(2025, 3, 28, 20, tzinfo=UTC), hours=72, weekend=False)
def test_windows_between_is_the_sequence_of_next_windows(
    region: str, start: datetime, hours: int, weekend: bool
) -> None:
    end = start + timedelta(hours=hours)
    found = windows_between(region, start, end, allow_weekend=weekend)
    expected: list[Window] = []
    cursor = start
    while (window := next_window(region, cursor, allow_weekend=weekend)).start.astimezone(UTC) <= end:
        expected.append(window)
        cursor = window.start.astimezone(UTC) + US
    assert found == expected
