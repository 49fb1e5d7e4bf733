"""The change calendar's data: every pipeline's changes in one vocabulary, placed in their region's
windows, filtered, and exported as JSON and as an .ics that the icalendar package reads back."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest

from di_ops.orchestration.console.calendar import (
    Filters,
    as_json,
    build_calendar,
    in_range,
    parse_filters,
    unplaced,
)
from di_ops.orchestration.console.changes import all_changes
from di_ops.orchestration.console.ics_export import calendar_ics
from tests.orchestration.console_data import AS_OF, seed

REGIONS = ["AMER", "APJC", "AUS", "EMEA"]


@pytest.fixture
def world(migrated_ops_db, tmp_path: Path):  # type: ignore[no-untyped-def]
    expected = seed(migrated_ops_db, tmp_path / "inventory")
    return all_changes(migrated_ops_db), expected


def test_every_pipeline_change_in_one_vocabulary(world) -> None:  # type: ignore[no-untyped-def]
    changes, expected = world
    found = {c.uid: (c.kind, c.state, c.region) for c in changes}
    assert found == expected["uids"]  # the rejected COP request is not a change in a window
    by_uid = {c.uid: c for c in changes}
    cert = by_uid["certificate-C004-cucm-pub/0a1b/r0"]
    assert cert.notice_sent_at == AS_OF - timedelta(days=15)
    assert cert.lead_time_hours == pytest.approx((expected["emea_wed"][0] - cert.notice_sent_at).total_seconds() / 3600)
    assert by_uid["upgrade-u-C005"].notice_sent_at is None and by_uid["upgrade-u-C005"].lead_time_hours is None
    assert by_uid["upgrade-u-C012"].detail_state == "missed" and by_uid["upgrade-u-C012"].sequence == 1
    assert [c.window_start for c in changes] == sorted(c.window_start for c in changes)


def test_changes_sit_in_their_windows_and_every_window_is_listed(world) -> None:  # type: ignore[no-untyped-def]
    changes, expected = world
    calendars = build_calendar(changes, Filters(), as_of=AS_OF, regions=REGIONS)
    assert [c.region for c in calendars] == REGIONS
    emea = next(c for c in calendars if c.region == "EMEA")
    # 14 days back + 42 ahead: 56 or 57 windows a region, weekends included
    assert 56 <= len(emea.windows) <= 57
    assert sum(w.weekend for w in emea.windows) in (16, 17)
    wed = next(w for w in emea.windows if w.start.astimezone(UTC) == expected["emea_wed"][0])
    assert sorted(c.uid for c in wed.changes) == ["certificate-C004-cucm-pub/0a1b/r0", "cop-r-planned"]
    assert not wed.past and not wed.open_now and not wed.weekend
    past = next(w for w in emea.windows if w.start.astimezone(UTC) == expected["emea_past"][0])
    assert past.past and [c.uid for c in past.changes] == ["upgrade-u-C012"]
    aus = next(c for c in calendars if c.region == "AUS")
    sat = next(w for w in aus.windows if w.start.astimezone(UTC) == expected["aus_sat"][0])
    assert sat.weekend and [c.kind for c in sat.changes] == ["emergency"]
    assert sum(len(w.changes) for c in calendars for w in c.windows) == len(changes)
    assert unplaced(changes, Filters()) == []


def test_a_window_open_at_as_of_is_marked(world) -> None:  # type: ignore[no-untyped-def]
    changes, expected = world
    inside = expected["emea_wed"][0] + timedelta(hours=1)
    emea = build_calendar(changes, Filters(regions=("EMEA",)), as_of=inside, regions=REGIONS)
    assert [c.region for c in emea] == ["EMEA"]
    assert [w.start.astimezone(UTC) for w in emea[0].windows if w.open_now] == [expected["emea_wed"][0]]


@pytest.mark.parametrize(
    ("query", "uids"),
    [
        ({"region": ["AMER"]}, {"upgrade-u-C001", "upgrade-u-C005"}),
        ({"kind": ["upgrade,cop"], "state": ["scheduled"]}, {"upgrade-u-C001", "cop-r-planned"}),
        ({"customer": ["C004"]}, {"certificate-C004-cucm-pub/0a1b/r0", "cop-r-planned"}),
        ({"state": ["missed"], "past_days": ["3"]}, set()),  # its window lies 6 days back
        ({"state": ["missed"], "past_days": ["7"]}, {"upgrade-u-C012"}),
        ({"kind": ["emergency"], "coming_days": ["3"]}, set()),  # Saturday's window opens 5+ days ahead
    ],
)
def test_filters(world, query: dict[str, list[str]], uids: set[str]) -> None:  # type: ignore[no-untyped-def]
    changes, _ = world
    filters = parse_filters(query, REGIONS)
    assert {c.uid for c in in_range(changes, filters, as_of=AS_OF)} == uids
    shown = {
        c.uid
        for cal in build_calendar(changes, filters, as_of=AS_OF, regions=REGIONS)
        for w in cal.windows
        for c in w.changes
    }
    assert shown == uids


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"region": ["MARS"]}, "region: MARS not one of AMER"),
        ({"kind": ["backup"]}, "kind: backup not one of"),
        ({"state": ["pending"]}, "state: pending not one of"),
        ({"past_days": ["-1"]}, "past_days: '-1' is not a number of days"),
        ({"coming_days": ["400"]}, "coming_days: '400'"),
    ],
)
def test_bad_filters_are_refused_by_name(query: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_filters(query, REGIONS)


def test_the_json_names_windows_in_local_time_and_utc(world) -> None:  # type: ignore[no-untyped-def]
    changes, expected = world
    filters = Filters(regions=("AMER",), past_days=0, coming_days=7)
    data = as_json(build_calendar(changes, filters, as_of=AS_OF, regions=REGIONS), as_of=AS_OF, filters=filters)
    (amer,) = data["regions"]
    thu = next(w for w in amer["windows"] if w["start_utc"] == expected["amer_thu"][0].isoformat())
    assert thu["start"].startswith("2026-12-03T21:00:00-05:00") and thu["weekend"] is False
    assert [c["uid"] for c in thu["changes"]] == ["upgrade-u-C001", "upgrade-u-C005"]
    assert thu["changes"][0]["lead_time_hours"] == pytest.approx(
        (expected["amer_thu"][0] - (AS_OF - timedelta(days=20))).total_seconds() / 3600
    )
    assert data["filters"]["region"] == ["AMER"]


def test_the_ics_export_reads_back_with_stable_uids(world) -> None:  # type: ignore[no-untyped-def]
    from icalendar import Calendar

    changes, expected = world
    body = calendar_ics(in_range(changes, Filters(), as_of=AS_OF), dtstamp=AS_OF)
    cal = Calendar.from_ical(body)
    assert str(cal["METHOD"]) == "PUBLISH" and str(cal["VERSION"]) == "2.0"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {f"{uid}@di-ops" for uid in expected["uids"]}
    wed = events["cop-r-planned@di-ops"]
    assert wed.decoded("DTSTART") == expected["emea_wed"][0] and wed.decoded("DTEND") == expected["emea_wed"][1]
    assert int(events["upgrade-u-C012@di-ops"]["SEQUENCE"]) == 1
    assert "State: missed" in str(events["upgrade-u-C012@di-ops"]["DESCRIPTION"])
    again = Calendar.from_ical(
        calendar_ics(in_range(changes, Filters(), as_of=AS_OF), dtstamp=AS_OF + timedelta(hours=1))
    )
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == set(events)  # a re-import updates, never duplicates
