"""Backup health rules (DOMAIN.md §3 Freshness, What a restore brings back, Disaster recovery target):
both sides of each boundary - the night's 18:00 local edge in every region's zone, the two-night edge,
DST nights, 3 good backups - restore- and DR-readiness, and the checksum rotation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from di_ops.rules.backup_health import (
    Freshness,
    RestoreReadiness,
    dr_readiness,
    fleet_counts,
    night_start,
    restore_readiness,
    series_health,
    verify_tonight,
)

ZONES = {
    "AMER": ZoneInfo("America/New_York"),
    "APJC": ZoneInfo("Asia/Tokyo"),
    "AUS": ZoneInfo("Australia/Sydney"),
    "EMEA": ZoneInfo("Europe/Amsterdam"),
}
SECOND = timedelta(seconds=1)
AS_OF = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # the demo's instant: a different local date per region


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZONES[zone])  # type: ignore[misc]


# (region, as_of, 18:00 local the day before as_of's local date)
NIGHT_EDGES = [
    ("AMER", AS_OF, local("AMER", 2026, 11, 25, 18)),  # 21:30 on the 26th in New York
    ("APJC", AS_OF, local("APJC", 2026, 11, 26, 18)),  # 11:30 on the 27th in Tokyo
    ("AUS", AS_OF, local("AUS", 2026, 11, 26, 18)),  # 13:30 on the 27th in Sydney (AEDT)
    ("EMEA", AS_OF, local("EMEA", 2026, 11, 26, 18)),  # 03:30 on the 27th in Amsterdam
    # DST nights: spring forward / fall back inside the night before the check
    ("EMEA", datetime(2026, 3, 29, 9, tzinfo=UTC), local("EMEA", 2026, 3, 28, 18)),  # CET evening, CEST morning
    ("EMEA", datetime(2026, 10, 25, 9, tzinfo=UTC), local("EMEA", 2026, 10, 24, 18)),  # CEST evening, CET morning
    ("AMER", datetime(2026, 3, 8, 15, tzinfo=UTC), local("AMER", 2026, 3, 7, 18)),
    ("AMER", datetime(2026, 11, 1, 15, tzinfo=UTC), local("AMER", 2026, 10, 31, 18)),
    ("AUS", datetime(2026, 4, 5, 1, tzinfo=UTC), local("AUS", 2026, 4, 4, 18)),  # AEDT -> AEST
    ("AUS", datetime(2026, 10, 4, 1, tzinfo=UTC), local("AUS", 2026, 10, 3, 18)),  # AEST -> AEDT
    # a check at 11:00 UTC (the schedule): Tokyo and Sydney are already in the evening of that day
    ("APJC", datetime(2026, 11, 27, 11, tzinfo=UTC), local("APJC", 2026, 11, 26, 18)),
    ("AUS", datetime(2026, 11, 27, 11, tzinfo=UTC), local("AUS", 2026, 11, 26, 18)),
]


@pytest.mark.parametrize(("region", "as_of", "edge"), NIGHT_EDGES)
def test_the_night_starts_at_18_local_the_day_before_fresh_just_inside_missed_just_outside(
    region: str, as_of: datetime, edge: datetime
) -> None:
    zone = ZONES[region]
    assert night_start(as_of, zone) == edge
    inside = series_health([edge, edge - timedelta(days=1), edge - timedelta(days=2)], as_of, zone)
    outside = series_health([edge - SECOND, edge - timedelta(days=1), edge - timedelta(days=2)], as_of, zone)
    assert inside.freshness is Freshness.FRESH and not inside.at_risk
    assert outside.freshness is Freshness.MISSED
    assert inside.night_start == edge


@pytest.mark.parametrize(("region", "as_of", "edge"), NIGHT_EDGES)
def test_two_nights_without_a_good_backup_is_overdue_one_second_earlier(
    region: str, as_of: datetime, edge: datetime
) -> None:
    zone = ZONES[region]
    night_before = night_start(as_of, zone, nights_back=2)
    assert night_before.astimezone(zone).time() == time(18) and night_before.date() == edge.date() - timedelta(days=1)
    assert series_health([night_before], as_of, zone).freshness is Freshness.MISSED
    overdue = series_health([night_before - SECOND], as_of, zone)
    assert overdue.freshness is Freshness.OVERDUE and overdue.latest_good == night_before - SECOND


def test_a_dst_night_is_an_hour_shorter_or_longer_in_elapsed_time() -> None:
    zone = ZONES["EMEA"]
    spring = datetime(2026, 3, 29, 9, tzinfo=UTC)
    fall = datetime(2026, 10, 25, 9, tzinfo=UTC)
    assert spring - night_start(spring, zone) == timedelta(hours=16)  # 17:00 UTC -> 09:00 UTC
    assert fall - night_start(fall, zone) == timedelta(hours=17)  # 16:00 UTC -> 09:00 UTC
    assert night_start(fall, zone) - night_start(fall, zone, nights_back=2) == timedelta(hours=24)


def test_never_a_good_backup_is_overdue_and_at_risk() -> None:
    health = series_health([], AS_OF, ZONES["EMEA"])
    assert health.freshness is Freshness.OVERDUE and health.at_risk and health.good_backups == 0
    assert health.latest_good is None and "never a good backup" in health.reasons[0]


@pytest.mark.parametrize(("good", "at_risk"), [(0, True), (1, True), (2, True), (3, False), (4, False)])
def test_fewer_than_three_good_backups_is_at_risk(good: int, at_risk: bool) -> None:
    taken = [AS_OF - timedelta(hours=3 + 24 * n) for n in range(good)]
    health = series_health(taken, AS_OF, ZONES["EMEA"])
    assert health.at_risk is at_risk and health.good_backups == good
    assert any("fewer than 3" in r for r in health.reasons) is at_risk


def test_min_good_is_a_setting_and_must_be_positive() -> None:
    taken = [AS_OF - timedelta(hours=3 + 24 * n) for n in range(3)]
    assert series_health(taken, AS_OF, ZONES["EMEA"], min_good=4).at_risk
    with pytest.raises(ValueError, match="min_good"):
        series_health(taken, AS_OF, ZONES["EMEA"], min_good=0)


def test_a_backup_after_as_of_counts_for_nothing_and_at_as_of_counts() -> None:
    zone = ZONES["EMEA"]
    old = [AS_OF - timedelta(days=n) for n in (3, 4, 5)]
    assert series_health([AS_OF + SECOND, *old], AS_OF, zone).freshness is Freshness.OVERDUE
    assert series_health([AS_OF, *old], AS_OF, zone).freshness is Freshness.FRESH


def test_the_evening_is_a_setting() -> None:
    zone = ZONES["EMEA"]
    taken = [local("EMEA", 2026, 11, 26, 19)]
    assert series_health(taken, AS_OF, zone).freshness is Freshness.FRESH
    assert series_health(taken, AS_OF, zone, evening=time(20)).freshness is Freshness.MISSED


def test_naive_instants_and_bad_nights_back_are_refused() -> None:
    with pytest.raises(ValueError, match="as_of"):
        series_health([], datetime(2026, 11, 27), ZONES["EMEA"])
    with pytest.raises(ValueError, match="taken_at"):
        series_health([datetime(2026, 11, 26, 23)], AS_OF, ZONES["EMEA"])
    with pytest.raises(ValueError, match="nights_back"):
        night_start(AS_OF, ZONES["EMEA"], nights_back=0)


@pytest.mark.parametrize(
    ("components", "required", "ready", "missing"),
    [
        (["configuration"], ["configuration"], True, ()),  # CUCM
        (["configuration", "voicemail"], ["configuration", "voicemail"], True, ()),  # Unity Connection
        (["configuration"], ["configuration", "voicemail"], False, ("voicemail",)),  # no voicemail
        (["Configuration", "VOICEMAIL"], ["configuration", "voicemail"], True, ()),  # case-insensitive
        (["configuration", "chat"], ["configuration"], True, ()),  # IM&P: chat is extra, not needed
        ([], ["custom"], False, ("custom",)),  # Expressway without its custom backup
        (None, ["configuration"], False, ("configuration",)),  # an older manifest: no components key
    ],
)
def test_restore_ready_needs_every_component_of_the_application(
    components: list[str] | None, required: list[str], ready: bool, missing: tuple[str, ...]
) -> None:
    verdict = restore_readiness(components, required)
    assert verdict.ready is ready and verdict.missing == missing
    if components is None:
        assert verdict.reason == "the manifest lists no components"
    elif missing:
        assert verdict.reason == "lacks " + ", ".join(missing)


def test_an_application_needs_at_least_one_component() -> None:
    with pytest.raises(ValueError, match="at least one"):
        restore_readiness(["configuration"], [])


READY = RestoreReadiness(ready=True, missing=(), reason="lists configuration")
NOT_READY = RestoreReadiness(ready=False, missing=("voicemail",), reason="lacks voicemail")


@pytest.mark.parametrize(
    ("restore", "checksums", "archive", "ready", "reasons"),
    [
        (READY, True, True, True, ()),
        (NOT_READY, True, True, False, ("not restore-ready: lacks voicemail",)),
        (READY, False, True, False, ("checksum mismatch",)),
        (READY, None, True, False, ("checksums not verified",)),
        (READY, True, False, False, ("archive unreadable",)),
        (READY, True, None, False, ("archive not checked",)),
        (None, True, True, False, ("no good backup",)),
        (
            NOT_READY,
            False,
            False,
            False,
            ("not restore-ready: lacks voicemail", "checksum mismatch", "archive unreadable"),
        ),
    ],
)
def test_dr_ready_needs_restore_ready_verified_checksums_and_a_readable_archive(
    restore: RestoreReadiness | None,
    checksums: bool | None,
    archive: bool | None,
    ready: bool,
    reasons: tuple[str, ...],
) -> None:
    verdict = dr_readiness(restore, checksums, archive)
    assert verdict.ready is ready and verdict.reasons == reasons


def test_the_latest_good_backup_is_verified_every_night() -> None:
    assert all(verify_tonight(f"C/c/A/b{i}", AS_OF, latest=True, rotation_nights=30) for i in range(50))


@given(st.text(min_size=1, max_size=80), st.integers(min_value=1, max_value=31), st.integers(0, 1000))
def test_every_other_backup_is_verified_exactly_once_in_each_rotation(path: str, nights: int, offset: int) -> None:
    start = AS_OF + timedelta(days=offset)
    due = [verify_tonight(path, start + timedelta(days=n), latest=False, rotation_nights=nights) for n in range(nights)]
    assert sum(due) == 1


def test_the_rotation_spreads_the_backups_over_the_nights_and_must_be_positive() -> None:
    due = sum(verify_tonight(f"C{i:04d}/c/A/b", AS_OF, latest=False, rotation_nights=7) for i in range(7000))
    assert 800 < due < 1200  # about 1/7 of them each night
    with pytest.raises(ValueError, match="rotation_nights"):
        verify_tonight("x", AS_OF, latest=False, rotation_nights=0)


def test_fleet_counts() -> None:
    rows = [
        {"freshness": "fresh", "at_risk": False, "dr_ready": True},
        {"freshness": "missed", "at_risk": True, "dr_ready": False},
        {"freshness": "overdue", "at_risk": True, "dr_ready": False},
        {"freshness": "fresh", "at_risk": False, "dr_ready": False},
    ]
    assert fleet_counts(rows) == {"series": 4, "fresh": 2, "missed": 1, "overdue": 1, "at_risk": 2, "dr_ready": 1}
    assert fleet_counts([]) == {"series": 0, "fresh": 0, "missed": 0, "overdue": 0, "at_risk": 0, "dr_ready": 0}
