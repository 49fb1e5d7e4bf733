"""MaintenanceWindowTimetable: one run per window opening (DOMAIN.md §1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction, Timetable
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.orchestration.timetables import MaintenanceWindowTimetable
from di_ops.rules.maintenance import window_opening_on, windows_between

FAST = settings(max_examples=200, deadline=None)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, hour, minute, second, tz="UTC")


def interval_of(region: str, day: date) -> DataInterval:
    window = window_opening_on(region, day)
    return DataInterval(pendulum.instance(window.start.astimezone(UTC)), pendulum.instance(window.end.astimezone(UTC)))


def test_is_a_timetable_and_serialises() -> None:
    timetable = MaintenanceWindowTimetable("emea", allow_weekend=True)
    assert isinstance(timetable, Timetable)
    assert timetable.serialize() == {"region": "EMEA", "allow_weekend": True}
    assert MaintenanceWindowTimetable.deserialize(timetable.serialize()) == timetable
    assert MaintenanceWindowTimetable.deserialize({"region": "AMER"}) == MaintenanceWindowTimetable("AMER")
    assert timetable != MaintenanceWindowTimetable("EMEA")
    assert timetable != "EMEA"
    assert hash(timetable) == hash(MaintenanceWindowTimetable("EMEA", True))
    assert repr(timetable) == "MaintenanceWindowTimetable(region='EMEA', allow_weekend=True)"
    assert timetable.summary == "EMEA maintenance (all windows)"
    assert MaintenanceWindowTimetable("AUS").summary == "AUS maintenance (weekday windows)"
    assert "21:00-06:00" in timetable.description and "Europe/Amsterdam" in timetable.description
    assert "Mon/Tue/Wed/Thu/Fri" in MaintenanceWindowTimetable("EMEA").description


def test_unknown_region() -> None:
    with pytest.raises(ValueError, match=r"unknown region 'Mars'; known regions: AMER, APJC, AUS, EMEA"):
        MaintenanceWindowTimetable("Mars")


def test_first_run_and_next_runs_with_catchup() -> None:
    timetable = MaintenanceWindowTimetable("EMEA")
    restriction = TimeRestriction(earliest=utc(2025, 1, 3, 20), latest=None, catchup=True)  # Fri 21:00 CET
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first is not None
    assert first.data_interval == interval_of("EMEA", date(2025, 1, 3))
    assert first.run_after == first.data_interval.start  # the run starts when the window opens
    assert first.data_interval.start.tzinfo is not None and first.data_interval.start.utcoffset() == timedelta(0)
    second = timetable.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=restriction)
    assert second is not None and second.data_interval == interval_of("EMEA", date(2025, 1, 6))  # skips weekend


def test_allow_weekend_runs_every_day() -> None:
    timetable = MaintenanceWindowTimetable("EMEA", allow_weekend=True)
    restriction = TimeRestriction(earliest=utc(2025, 1, 3, 20, 0, 1), latest=None, catchup=True)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info is not None and info.data_interval == interval_of("EMEA", date(2025, 1, 4))


@pytest.mark.parametrize("catchup", [False, True])
@pytest.mark.parametrize(
    ("now", "allow_weekend", "expected_day"),
    [
        (utc(2025, 1, 7, 12), False, date(2025, 1, 7)),  # between windows: the next opening (Tue 21:00 ET)
        (utc(2025, 1, 7, 3), False, date(2025, 1, 6)),  # inside Monday's window: that window, now
        (utc(2025, 1, 5, 3), False, date(2025, 1, 6)),  # inside a weekend window, weekday timetable: Monday
        (utc(2025, 1, 5, 3), True, date(2025, 1, 4)),  # inside Saturday's window, all windows: that one
    ],
)
def test_no_start_date_schedules_from_when_first_seen(
    now: pendulum.DateTime, allow_weekend: bool, expected_day: date, catchup: bool
) -> None:
    """A DAG without start_date still gets a next run (the renewal DAGs had none: never scheduled)."""
    timetable = MaintenanceWindowTimetable("AMER", allow_weekend=allow_weekend)
    restriction = TimeRestriction(earliest=None, latest=None, catchup=catchup)
    with mock.patch("di_ops.orchestration.timetables.pendulum.now", return_value=now):
        info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info is not None and info.data_interval == interval_of("AMER", expected_day)
    assert info.run_after == info.data_interval.start


def test_no_start_date_and_latest() -> None:
    timetable = MaintenanceWindowTimetable("AMER")
    window_start = interval_of("AMER", date(2025, 1, 6)).start
    for latest, expected in ((window_start, True), (window_start - timedelta(microseconds=1), False)):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=utc(2025, 1, 4, 12), latest=latest, catchup=True),
        )
        assert (info is not None) is expected


@pytest.mark.parametrize(
    ("now", "expected_day"),
    [
        (utc(2025, 1, 6, 22), date(2025, 1, 6)),  # inside Monday's window: run it now
        (utc(2025, 1, 7, 12), date(2025, 1, 7)),  # between windows: the next one
        (utc(2025, 1, 4, 22), date(2025, 1, 6)),  # inside a weekend window of a weekday timetable
    ],
)
def test_without_catchup_starts_from_now(now: pendulum.DateTime, expected_day: date) -> None:
    timetable = MaintenanceWindowTimetable("EMEA")
    restriction = TimeRestriction(earliest=utc(2024, 1, 1), latest=None, catchup=False)
    with mock.patch("di_ops.orchestration.timetables.pendulum.now", return_value=now):
        for last in (None, interval_of("EMEA", date(2024, 6, 3))):  # first run, or a long pause
            info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
            assert info is not None and info.data_interval == interval_of("EMEA", expected_day)


def test_without_catchup_the_open_window_runs_once() -> None:
    timetable = MaintenanceWindowTimetable("EMEA")
    already = interval_of("EMEA", date(2025, 1, 6))
    for earliest in (utc(2024, 1, 1), None):  # a DAG without start_date keeps scheduling after its first run
        restriction = TimeRestriction(earliest=earliest, latest=None, catchup=False)
        with mock.patch("di_ops.orchestration.timetables.pendulum.now", return_value=utc(2025, 1, 6, 22)):
            info = timetable.next_dagrun_info(last_automated_data_interval=already, restriction=restriction)
        assert info is not None and info.data_interval == interval_of("EMEA", date(2025, 1, 7))


@pytest.mark.parametrize(
    ("run_after", "allow_weekend", "expected_day"),
    [
        (utc(2025, 1, 6, 20), False, date(2025, 1, 6)),  # exactly Monday's opening (21:00 CET)
        (utc(2025, 1, 6, 19, 59), False, date(2025, 1, 3)),  # just before: Friday's window
        (utc(2025, 1, 5, 12), False, date(2025, 1, 3)),
        (utc(2025, 1, 4, 22), False, date(2025, 1, 3)),  # inside Saturday's window, weekday timetable
        (utc(2025, 1, 4, 22), True, date(2025, 1, 4)),
    ],
)
def test_infer_manual_data_interval(run_after: pendulum.DateTime, allow_weekend: bool, expected_day: date) -> None:
    timetable = MaintenanceWindowTimetable("EMEA", allow_weekend=allow_weekend)
    assert timetable.infer_manual_data_interval(run_after=run_after) == interval_of("EMEA", expected_day)


@FAST
@given(
    region=st.sampled_from(["AMER", "APJC", "AUS", "EMEA"]),
    earliest=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    allow_weekend=st.booleans(),
)
@example(region="EMEA", earliest=datetime(2025, 3, 26, tzinfo=UTC), allow_weekend=True)
@example(region="AMER", earliest=datetime(2025, 10, 30, tzinfo=UTC), allow_weekend=True)
@example(region="AUS", earliest=datetime(2025, 4, 2, tzinfo=UTC), allow_weekend=False)
def test_successive_runs_are_windows_between(region: str, earliest: datetime, allow_weekend: bool) -> None:
    timetable = MaintenanceWindowTimetable(region, allow_weekend=allow_weekend)
    restriction = TimeRestriction(earliest=pendulum.instance(earliest), latest=None, catchup=True)
    last: DataInterval | None = None
    starts = []
    for _ in range(8):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None and info.data_interval is not None
        last = info.data_interval
        starts.append(last.start)
    expected = windows_between(region, earliest, starts[-1], allow_weekend=allow_weekend)
    assert starts == [w.start for w in expected]
    assert starts == sorted(starts)
