"""Backup retention plan (DOMAIN.md §3)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import RetentionPolicy, policy
from di_ops.rules.retention import Backup, RetentionDecision, deletion_allowed, plan

AS_OF = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
SERIES = ("cust-1", "cucm-1", "CUCM")
OTHER = ("cust-2", "cucm-1", "CUCM")
US = timedelta(microseconds=1)


def bk(
    backup_id: str,
    age: timedelta,
    status: str = "SUCCESS",
    *,
    intact: bool = True,
    series: tuple[str, str, str] = SERIES,
) -> Backup:
    customer, cluster, application = series
    return Backup(
        backup_id=backup_id,
        customer_id=customer,
        cluster_id=cluster,
        application=application,
        taken_at=AS_OF - age,
        status=status,
        intact=intact,
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)


def actions(decisions: list[RetentionDecision]) -> dict[str, str]:
    return {d.backup_id: d.action for d in decisions}


# Three recent good backups so the one under test is judged by its age alone.
RECENT = [bk("r1", days(1)), bk("r2", days(2)), bk("r3", days(3))]


@pytest.mark.parametrize(
    ("age", "action"),
    [
        (days(0), "keep"),
        (days(12.5), "keep"),
        (days(33) - US, "keep"),
        (days(33), "keep"),
        (days(33) + US, "prune"),
        (days(34), "prune"),
    ],
)
def test_good_backup_kept_up_to_exactly_33_days(age: timedelta, action: str) -> None:
    decisions = plan([*RECENT, bk("x", age)], AS_OF)
    assert actions(decisions)["x"] == action


@pytest.mark.parametrize("status", ["FAILED", "PARTIAL"])
@pytest.mark.parametrize(
    ("age", "action"),
    [(days(0), "keep"), (days(3) - US, "keep"), (days(3), "keep"), (days(3) + US, "prune"), (days(30), "prune")],
)
def test_not_good_backup_kept_up_to_exactly_3_days(status: str, age: timedelta, action: str) -> None:
    assert actions(plan([*RECENT, bk("x", age, status)], AS_OF))["x"] == action


@pytest.mark.parametrize(("age", "action"), [(days(3), "keep"), (days(3) + US, "prune")])
def test_a_success_with_missing_files_is_not_good(age: timedelta, action: str) -> None:
    [decision] = plan([bk("x", age, intact=False)], AS_OF)
    assert decision.action == action
    assert "not good (status SUCCESS, files not intact)" in decision.reasons[0]


def test_the_3_latest_good_are_kept_however_old() -> None:
    backups = [bk(f"g{i}", days(100 * i)) for i in range(1, 6)]
    decisions = plan(backups, AS_OF)
    assert [d.action for d in decisions] == ["keep", "keep", "keep", "prune", "prune"]
    assert decisions[0].reasons == ["one of the 3 most recent good backups (#1)"]
    assert decisions[2].reasons == ["one of the 3 most recent good backups (#3)"]
    assert decisions[3].reasons == [
        "good but 400.0 days old (> 33 days) and only #4 of the good backups (the 3 most recent are kept)"
    ]


def test_failed_backups_never_count_toward_the_3() -> None:
    backups = [
        bk("f1", days(1), "FAILED"),
        bk("f2", days(2), "PARTIAL"),
        bk("f3", days(2.5), intact=False),
        bk("g1", days(50)),
        bk("g2", days(60)),
        bk("g3", days(70)),
        bk("g4", days(80)),
    ]
    assert actions(plan(backups, AS_OF)) == {
        "f1": "keep",
        "f2": "keep",
        "f3": "keep",
        "g1": "keep",
        "g2": "keep",
        "g3": "keep",
        "g4": "prune",
    }


def test_reasons_are_human_readable_and_complete() -> None:
    decisions = plan([bk("a", days(1)), bk("b", days(12.5)), bk("c", days(20)), bk("d", days(5), "FAILED")], AS_OF)
    assert decisions[0].reasons == ["one of the 3 most recent good backups (#1)", "good and 1.0 days old (≤ 33 days)"]
    assert decisions[1].reasons[1] == "good and 12.5 days old (≤ 33 days)"
    assert decisions[3].reasons == ["not good (status FAILED) and 5.0 days old (> 3 days)"]
    [young_failed] = plan([bk("e", days(1), "FAILED")], AS_OF)
    assert young_failed.reasons == [
        "not good (status FAILED) and 1.0 days old (≤ 3 days): kept for troubleshooting, not counted as a good backup"
    ]


def test_an_age_that_rounds_to_the_limit_is_shown_exactly() -> None:
    decisions = plan([*RECENT, bk("x", days(33) + US)], AS_OF)
    assert decisions[-1].reasons[0].startswith("good but 33 days, 0:00:00.000001 old (> 33 days)")


@pytest.mark.parametrize(
    ("ids", "kept"),
    [
        (["a", "b", "c", "d"], {"b", "c", "d"}),
        (["d", "c", "b", "a"], {"b", "c", "d"}),
        (["b-10", "b-9", "b-11", "b-1"], {"b-9", "b-11", "b-10"}),  # str order, not numeric
    ],
)
def test_ties_on_taken_at_go_to_the_greater_backup_id(ids: list[str], kept: set[str]) -> None:
    decisions = plan([bk(i, days(90)) for i in ids], AS_OF)
    assert {d.backup_id for d in decisions if d.action == "keep"} == kept
    ranks = {d.backup_id: d.reasons[0] for d in decisions if d.action == "keep"}
    assert ranks[max(ids)] == "one of the 3 most recent good backups (#1)"


@pytest.mark.parametrize(("offset", "held"), [(US, True), (days(1), True), (timedelta(0), False), (-US, False)])
def test_a_future_dated_backup_holds_its_whole_series(offset: timedelta, held: bool) -> None:
    backups = [
        bk("old", days(90)),
        bk("fail", days(40), "FAILED"),
        bk("new", -offset),
        bk("o1", days(90), series=OTHER),
    ]
    decisions = plan(backups, AS_OF)
    result = actions(decisions)
    assert result["o1"] == "keep"
    if held:
        assert [result[i] for i in ("old", "fail", "new")] == ["hold"] * 3
        assert decisions[0].reasons == ["series held (nothing deleted): backup dated after as_of: 'new'"]
    else:
        assert "hold" not in result.values()


def test_a_duplicate_backup_id_holds_its_series() -> None:
    backups = [bk("a", days(50)), bk("a", days(60)), bk("b", days(70)), bk("c", days(90), series=OTHER)]
    decisions = plan(backups, AS_OF)
    assert [d.action for d in decisions] == ["hold", "hold", "hold", "keep"]
    assert decisions[2].reasons == ["series held (nothing deleted): duplicate backup id: 'a'"]


def test_a_duplicate_across_series_holds_both_series() -> None:
    third = ("cust-3", "imp-1", "IMP")
    backups = [bk("x", days(50)), bk("y", days(60)), bk("x", days(70), series=OTHER), bk("z", days(90), series=third)]
    assert [d.action for d in plan(backups, AS_OF)] == ["hold", "hold", "hold", "keep"]


def test_a_held_series_is_held_with_the_given_reason() -> None:
    backups = [bk("a", days(50), "FAILED"), bk("b", days(1)), bk("c", days(1), series=OTHER)]
    decisions = plan(backups, AS_OF, held={SERIES: "manifest unreadable", ("nobody", "x", "y"): "ignored"})
    assert [d.action for d in decisions] == ["hold", "hold", "keep"]
    assert decisions[0].reasons == ["series held (nothing deleted): manifest unreadable"]
    [blank] = plan([bk("a", days(50))], AS_OF, held={SERIES: ""})
    assert blank.reasons == ["series held (nothing deleted): held by the caller"]


def test_several_gates_are_all_reported_and_long_id_lists_are_cut() -> None:
    backups = [bk(f"f{i}", -days(1)) for i in range(7)] + [bk("d", days(1)), bk("d", days(2))]
    decisions = plan(backups, AS_OF, held={SERIES: "manifest unreadable"})
    assert {d.action for d in decisions} == {"hold"}
    assert decisions[0].reasons == [
        "series held (nothing deleted): backup dated after as_of: 'f0', 'f1', 'f2', 'f3', 'f4' and 2 more",
        "series held (nothing deleted): duplicate backup id: 'd'",
        "series held (nothing deleted): manifest unreadable",
    ]


def test_ages_are_elapsed_time_across_a_dst_night() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    as_of = datetime(2025, 4, 3, 13, 0, tzinfo=amsterdam)  # CEST; 33 days elapsed after …
    taken = datetime(2025, 3, 1, 12, 0, tzinfo=amsterdam)  # … this CET instant (wall clock says 33 d 1 h)
    assert as_of.astimezone(UTC) - taken.astimezone(UTC) == days(33)
    backups = [*(bk(f"r{i}", days(i)) for i in (1, 2, 3))]
    backups = [b.model_copy(update={"taken_at": as_of - days(i)}) for i, b in enumerate(backups, 1)]
    kept = bk("x", days(0)).model_copy(update={"taken_at": taken})
    just_over = bk("y", days(0)).model_copy(update={"taken_at": taken - US})
    assert actions(plan([*backups, kept, just_over], as_of)) == {
        "r1": "keep",
        "r2": "keep",
        "r3": "keep",
        "x": "keep",
        "y": "prune",
    }


def test_one_decision_per_backup_in_input_order() -> None:
    assert plan([], AS_OF) == []
    backups = [bk(f"b{i:02d}", days(i * 7), "FAILED" if i % 3 == 0 else "SUCCESS") for i in range(12)]
    random.Random(4).shuffle(backups)
    decisions = plan(iter(backups), AS_OF)
    assert [d.backup_id for d in decisions] == [b.backup_id for b in backups]
    assert all(d.reasons for d in decisions)


def test_naive_datetimes_raise_value_error() -> None:
    with pytest.raises(ValueError, match="as_of"):
        plan([bk("a", days(1))], AS_OF.replace(tzinfo=None))
    with pytest.raises(ValueError, match="taken_at"):
        Backup(
            backup_id="a",
            customer_id="c",
            cluster_id="k",
            application="CUCM",
            taken_at=datetime(2025, 1, 1),
            status="SUCCESS",
        )
    unchecked = Backup.model_construct(
        backup_id="a", customer_id="c", cluster_id="k", application="CUCM", taken_at=datetime(2025, 1, 1)
    )
    with pytest.raises(ValueError, match="taken_at of backup 'a'"):
        plan([unchecked], AS_OF)


def test_status_is_case_insensitive_and_must_be_known() -> None:
    assert bk("a", days(1), " success ").status == "SUCCESS"
    with pytest.raises(ValueError, match="unknown backup status 'RUNNING'"):
        bk("a", days(1), "RUNNING")


def test_models_are_frozen_and_reasons_non_empty() -> None:
    backup = bk("a", days(1))
    with pytest.raises(ValueError):
        backup.backup_id = "b"  # type: ignore[misc]
    with pytest.raises(ValueError):
        RetentionDecision(backup_id="a", action="keep", reasons=[])
    with pytest.raises(ValueError):
        RetentionDecision(backup_id="a", action="delete", reasons=["x"])  # type: ignore[arg-type]


def test_policy_override_for_what_ifs() -> None:
    what_if = policy().retention.model_copy(update={"keep_latest_good": 1, "keep_good_days": 10, "keep_bad_days": 0})
    backups = [bk("a", days(20)), bk("b", days(30)), bk("c", days(5)), bk("f", timedelta(hours=1), "FAILED")]
    decisions = plan(backups, AS_OF, policy=what_if)
    assert actions(decisions) == {"a": "prune", "b": "prune", "c": "keep", "f": "prune"}
    assert decisions[2].reasons == ["one of the 1 most recent good backups (#1)", "good and 5.0 days old (≤ 10 days)"]
    assert decisions[3].reasons == ["not good (status FAILED) and 1:00:00 old (> 0 days)"]


# --- properties ---------------------------------------------------------------------------------

STATUSES = ("SUCCESS", "FAILED", "PARTIAL")
SERIES_KEYS = (SERIES, OTHER, ("cust-1", "cucm-1", "CUC"))
# Ages near every boundary, in microseconds, plus a few future offsets.
AGE_US = st.one_of(
    st.integers(-2, 40 * 86_400 * 10**6),
    st.sampled_from([d * 86_400 * 10**6 + e for d in (0, 3, 33) for e in (-1, 0, 1)]),
)


@st.composite
def backup_lists(draw: st.DrawFn, *, future: bool = True) -> list[Backup]:
    count = draw(st.integers(0, 14))
    ids = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=2), min_size=count, max_size=count))
    result = []
    for backup_id in ids:
        age = draw(AGE_US)
        if not future:
            age = abs(age)
        series = draw(st.sampled_from(SERIES_KEYS))
        result.append(
            bk(
                backup_id,
                timedelta(microseconds=age),
                draw(st.sampled_from(STATUSES)),
                intact=draw(st.booleans()),
                series=series,
            )
        )
    return result


def is_good(backup: Backup, rules: RetentionPolicy) -> bool:
    return backup.status in rules.good_statuses and backup.intact


PINNED = [bk("a", days(33)), bk("b", days(33) + US), bk("c", days(40)), bk("d", days(50)), bk("e", days(1), "FAILED")]


@settings(max_examples=200, deadline=None)
@given(backup_lists())
@example(PINNED)
@example([bk("a", days(40)), bk("b", days(40)), bk("c", days(40)), bk("d", days(40))])
@example([bk("a", days(40)), bk("a", days(1), series=OTHER)])
def test_never_fewer_than_min_3_good_kept_and_no_young_good_pruned(backups: list[Backup]) -> None:
    rules = policy().retention
    decisions = plan(backups, AS_OF)
    assert len(decisions) == len(backups)
    for series in SERIES_KEYS:
        rows = [(b, d) for b, d in zip(backups, decisions, strict=True) if b.series == series]
        good = [(b, d) for b, d in rows if is_good(b, rules)]
        not_pruned = [d for _, d in good if d.action != "prune"]
        assert len(not_pruned) >= min(rules.keep_latest_good, len(good))
    for backup, decision in zip(backups, decisions, strict=True):
        assert decision.reasons
        assert decision.backup_id == backup.backup_id
        if is_good(backup, rules) and AS_OF - backup.taken_at <= days(rules.keep_good_days):
            assert decision.action != "prune"


@settings(max_examples=200, deadline=None)
@given(backup_lists())
@example(PINNED)
def test_replanning_the_kept_set_keeps_all_of_it(backups: list[Backup]) -> None:
    kept = [b for b, d in zip(backups, plan(backups, AS_OF), strict=True) if d.action == "keep"]
    assert {d.action for d in plan(kept, AS_OF)} <= {"keep"}


@settings(max_examples=100, deadline=None)
@given(backup_lists(), st.randoms(use_true_random=False))
def test_the_plan_does_not_depend_on_input_order(backups: list[Backup], rnd: random.Random) -> None:
    shuffled = list(enumerate(backups))
    rnd.shuffle(shuffled)
    first = plan(backups, AS_OF)
    second = plan([b for _, b in shuffled], AS_OF)
    assert [second[k] for k, _ in sorted(enumerate(shuffled), key=lambda item: item[1][0])] == first


# --- deletion_allowed: the retention invariant by the real clock (both sides of each limit) ---

NOW = AS_OF  # the clock at deletion


@pytest.mark.parametrize(
    ("age", "good", "rank", "allowed", "reason_part"),
    [
        (days(33), True, 0, False, "33.0 days old by the clock at deletion (retention keeps good backups 33 days)"),
        (days(33) + US, True, 4, True, "may be deleted: 33 days, 0:00:00.000001 old"),
        (days(12), True, 4, False, "kept: 12.0 days old"),
        (days(400), True, 3, False, "one of the 3 most recent good backups of its series (#3"),
        (days(400), True, 1, False, "(#1 by the plan's scan)"),
        (days(400), True, 4, True, "not among the 3 most recent"),
        (days(3), False, 0, False, "(retention keeps a not-good backup 3 days)"),
        (days(3) + US, False, 0, True, "may be deleted: 3 days, 0:00:00.000001 old"),
        (days(400), False, 1, True, "may be deleted: 400.0 days"),  # a rank never protects a not-good backup
        (-US, True, 9, False, "dated 0:00:00.000001 after the clock at deletion"),
        (-days(2), False, 0, False, "a backup from the future is never deleted"),
        (timedelta(0), False, 0, False, "kept: 0.0 days old"),
    ],
)
def test_deletion_allowed_table(age: timedelta, good: bool, rank: int, allowed: bool, reason_part: str) -> None:
    verdict = deletion_allowed(taken_at=NOW - age, now=NOW, good=good, good_rank=rank)
    assert verdict.allowed is allowed
    assert reason_part in verdict.reason
    assert verdict.reason.startswith("may be deleted" if allowed else "kept: ")


@pytest.mark.parametrize(
    ("as_of", "suffix"),
    [
        (None, ""),
        (NOW + days(1) - US, ""),  # less than a day away: not worth a word
        (NOW - days(1) + US, ""),
        (NOW + days(1), f"; as_of {(NOW + days(1)).isoformat()} lies 1 days after the run"),
        (NOW + days(361.5), f"; as_of {(NOW + days(361.5)).isoformat()} lies 361 days after the run"),
        (NOW - days(30), f"; as_of {(NOW - days(30)).isoformat()} lies 30 days before the run"),
    ],
)
def test_deletion_allowed_names_how_far_as_of_lies_from_the_clock(as_of: datetime | None, suffix: str) -> None:
    verdict = deletion_allowed(taken_at=NOW - days(12), now=NOW, good=True, good_rank=5, as_of=as_of)
    assert (
        verdict.reason == f"kept: 12.0 days old by the clock at deletion (retention keeps good backups 33 days){suffix}"
    )


def test_deletion_allowed_uses_the_given_policy_and_compares_instants_across_zones() -> None:
    rules = RetentionPolicy(
        keep_latest_good=1, keep_good_days=5, keep_bad_days=1, good_statuses=("SUCCESS",), statuses=("SUCCESS",)
    )
    amsterdam = ZoneInfo("Europe/Amsterdam")
    taken = (NOW - days(5) - US).astimezone(amsterdam)
    assert deletion_allowed(taken_at=taken, now=NOW, good=True, good_rank=2, policy=rules).allowed
    assert not deletion_allowed(taken_at=taken, now=NOW, good=True, good_rank=1, policy=rules, when="now").allowed
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        deletion_allowed(taken_at=NOW, now=NOW.replace(tzinfo=None), good=True, good_rank=0)


@settings(max_examples=200, deadline=None)
@given(
    age_us=st.integers(min_value=-(10**13), max_value=10**14),
    good=st.booleans(),
    rank=st.integers(min_value=0, max_value=6),
)
def test_deletion_allowed_never_allows_inside_the_retention_period(age_us: int, good: bool, rank: int) -> None:
    rules = policy().retention
    age = timedelta(microseconds=age_us)
    verdict = deletion_allowed(taken_at=NOW - age, now=NOW, good=good, good_rank=rank)
    limit = days(rules.keep_good_days if good else rules.keep_bad_days)
    protected = age <= limit or (good and 1 <= rank <= rules.keep_latest_good)
    assert verdict.allowed is not protected
