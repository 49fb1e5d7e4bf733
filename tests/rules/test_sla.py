"""Response objectives, status and compliance of TAC cases (DOMAIN.md §7)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import Objective, policy
from di_ops.rules.sla import compliance, objective_for, response_due, response_status, wilson_interval

US = timedelta(microseconds=1)
ZONES = {
    "AMER": ZoneInfo("America/New_York"),
    "APJC": ZoneInfo("Asia/Tokyo"),
    "AUS": ZoneInfo("Australia/Sydney"),
    "EMEA": ZoneInfo("Europe/Amsterdam"),
}


def local(region: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZONES[region], fold=fold)  # type: ignore[misc]


# (region, severity, opened (local wall time, fold), due (local wall time, fold))
GOLDEN = [
    # EMEA: CET→CEST on Sun 30 March 2025, CEST→CET on Sun 26 October 2025.
    ("EMEA", "S3", (2025, 3, 28, 15, 0), 0, (2025, 3, 31, 15, 0), 0),  # Fri 15:00 → Mon 15:00 over a DST night
    ("EMEA", "S3", (2025, 3, 29, 10, 0), 0, (2025, 4, 1, 0, 0), 0),  # Sat 10:00 → Tue 00:00
    ("EMEA", "S3", (2025, 3, 28, 0, 0), 0, (2025, 3, 29, 0, 0), 0),  # reached at the end of Friday → Sat 00:00
    ("EMEA", "S3", (2025, 3, 27, 23, 59), 0, (2025, 3, 28, 23, 59), 0),
    ("EMEA", "S4", (2025, 10, 24, 15, 0), 0, (2025, 10, 29, 15, 0), 0),
    ("EMEA", "S4", (2025, 10, 26, 2, 30), 1, (2025, 10, 30, 0, 0), 0),  # Sunday, in the repeated hour
    ("EMEA", "S1", (2025, 3, 30, 1, 50), 0, (2025, 3, 30, 3, 5), 0),  # 15 elapsed minutes over the gap
    ("EMEA", "S2", (2025, 10, 26, 2, 50), 0, (2025, 10, 26, 2, 20), 1),  # 30 elapsed minutes over the fold
    # AMER: EST→EDT on Sun 9 March 2025, EDT→EST on Sun 2 November 2025.
    ("AMER", "S3", (2025, 3, 7, 15, 0), 0, (2025, 3, 10, 15, 0), 0),
    ("AMER", "S3", (2025, 3, 8, 10, 0), 0, (2025, 3, 11, 0, 0), 0),
    ("AMER", "S3", (2025, 10, 31, 0, 0), 0, (2025, 11, 1, 0, 0), 0),
    ("AMER", "S4", (2025, 10, 31, 15, 0), 0, (2025, 11, 5, 15, 0), 0),
    ("AMER", "S1", (2025, 3, 9, 1, 50), 0, (2025, 3, 9, 3, 5), 0),
    ("AMER", "S2", (2025, 11, 2, 1, 50), 0, (2025, 11, 2, 1, 20), 1),
    # AUS: AEDT→AEST on Sun 6 April 2025, AEST→AEDT on Sun 5 October 2025.
    ("AUS", "S3", (2025, 4, 4, 15, 0), 0, (2025, 4, 7, 15, 0), 0),
    ("AUS", "S3", (2025, 10, 4, 10, 0), 0, (2025, 10, 7, 0, 0), 0),
    ("AUS", "S3", (2025, 10, 3, 0, 0), 0, (2025, 10, 4, 0, 0), 0),
    ("AUS", "S4", (2025, 4, 3, 9, 0), 0, (2025, 4, 8, 9, 0), 0),
    ("AUS", "S1", (2025, 10, 5, 1, 50), 0, (2025, 10, 5, 3, 5), 0),
    ("AUS", "S2", (2025, 4, 6, 2, 50), 0, (2025, 4, 6, 2, 20), 1),
    # APJC: no DST.
    ("APJC", "S3", (2025, 1, 10, 15, 0), 0, (2025, 1, 13, 15, 0), 0),
    ("APJC", "S3", (2025, 1, 11, 10, 0), 0, (2025, 1, 14, 0, 0), 0),
    ("APJC", "S3", (2025, 1, 10, 0, 0), 0, (2025, 1, 11, 0, 0), 0),
    ("APJC", "S4", (2025, 1, 11, 10, 0), 0, (2025, 1, 16, 0, 0), 0),
    ("APJC", "S2", (2025, 1, 12, 23, 45), 0, (2025, 1, 13, 0, 15), 0),
]


@pytest.mark.parametrize(("region", "severity", "opened", "fold_o", "due", "fold_d"), GOLDEN)
def test_golden_due_times(
    region: str, severity: str, opened: tuple[int, ...], fold_o: int, due: tuple[int, ...], fold_d: int
) -> None:
    opened_at = local(region, *opened, fold=fold_o)
    expected = local(region, *due, fold=fold_d).astimezone(UTC)
    assert response_due(severity, opened_at, region).astimezone(UTC) == expected
    # Same instant given in UTC, lower-case names: same answer.
    assert response_due(severity.lower(), opened_at.astimezone(UTC), region.lower()).astimezone(UTC) == expected


def test_due_is_given_in_utc() -> None:
    # A local due time in the repeated hour (fold=1) would never compare equal across zones (PEP 495).
    due = response_due("S2", local("EMEA", 2025, 10, 26, 2, 50), "EMEA")
    assert due.tzinfo is UTC
    assert due == datetime(2025, 10, 26, 1, 20, tzinfo=UTC)
    assert response_due("S3", datetime(2025, 1, 1, 12, tzinfo=UTC), "APJC").tzinfo is UTC


@pytest.mark.parametrize(
    ("severity", "objective"),
    [
        ("S1", Objective(minutes=15)),
        ("2", Objective(minutes=30)),
        ("s3", Objective(business_days=1)),
        ("Ernst 4", Objective(business_days=3)),
    ],
)
def test_objectives_come_from_settings(severity: str, objective: Objective) -> None:
    assert objective_for(severity) == objective


def test_policy_override() -> None:
    what_if = policy().sla.model_copy(update={"objectives": {**policy().sla.objectives, "S1": Objective(minutes=60)}})
    opened = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert response_due("S1", opened, "EMEA", policy=what_if) == opened + timedelta(hours=1)
    assert response_status("S1", opened, opened + timedelta(minutes=59), "EMEA", opened, policy=what_if) == "pending"


OPENED = datetime(2025, 3, 28, 14, 0, tzinfo=UTC)  # Friday 15:00 CET
DUE = OPENED + timedelta(minutes=15)
LATER = DUE + timedelta(days=30)


@pytest.mark.parametrize(
    ("response", "as_of", "status"),
    [
        (DUE, LATER, "met"),  # exactly at due
        (DUE - US, LATER, "met"),
        (DUE + US, LATER, "breached"),
        (OPENED, LATER, "met"),
        (None, DUE - US, "pending"),
        (None, DUE, "pending"),
        (None, DUE + US, "breached"),
        (None, OPENED - timedelta(days=1), "pending"),
        (DUE, DUE, "met"),  # known at as_of (response == as_of)
        (DUE - US, DUE - 2 * US, "pending"),  # response after as_of: not known yet
        (DUE + timedelta(hours=1), DUE + US, "breached"),
        (DUE + timedelta(hours=1), DUE, "pending"),
    ],
)
def test_status_on_both_sides_of_the_due_time(response: datetime | None, as_of: datetime, status: str) -> None:
    assert response_status("S1", OPENED, response, "EMEA", as_of) == status


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (datetime(2025, 3, 31, 15, 0, tzinfo=ZONES["EMEA"]), "met"),
        (datetime(2025, 3, 31, 15, 0, tzinfo=ZONES["EMEA"]) + US, "breached"),
    ],
)
def test_s3_met_exactly_at_due_over_a_weekend(response: datetime, status: str) -> None:
    opened = datetime(2025, 3, 28, 15, 0, tzinfo=ZONES["EMEA"])
    assert response_status("S3", opened, response, "EMEA", response + timedelta(days=1)) == status


def test_bad_inputs_raise_value_error() -> None:
    naive = datetime(2025, 1, 1, 12)
    with pytest.raises(ValueError, match="before opened_at"):
        response_status("S1", OPENED, OPENED - US, "EMEA", LATER)
    with pytest.raises(ValueError, match="opened_at must be timezone-aware"):
        response_due("S1", naive, "EMEA")
    with pytest.raises(ValueError, match="first_response_at must be timezone-aware"):
        response_status("S1", OPENED, naive, "EMEA", LATER)
    with pytest.raises(ValueError, match="as_of must be timezone-aware"):
        response_status("S1", OPENED, None, "EMEA", naive)
    with pytest.raises(ValueError, match="known regions: AMER, APJC, AUS, EMEA"):
        response_due("S1", OPENED, "LATAM")
    with pytest.raises(ValueError, match="unknown severity 'S5'"):
        response_due("S5", OPENED, "EMEA")


# --- properties -----------------------------------------------------------------------------

# DST transitions of 2025 (UTC) in every region with DST; opened instants cluster around them.
TRANSITIONS = [
    datetime(2025, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 11, 2, 6, tzinfo=UTC),
    datetime(2025, 3, 30, 1, tzinfo=UTC),
    datetime(2025, 10, 26, 1, tzinfo=UTC),
    datetime(2025, 4, 5, 16, tzinfo=UTC),
    datetime(2025, 10, 4, 16, tzinfo=UTC),
]
WEEK_US = 7 * 86_400 * 10**6
instants = st.one_of(
    st.builds(
        lambda t, us: t + timedelta(microseconds=us), st.sampled_from(TRANSITIONS), st.integers(-WEEK_US, WEEK_US)
    ),
    st.datetimes(datetime(2024, 1, 1), datetime(2027, 1, 1)).map(lambda d: d.replace(tzinfo=UTC)),
)
regions = st.sampled_from(sorted(ZONES))
severities = st.sampled_from(["S1", "S2", "S3", "S4"])


@settings(max_examples=200, deadline=None)
@given(severities, regions, instants, instants)
@example("S3", "EMEA", datetime(2025, 3, 28, 23, 0, tzinfo=UTC), datetime(2025, 3, 29, 22, 59, tzinfo=UTC))
def test_due_is_after_opening_and_monotone(severity: str, region: str, a: datetime, b: datetime) -> None:
    early, late = sorted((a, b))
    due_early, due_late = response_due(severity, early, region), response_due(severity, late, region)
    assert due_early > early
    assert due_early <= due_late


@settings(max_examples=200, deadline=None)
@given(severities, regions, instants, st.integers(0, 10 * 86_400 * 10**6), st.integers(0, 10 * 86_400 * 10**6))
def test_a_known_response_is_met_exactly_when_not_after_due(
    severity: str, region: str, opened: datetime, wait_us: int, extra_us: int
) -> None:
    response = opened + timedelta(microseconds=wait_us)
    as_of = response + timedelta(microseconds=extra_us)
    due = response_due(severity, opened, region)
    expected = "met" if response <= due else "breached"
    assert response_status(severity, opened, response, region, as_of) == expected


# --- Wilson interval and compliance ---------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (0, 0, 0.0, 1.0),
        (95, 100, 0.88825, 0.97846),
        (0, 10, 0.0, 0.27754),
        (10, 10, 0.72246, 1.0),
        (1, 2, 0.09453, 0.90547),
    ],
)
def test_wilson_interval_known_values(successes: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(successes, n)
    assert got_low == pytest.approx(low, abs=1e-5)
    assert got_high == pytest.approx(high, abs=1e-5)


@pytest.mark.parametrize(("successes", "n", "z"), [(-1, 5, 1.96), (6, 5, 1.96), (1, 5, 0.0), (1, 5, math.nan)])
def test_wilson_interval_rejects_bad_arguments(successes: int, n: int, z: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n, z)


@pytest.mark.parametrize(("successes", "n"), [(1.0, 5), (1, True), ("1", 5)])
def test_wilson_interval_wants_integers(successes: object, n: object) -> None:
    with pytest.raises(TypeError):
        wilson_interval(successes, n)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
@example((0, 1))
@example((1, 1))
def test_wilson_interval_contains_the_ratio(case: tuple[int, int]) -> None:
    successes, n = case
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / max(n, 1) <= high <= 1.0


@pytest.mark.parametrize(
    ("met", "breached", "meets", "too_few"),
    [
        (19, 1, True, True),  # exactly 95 %, small sample
        (18, 2, False, True),
        (9_500, 500, True, True),  # exactly 95 %: the interval still straddles it
        (9_600, 400, True, False),
        (9_400, 600, False, False),
        (10_000, 0, True, False),
        (0, 0, False, True),
    ],
)
def test_compliance_against_the_95_percent_standard(met: int, breached: int, meets: bool, too_few: bool) -> None:
    result = compliance(met, breached)
    assert result.n == met + breached
    assert result.standard == 0.95
    assert result.meets_standard is meets
    assert result.too_few_to_judge is too_few
    assert result.ratio == (met / result.n if result.n else None)


def test_compliance_standard_override_and_errors() -> None:
    assert compliance(8, 2, standard=0.8).meets_standard is True
    assert compliance(7, 3, 0.8).meets_standard is False
    for bad in ((-1, 0), (1.0, 0), (True, 0)):
        with pytest.raises(ValueError, match="met"):
            compliance(*bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="breached"):
        compliance(1, -1)
    for standard in (0.0, 1.5, math.nan):
        with pytest.raises(ValueError, match="standard"):
            compliance(1, 1, standard)
    with pytest.raises(ValueError):
        compliance(1, 1).n = 3  # type: ignore[misc]
