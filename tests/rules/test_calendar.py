"""Business-day arithmetic (DOMAIN.md §7): golden cases, holidays, DST nights, properties, bulk form."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core import settings as di_settings
from di_ops.rules import calendar
from di_ops.rules.calendar import (
    add_business_days,
    add_business_days_bulk,
    counted_wall_time,
    holiday_dates,
    is_business_day,
    wall_to_instant,
)

AMS = ZoneInfo("Europe/Amsterdam")
NY = ZoneInfo("America/New_York")
SYD = ZoneInfo("Australia/Sydney")
TOKYO = ZoneInfo("Asia/Tokyo")
ZONES = {"AMER": NY, "APJC": TOKYO, "AUS": SYD, "EMEA": AMS}
REGIONS = sorted(ZONES)
FAST = settings(max_examples=200, deadline=None)

# DST transition instants (UTC) of 2025-2026: EMEA last Sun of Mar/Oct, AMER 2nd Sun Mar / 1st Sun Nov,
# AUS first Sun of Oct (start) / first Sun of Apr (end).
DST_INSTANTS = [
    datetime(2025, 3, 30, 1, tzinfo=UTC),
    datetime(2025, 10, 26, 1, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 11, 2, 6, tzinfo=UTC),
    datetime(2025, 4, 5, 16, tzinfo=UTC),
    datetime(2025, 10, 4, 16, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
]


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone, fold=fold)


@pytest.fixture
def edit_regions(config_copy: Path) -> Iterator[Callable[[Callable[[dict[str, object]], None]], None]]:
    """Change regions.yaml of a temporary config copy; caches (settings and ours) cleared around it."""

    def apply(change: Callable[[dict[str, object]], None]) -> None:
        path = config_copy / "regions.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data))
        di_settings.clear_caches()
        calendar.clear_caches()

    calendar.clear_caches()
    yield apply
    di_settings.clear_caches()
    calendar.clear_caches()


# --- golden cases of DOMAIN.md §7 and both sides of each boundary -------------------------------

GOLDEN = [
    # (start, days, due) in EMEA local time; 2025-01-03 is a Friday
    pytest.param(local(AMS, 2025, 1, 3, 15), 1, local(AMS, 2025, 1, 6, 15), id="fri-15h+1=mon-15h"),
    pytest.param(local(AMS, 2025, 1, 4, 10), 1, local(AMS, 2025, 1, 7), id="sat-10h+1=tue-0h"),
    pytest.param(local(AMS, 2025, 1, 2, 10), 1, local(AMS, 2025, 1, 3, 10), id="thu-10h+1=fri-10h"),
    pytest.param(local(AMS, 2025, 1, 3), 1, local(AMS, 2025, 1, 4), id="fri-0h+1=sat-0h"),
    pytest.param(local(AMS, 2025, 1, 3, 0, 0, 0, 1), 1, local(AMS, 2025, 1, 6, 0, 0, 0, 1), id="fri-0h+1us"),
    pytest.param(local(AMS, 2025, 1, 2, 23, 59, 59), 1, local(AMS, 2025, 1, 3, 23, 59, 59), id="thu-late"),
    pytest.param(local(AMS, 2025, 1, 5, 23, 59), 1, local(AMS, 2025, 1, 7), id="sun-late+1=tue-0h"),
    pytest.param(local(AMS, 2025, 1, 6), 1, local(AMS, 2025, 1, 7), id="mon-0h+1=tue-0h"),
    pytest.param(local(AMS, 2025, 1, 6), 5, local(AMS, 2025, 1, 11), id="mon-0h+5=sat-0h"),
    pytest.param(local(AMS, 2025, 1, 3, 15), 3, local(AMS, 2025, 1, 8, 15), id="fri-15h+3=wed-15h"),
    pytest.param(local(AMS, 2025, 1, 3, 15), 0, local(AMS, 2025, 1, 3, 15), id="zero-days"),
    pytest.param(local(AMS, 2025, 1, 4, 10), 0, local(AMS, 2025, 1, 4, 10), id="zero-days-weekend"),
    pytest.param(local(AMS, 2025, 12, 31, 12), 1, local(AMS, 2026, 1, 1, 12), id="year-end"),
    pytest.param(local(AMS, 2028, 2, 28, 9), 1, local(AMS, 2028, 2, 29, 9), id="into-leap-day"),
    pytest.param(local(AMS, 2028, 2, 29, 9), 1, local(AMS, 2028, 3, 1, 9), id="from-leap-day"),
    # DST weekends: the counted days are whole local days, the Sunday change does not shift the clock time
    pytest.param(local(AMS, 2025, 3, 28, 15), 1, local(AMS, 2025, 3, 31, 15), id="emea-dst-start"),
    pytest.param(local(AMS, 2025, 10, 24, 15), 1, local(AMS, 2025, 10, 27, 15), id="emea-dst-end"),
    pytest.param(local(NY, 2025, 3, 7, 15), 1, local(NY, 2025, 3, 10, 15), id="amer-dst-start"),
    pytest.param(local(NY, 2025, 10, 31, 15), 1, local(NY, 2025, 11, 3, 15), id="amer-dst-end"),
    pytest.param(local(SYD, 2025, 10, 3, 15), 1, local(SYD, 2025, 10, 6, 15), id="aus-dst-start"),
    pytest.param(local(SYD, 2025, 4, 4, 15), 1, local(SYD, 2025, 4, 7, 15), id="aus-dst-end"),
    pytest.param(local(TOKYO, 2025, 1, 3, 15), 1, local(TOKYO, 2025, 1, 6, 15), id="apjc"),
]


@pytest.mark.parametrize(("start", "days", "due"), GOLDEN)
def test_golden_cases(start: datetime, days: int, due: datetime) -> None:
    region = next(name for name, zone in ZONES.items() if zone is start.tzinfo)
    result = add_business_days(region, start, days)
    assert result == due
    assert result.utcoffset() == due.utcoffset()
    bulk = add_business_days_bulk(region, pd.Series([start]), days)
    assert bulk.iloc[0].to_pydatetime() == due


def test_start_in_another_zone_uses_region_calendar() -> None:
    # Friday 23:30 UTC is already Saturday 00:30 in Amsterdam: counting starts Monday.
    assert add_business_days("emea", datetime(2025, 1, 3, 23, 30, tzinfo=UTC), 1) == local(AMS, 2025, 1, 7)
    assert add_business_days("AMER", datetime(2025, 1, 3, 23, 30, tzinfo=UTC), 1) == local(NY, 2025, 1, 6, 18, 30)


@pytest.mark.parametrize(
    ("day", "expected"),
    [(date(2025, 1, 3), True), (date(2025, 1, 4), False), (date(2025, 1, 5), False), (date(2025, 1, 6), True)],
)
def test_is_business_day(day: date, expected: bool) -> None:
    assert is_business_day("EMEA", day) is expected


# --- errors -----------------------------------------------------------------------------------


def test_naive_start_rejected() -> None:
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add_business_days("EMEA", datetime(2025, 1, 3, 15), 1)


def test_unknown_region_names_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown region 'MARS'.*AMER, APJC, AUS, EMEA"):
        add_business_days("MARS", local(AMS, 2025, 1, 3), 1)
    with pytest.raises(ValueError, match=r"unknown region 'MARS'.*AMER, APJC, AUS, EMEA"):
        add_business_days_bulk("MARS", pd.Series([local(AMS, 2025, 1, 3)]), 1)


@pytest.mark.parametrize("days", [-1, -10])
def test_negative_days_rejected(days: int) -> None:
    with pytest.raises(ValueError, match="days must be >= 0"):
        add_business_days("EMEA", local(AMS, 2025, 1, 3), days)
    with pytest.raises(ValueError, match="days must be >= 0"):
        add_business_days_bulk("EMEA", pd.Series([local(AMS, 2025, 1, 3)]), days)


@pytest.mark.parametrize("days", [1.0, True, "1"])
def test_non_int_days_rejected(days: object) -> None:
    with pytest.raises(TypeError, match="days must be an int"):
        add_business_days("EMEA", local(AMS, 2025, 1, 3), days)  # type: ignore[arg-type]


def test_bulk_rejects_naive_and_float_days() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_days_bulk("EMEA", pd.Series(pd.to_datetime(["2025-01-03 10:00"])), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_days_bulk("EMEA", pd.Series([datetime(2025, 1, 3, 10)], dtype=object), 1)
    with pytest.raises(TypeError, match="days must be integers"):
        add_business_days_bulk("EMEA", pd.Series([local(AMS, 2025, 1, 3)]), 1.5)


# --- configured holidays and workdays ---------------------------------------------------------


def test_explicit_holiday_is_skipped(edit_regions: Callable[[Callable[[dict[str, object]], None]], None]) -> None:
    friday = local(AMS, 2025, 1, 3, 15)
    assert add_business_days("EMEA", friday, 1) == local(AMS, 2025, 1, 6, 15)
    edit_regions(lambda data: data["business_days"]["holidays"]["EMEA"].update(dates=["2025-01-06"]))  # type: ignore[index]
    assert not is_business_day("EMEA", date(2025, 1, 6))
    assert add_business_days("EMEA", friday, 1) == local(AMS, 2025, 1, 7, 15)
    assert add_business_days("EMEA", local(AMS, 2025, 1, 3), 1) == local(AMS, 2025, 1, 4)
    assert add_business_days("EMEA", local(AMS, 2025, 1, 4, 10), 1) == local(AMS, 2025, 1, 8)
    assert add_business_days("AMER", local(NY, 2025, 1, 3, 15), 1) == local(NY, 2025, 1, 6, 15)  # other region
    assert holiday_dates("EMEA", 2024, 2026) == {date(2025, 1, 6)}
    bulk = add_business_days_bulk("EMEA", pd.Series([friday, local(AMS, 2025, 1, 4, 10)]), 1)
    assert list(bulk.dt.to_pydatetime()) == [local(AMS, 2025, 1, 7, 15), local(AMS, 2025, 1, 8)]


def test_country_holidays(edit_regions: Callable[[Callable[[dict[str, object]], None]], None]) -> None:
    edit_regions(lambda data: data["business_days"]["holidays"]["EMEA"].update(country="NL"))  # type: ignore[index]
    thursday = local(AMS, 2025, 4, 17, 10)  # Good Friday 18 Apr and Easter Monday 21 Apr are NL holidays
    assert add_business_days("EMEA", thursday, 1) == local(AMS, 2025, 4, 22, 10)
    assert add_business_days("EMEA", local(AMS, 2025, 12, 24, 9), 1) == local(AMS, 2025, 12, 29, 9)
    assert add_business_days_bulk("EMEA", pd.Series([thursday]), 1).iloc[0] == local(AMS, 2025, 4, 22, 10)


def test_empty_workdays_rejected(edit_regions: Callable[[Callable[[dict[str, object]], None]], None]) -> None:
    edit_regions(lambda data: data["business_days"].update(workdays=[]))  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="workdays is empty"):
        add_business_days("EMEA", local(AMS, 2025, 1, 6, 10), 1)
    with pytest.raises(ValueError, match="workdays is empty"):
        add_business_days_bulk("EMEA", pd.Series([local(AMS, 2025, 1, 6, 10)]), 1)


SEVEN_DAY_CASES = [
    # AMER spring forward 2025-03-09 02:00 -> 03:00: due wall time 02:30 does not exist -> 03:00 EDT
    pytest.param("AMER", local(NY, 2025, 3, 8, 2, 30), local(NY, 2025, 3, 9, 3), id="gap-shifts-to-transition"),
    pytest.param("AMER", local(NY, 2025, 3, 8, 3, 30), local(NY, 2025, 3, 9, 3, 30), id="after-gap"),
    # AMER fall back 2025-11-02 02:00 EDT -> 01:00 EST: the due wall time 01:30 is taken the first time
    pytest.param("AMER", local(NY, 2025, 11, 1, 1, 30), local(NY, 2025, 11, 2, 1, 30, fold=0), id="fold-first"),
    # a start in the repeated hour's second pass counts as the end of that hour (02:00)
    pytest.param("AMER", local(NY, 2025, 11, 2, 1, 30, fold=1), local(NY, 2025, 11, 3, 2), id="fold-second-start"),
    pytest.param("AMER", local(NY, 2025, 11, 2, 1, 30, fold=0), local(NY, 2025, 11, 3, 1, 30), id="fold-first-start"),
    pytest.param("EMEA", local(AMS, 2025, 3, 29, 2, 15), local(AMS, 2025, 3, 30, 3), id="emea-gap"),
    pytest.param("AUS", local(SYD, 2025, 10, 4, 2, 15), local(SYD, 2025, 10, 5, 3), id="aus-gap"),
]


@pytest.mark.parametrize(("region", "start", "due"), SEVEN_DAY_CASES)
def test_dst_wall_times_with_seven_workdays(
    edit_regions: Callable[[Callable[[dict[str, object]], None]], None], region: str, start: datetime, due: datetime
) -> None:
    every_day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    edit_regions(lambda data: data["business_days"].update(workdays=every_day))  # type: ignore[attr-defined]
    result = add_business_days(region, start, 1)
    assert result.astimezone(UTC) == due.astimezone(UTC)
    assert add_business_days_bulk(region, pd.Series([start]), 1).iloc[0] == due.astimezone(UTC)


@FAST
@given(
    region=st.sampled_from(["AMER", "EMEA", "AUS"]),
    base=st.sampled_from(DST_INSTANTS),
    offsets=st.lists(st.integers(-2 * 86400, 2 * 86400), min_size=2, max_size=6),
    days=st.integers(1, 3),
)
def test_seven_workdays_monotone_and_bulk_agrees(region: str, base: datetime, offsets: list[int], days: int) -> None:
    # Hypothesis and function-scoped fixtures do not mix: swap the workdays in-process instead.
    config = di_settings.regions_config()
    every_day = config.business_days.model_copy(update={"workdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")})
    patched = config.model_copy(update={"business_days": every_day})
    original = di_settings.regions_config
    try:
        di_settings.regions_config = lambda: patched  # type: ignore[assignment]
        calendar.regions_config = di_settings.regions_config  # type: ignore[attr-defined]
        starts = sorted(base + timedelta(seconds=o) for o in offsets)
        dues = [add_business_days(region, s, days).astimezone(UTC) for s in starts]
        assert dues == sorted(dues)
        bulk = add_business_days_bulk(region, pd.Series(starts), days)
        assert list(bulk.dt.to_pydatetime()) == dues
    finally:
        di_settings.regions_config = original
        calendar.regions_config = original  # type: ignore[attr-defined]


# --- helpers ----------------------------------------------------------------------------------


def test_wall_to_instant_and_counted_wall_time() -> None:
    assert wall_to_instant(datetime(2025, 3, 9, 2, 30), NY) == datetime(2025, 3, 9, 7, tzinfo=UTC)
    # a repeated wall time: compare through UTC (Python never calls an ambiguous time equal across zones)
    assert wall_to_instant(datetime(2025, 11, 2, 1, 30), NY).astimezone(UTC) == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    assert counted_wall_time(datetime(2025, 11, 2, 6, 30, tzinfo=UTC), NY) == datetime(2025, 11, 2, 2)
    assert counted_wall_time(datetime(2025, 11, 2, 5, 30, tzinfo=UTC), NY) == datetime(2025, 11, 2, 1, 30)


# --- independent reference and properties -----------------------------------------------------


def reference_add(region: str, start: datetime, days: int) -> datetime:
    """Walk the local wall clock day by day, accumulating counted time until N x 24 h is reached."""
    zone = ZONES[region]
    if days == 0:
        return start
    wall = start.astimezone(zone).replace(tzinfo=None)
    remaining = timedelta(days=days)
    while True:
        next_midnight = datetime.combine(wall.date() + timedelta(days=1), time())
        if wall.weekday() < 5:
            available = next_midnight - wall
            if remaining <= available:
                due = wall + remaining
                break
            remaining -= available
        wall = next_midnight
    return pd.Timestamp(due).tz_localize(zone, ambiguous=True, nonexistent="shift_forward").to_pydatetime()


def numpy_reference(region: str, start: datetime, days: int) -> datetime:
    """Written separately from the module: numpy busday arithmetic on the local wall time."""
    zone = ZONES[region]
    wall = start.astimezone(zone).replace(tzinfo=None)
    day = np.datetime64(wall.date(), "D")
    into_day = wall - datetime.combine(wall.date(), time())
    if np.is_busday(day) and into_day:
        due_day = np.busday_offset(day, days)
        return datetime.combine(due_day.astype(date), time(), tzinfo=zone) + into_day
    monday_or_same = np.busday_offset(day, 0, roll="forward")
    due_day = np.busday_offset(monday_or_same, days - 1) + np.timedelta64(1, "D")
    return datetime.combine(due_day.astype(date), time(), tzinfo=zone)


instants = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda base, seconds: base + timedelta(seconds=seconds),
        st.sampled_from(DST_INSTANTS),
        st.integers(-4 * 86400, 4 * 86400),
    ),
)


@FAST
@given(region=st.sampled_from(REGIONS), start=instants, days=st.integers(0, 15))
@example(region="EMEA", start=local(AMS, 2025, 1, 3, 15), days=1)
@example(region="EMEA", start=local(AMS, 2025, 1, 4, 10), days=1)
@example(region="EMEA", start=local(AMS, 2025, 1, 3), days=1)
@example(region="AMER", start=datetime(2025, 3, 9, 7, tzinfo=UTC), days=1)
@example(region="AUS", start=datetime(2025, 4, 5, 16, tzinfo=UTC), days=2)
@example(region="EMEA", start=local(AMS, 2028, 2, 29, 23, 59), days=1)
def test_agrees_with_references(region: str, start: datetime, days: int) -> None:
    result = add_business_days(region, start, days)
    assert result == reference_add(region, start, days)
    if days:
        assert result == numpy_reference(region, start, days)
        local_result = result.astimezone(ZONES[region])
        if local_result.weekday() >= 5:  # the only weekend result: Saturday 00:00
            assert (local_result.weekday(), local_result.time()) == (5, time())
        assert result > start
    else:
        assert result is start


@FAST
@given(region=st.sampled_from(REGIONS), first=instants, second=instants, days=st.integers(0, 12))
@example(region="EMEA", first=local(AMS, 2025, 1, 2, 23, 59), second=local(AMS, 2025, 1, 3), days=1)
@example(region="EMEA", first=local(AMS, 2025, 1, 3, 23, 59), second=local(AMS, 2025, 1, 4), days=1)
def test_monotone_in_start(region: str, first: datetime, second: datetime, days: int) -> None:
    low, high = sorted([first, second])
    assert add_business_days(region, low, days).astimezone(UTC) <= add_business_days(region, high, days).astimezone(UTC)


@FAST
@given(
    region=st.sampled_from(REGIONS),
    starts=st.lists(instants, min_size=1, max_size=8),
    days=st.lists(st.integers(0, 15), min_size=8, max_size=8),
)
def test_bulk_agrees_with_scalar(region: str, starts: list[datetime], days: list[int]) -> None:
    counts = np.array(days[: len(starts)])
    bulk = add_business_days_bulk(region, pd.Series(starts, index=range(10, 10 + len(starts))), counts)
    assert list(bulk.index) == list(range(10, 10 + len(starts)))
    assert str(bulk.dtype) == "datetime64[ns, UTC]"
    expected = [add_business_days(region, s, int(n)) for s, n in zip(starts, counts, strict=True)]
    assert list(bulk.dt.to_pydatetime()) == expected


def test_bulk_input_forms() -> None:
    starts = [local(AMS, 2025, 1, 3, 15), local(NY, 2025, 1, 4, 10)]
    expected = [add_business_days("EMEA", s, 2) for s in starts]
    as_numpy = np.array([s.astimezone(UTC).replace(tzinfo=None) for s in starts], dtype="datetime64[ns]")
    for form in (
        pd.Series(starts, dtype=object),
        pd.DatetimeIndex(pd.to_datetime(starts, utc=True)).tz_convert(SYD),
        as_numpy,
    ):
        assert list(add_business_days_bulk("EMEA", form, 2).dt.to_pydatetime()) == expected
    with_missing = add_business_days_bulk("EMEA", pd.Series([starts[0], pd.NaT], dtype=object), 1)
    assert with_missing.iloc[0] == local(AMS, 2025, 1, 6, 15) and pd.isna(with_missing.iloc[1])
    empty = add_business_days_bulk("EMEA", pd.Series([], dtype="datetime64[ns, UTC]"), 1)
    assert empty.empty and str(empty.dtype) == "datetime64[ns, UTC]"


def _ns(moment: datetime) -> int:
    return int(pd.Timestamp(moment).as_unit("ns").value)


@FAST
@given(
    region=st.sampled_from(REGIONS),
    starts=st.lists(instants, min_size=0, max_size=8),
    days=st.lists(st.integers(0, 15), min_size=8, max_size=8),
)
@example(region="EMEA", starts=[local(AMS, 2025, 10, 26, 2, 30, fold=1)], days=[1] * 8)
def test_int64_form_agrees_with_scalar(region: str, starts: list[datetime], days: list[int]) -> None:
    counts = np.array(days[: len(starts)], dtype=np.int64)
    got = calendar.add_business_days_ns(region, np.array([_ns(s) for s in starts], dtype=np.int64), counts)
    assert got.dtype == np.int64
    expected = [_ns(add_business_days(region, s, int(n)).astimezone(UTC)) for s, n in zip(starts, counts, strict=True)]
    assert got.tolist() == expected


def test_int64_form_keeps_nat_and_checks_its_inputs() -> None:
    nat = np.iinfo(np.int64).min
    friday = _ns(local(AMS, 2025, 1, 3, 15))
    got = calendar.add_business_days_ns("emea", np.array([friday, nat, friday]), np.array([1, 1, 0]))
    assert got.tolist() == [_ns(local(AMS, 2025, 1, 6, 15)), nat, friday]
    assert calendar.add_business_days_ns("EMEA", np.array([nat]), 1).tolist() == [nat]
    assert calendar.add_business_days_ns("EMEA", np.array([], dtype=np.int64), 1).tolist() == []
    with pytest.raises(TypeError, match="starts_ns"):
        calendar.add_business_days_ns("EMEA", np.array([1.5]), 1)
    with pytest.raises(TypeError, match="days must be integers"):
        calendar.add_business_days_ns("EMEA", np.array([friday]), 1.5)
    with pytest.raises(ValueError, match="days must be >= 0"):
        calendar.add_business_days_ns("EMEA", np.array([friday]), -1)
    with pytest.raises(ValueError, match="unknown region"):
        calendar.add_business_days_ns("MARS", np.array([friday]), 1)
