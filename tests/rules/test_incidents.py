"""Incidents and escalation (DOMAIN.md §7a): proactive notice due, candidate state, channel, digest day.

Tables on both sides of every boundary; properties for the invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from di_ops.rules.incidents import (
    channel_deviation,
    digest_day,
    escalation_state,
    needs_proactive_notice,
    next_update_at,
    normalise_channel,
    notice_due_at,
    sent_within_objective,
)

SAT_2355 = datetime(2026, 12, 5, 23, 55, tzinfo=UTC)  # Saturday 23:55 UTC
DAY = timedelta(hours=24)
SECOND = timedelta(seconds=1)


# --- proactive notice -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "region", "opened", "due"),
    [
        ("S1", "EMEA", SAT_2355, datetime(2026, 12, 6, 0, 10, tzinfo=UTC)),  # over midnight, weekend: 24×7
        ("S2", "EMEA", SAT_2355, datetime(2026, 12, 6, 0, 25, tzinfo=UTC)),
        ("Ernst 1", "amer", SAT_2355, datetime(2026, 12, 6, 0, 10, tzinfo=UTC)),  # Dutch label, any region case
        # 15 elapsed minutes over the EU spring-forward jump (01:50 CET → 03:05 CEST)
        ("S1", "EMEA", datetime.fromisoformat("2026-03-29T01:50:00+01:00"), datetime(2026, 3, 29, 1, 5, tzinfo=UTC)),
    ],
)
def test_the_notice_is_due_within_the_severity_objective(
    severity: str, region: str, opened: datetime, due: datetime
) -> None:
    assert notice_due_at(severity, opened, region) == due


@pytest.mark.parametrize(
    ("severity", "opened", "as_of", "notified", "due"),
    [
        ("S1", SAT_2355, SAT_2355 + timedelta(minutes=5), frozenset(), True),
        ("S2", SAT_2355, SAT_2355, frozenset(), True),  # opened exactly at as_of: known, due
        ("S1", SAT_2355, SAT_2355 - SECOND, frozenset(), False),  # opened after as_of: not yet
        ("S3", SAT_2355, SAT_2355, frozenset(), False),  # S3/S4 are not announced
        ("S4", SAT_2355, SAT_2355, frozenset(), False),
        ("S1", SAT_2355, SAT_2355 + DAY, frozenset(), True),  # exactly lookback old: still inside
        ("S1", SAT_2355, SAT_2355 + DAY + SECOND, frozenset(), False),  # just outside the lookback
        ("S1", SAT_2355, SAT_2355, frozenset({"S1"}), False),  # sent once per case and severity
        ("S2", SAT_2355, SAT_2355, frozenset({"S2"}), False),
        ("S1", SAT_2355, SAT_2355, frozenset({"S2"}), True),  # raised S2 → S1: a new notice
        ("S2", SAT_2355, SAT_2355, frozenset({"S1"}), False),  # downgraded after S1 was told: none
    ],
)
def test_a_proactive_notice_is_due_once_per_worse_severity(
    severity: str, opened: datetime, as_of: datetime, notified: frozenset[str], due: bool
) -> None:
    assert needs_proactive_notice(severity, opened, as_of, notified=notified, lookback=DAY) is due


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="opened_at"):
        needs_proactive_notice("S1", datetime(2026, 12, 5), SAT_2355, notified=frozenset(), lookback=DAY)


@given(st.sampled_from(["S1", "S2", "S3", "S4"]), st.sets(st.sampled_from(["S1", "S2"])))
@example("S1", set())
def test_a_notice_already_sent_for_the_severity_is_never_due_again(severity: str, told: set[str]) -> None:
    notified = frozenset(told | {severity})
    assert not needs_proactive_notice(severity, SAT_2355, SAT_2355, notified=notified, lookback=DAY)


# --- escalation candidates --------------------------------------------------------------------------

OPENED = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # Wednesday


def _state(severity: str, as_of: datetime, *, response=None, update=None, closed=None, tracks=True, region="EMEA"):  # type: ignore[no-untyped-def]
    return escalation_state(severity, region, OPENED, response, update, closed, as_of, tracks_updates=tracks)


@pytest.mark.parametrize(
    ("severity", "as_of", "response", "update", "closed", "tracks", "state"),
    [
        # no first response: a candidate strictly after the due time (at it, still in time)
        ("S1", OPENED + timedelta(minutes=15), None, None, None, True, "none"),
        ("S1", OPENED + timedelta(minutes=15) + SECOND, None, None, None, True, "no_first_response"),
        ("S2", OPENED + timedelta(minutes=30) + SECOND, None, None, None, False, "no_first_response"),
        ("S3", datetime(2026, 12, 3, 10, 0, tzinfo=UTC), None, None, None, True, "none"),  # 1 business day: due
        ("S3", datetime(2026, 12, 3, 10, 0, 1, tzinfo=UTC), None, None, None, True, "no_first_response"),
        # a response known after as_of is not known yet
        ("S1", OPENED + timedelta(hours=1), OPENED + timedelta(hours=2), None, None, True, "no_first_response"),
        # responded; status updates judged one objective interval after the latest status
        ("S1", OPENED + timedelta(minutes=25), OPENED + timedelta(minutes=10), None, None, True, "none"),
        (
            "S1",
            OPENED + timedelta(minutes=25) + SECOND,
            OPENED + timedelta(minutes=10),
            None,
            None,
            True,
            "no_status_update",
        ),
        (
            "S1",
            OPENED + timedelta(minutes=40),
            OPENED + timedelta(minutes=10),
            OPENED + timedelta(minutes=30),
            None,
            True,
            "none",
        ),
        (
            "S1",
            OPENED + timedelta(minutes=46),
            OPENED + timedelta(minutes=10),
            OPENED + timedelta(minutes=30),
            None,
            True,
            "no_status_update",
        ),
        (
            "S1",
            OPENED + timedelta(hours=5),
            OPENED + timedelta(minutes=10),
            None,
            None,
            False,
            "none",
        ),  # no update column
        # closed (known at as_of): never a candidate
        ("S1", OPENED + timedelta(hours=5), None, None, OPENED + timedelta(hours=4), True, "none"),
        ("S1", OPENED + timedelta(hours=5), None, None, OPENED + timedelta(hours=6), True, "no_first_response"),
        ("S1", OPENED - SECOND, None, None, None, True, "none"),  # not opened yet
    ],
)
def test_the_candidate_state_table(  # type: ignore[no-untyped-def]
    severity, as_of, response, update, closed, tracks, state
) -> None:
    assert _state(severity, as_of, response=response, update=update, closed=closed, tracks=tracks).state == state


def test_a_candidate_carries_the_instant_it_counts_from_and_a_pending_case_when_it_would_become_one() -> None:
    late = _state("S2", OPENED + timedelta(hours=1))
    assert (late.since, late.due_at) == (OPENED, OPENED + timedelta(minutes=30))
    pending = _state("S2", OPENED + timedelta(minutes=5))
    assert (pending.state, pending.since, pending.due_at) == ("none", None, OPENED + timedelta(minutes=30))
    stale = _state("S1", OPENED + timedelta(hours=1), response=OPENED + timedelta(minutes=5))
    assert (stale.state, stale.since) == ("no_status_update", OPENED + timedelta(minutes=5))


def test_a_response_arriving_between_two_runs_ends_the_candidate_state() -> None:
    before = _state("S1", OPENED + timedelta(minutes=20))
    after = _state("S1", OPENED + timedelta(minutes=25), response=OPENED + timedelta(minutes=22))
    assert (before.state, after.state) == ("no_first_response", "none")


@pytest.mark.parametrize(
    ("latest", "as_of", "expected"),
    [
        (SAT_2355, SAT_2355 + timedelta(minutes=5), SAT_2355 + timedelta(minutes=15)),
        (SAT_2355, SAT_2355 + timedelta(minutes=15), SAT_2355 + timedelta(minutes=30)),  # due at as_of: roll on
        (SAT_2355, SAT_2355 + timedelta(minutes=14), SAT_2355 + timedelta(minutes=15)),
    ],
)
def test_the_next_update_promised_is_in_the_future(latest: datetime, as_of: datetime, expected: datetime) -> None:
    assert next_update_at("S1", "EMEA", latest, as_of) == expected


# --- channel ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "channel"),
    [("Phone", "phone"), (" telefoon ", "phone"), ("Case  Manager", "case_manager"), ("portal", "case_manager")],
)
def test_channel_labels(label: str, channel: str) -> None:
    assert normalise_channel(label) == channel


@pytest.mark.parametrize(
    ("severity", "channel", "deviates"),
    [
        ("S1", "phone", False),
        ("S1", "case manager", True),
        ("S2", "web", True),
        ("S3", "case manager", False),
        ("S3", "phone", True),
        ("S4", "Telefoon", True),
        ("S1", None, False),  # no channel: not judged
        ("S1", "carrier pigeon", False),  # unknown channel: not judged
    ],
)
def test_a_channel_mismatch_is_a_deviation_reported_not_judged(
    severity: str, channel: str | None, deviates: bool
) -> None:
    reason = channel_deviation(severity, channel)
    assert (reason is not None) is deviates
    if reason:
        assert severity in reason and "§7a" in reason


# --- digest day and sent within objective ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "day"),
    [
        (datetime(2026, 12, 6, 6, 59, 59, tzinfo=UTC), None),
        (datetime(2026, 12, 6, 7, 0, tzinfo=UTC), date(2026, 12, 6)),
        (datetime(2026, 12, 6, 23, 59, tzinfo=UTC), date(2026, 12, 6)),
        (datetime.fromisoformat("2026-12-06T08:30:00+02:00"), None),  # 06:30 UTC: the hour is UTC
        (datetime.fromisoformat("2026-12-06T09:00:00+02:00"), date(2026, 12, 6)),
    ],
)
def test_the_digest_is_due_from_the_configured_hour_utc(as_of: datetime, day: date | None) -> None:
    assert digest_day(as_of, 7) == day


@pytest.mark.parametrize(
    ("sent", "within"),
    [(None, False), (SAT_2355, True), (SAT_2355 - SECOND, True), (SAT_2355 + SECOND, False)],
)
def test_a_notice_at_exactly_the_due_time_is_within_the_objective(sent: datetime | None, within: bool) -> None:
    assert sent_within_objective(sent, SAT_2355) is within
