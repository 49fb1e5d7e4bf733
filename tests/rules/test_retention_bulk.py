"""The columnar retention plan agrees with the scalar one (DOMAIN.md §3, bulk form)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import policy
from di_ops.rules.retention import Backup, plan
from di_ops.rules.retention_bulk import HOLD, KEEP, PRUNE, ColumnarPlan, plan_columns
from tests.rules.test_retention import AS_OF, OTHER, PINNED, SERIES, US, backup_lists, bk, days

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns(moment: datetime) -> int:
    return (moment - EPOCH) // US * 1000


def columnar(backups: list[Backup], as_of: datetime = AS_OF, **kwargs: Any) -> ColumnarPlan:
    return plan_columns(
        np.array([b.backup_id for b in backups], dtype=object),
        (
            np.array([b.customer_id for b in backups], dtype=object),
            np.array([b.cluster_id for b in backups], dtype=object),
            np.array([b.application for b in backups], dtype=object),
        ),
        np.array([ns(b.taken_at) for b in backups], dtype=np.int64),
        np.array([b.status for b in backups], dtype=object),
        np.array([b.intact for b in backups], dtype=bool),
        as_of,
        **kwargs,
    )


HELD = st.one_of(st.none(), st.just({SERIES: "manifest unreadable"}), st.just({OTHER: ""}))


@settings(max_examples=200, deadline=None)
@given(backup_lists(), HELD)
@example(PINNED, None)
@example([bk("a", days(40)), bk("b", days(40)), bk("c", days(40)), bk("d", days(40))], None)
@example([bk("a", days(40)), bk("a", days(1), series=OTHER), bk("f", -US)], {SERIES: "x"})
def test_columnar_plan_agrees_with_plan(backups: list[Backup], held: dict[tuple[str, str, str], str] | None) -> None:
    expected = plan(backups, AS_OF, held=held)
    result = columnar(backups, held=held)
    assert result.decisions() == expected
    assert list(result.action_names()) == [d.action for d in expected]


@settings(max_examples=50, deadline=None)
@given(backup_lists())
def test_one_key_column_with_string_keys_agrees_too(backups: list[Backup]) -> None:
    keys = ["/".join(b.series) for b in backups]
    held = {"/".join(SERIES): "manifest unreadable"}
    result = plan_columns(
        [b.backup_id for b in backups],
        np.array(keys, dtype=object),
        [ns(b.taken_at) for b in backups],
        [b.status for b in backups],
        [b.intact for b in backups],
        AS_OF,
        held=held,
    )
    assert result.decisions() == plan(backups, AS_OF, held={SERIES: "manifest unreadable"})


def test_many_rows_with_heavy_ties_agree() -> None:
    rng = np.random.default_rng(7)
    n = 4000
    customers = rng.choice([f"c{i}" for i in range(20)], n)
    clusters = rng.choice(["k1", "k2"], n)
    ages = np.maximum(rng.choice(np.array([0, 1, 3, 33, 34, 50]) * 86_400 * 10**6, n) + rng.choice([-1, 0, 1], n), 0)
    ids = np.array([f"b{i}" for i in rng.permutation(n)], dtype=object)
    statuses = rng.choice(["SUCCESS", "SUCCESS", "FAILED", "PARTIAL"], n)
    intact = rng.random(n) < 0.9
    backups = [
        Backup(
            backup_id=str(ids[i]),
            customer_id=str(customers[i]),
            cluster_id=str(clusters[i]),
            application="CUCM",
            taken_at=AS_OF - timedelta(microseconds=int(ages[i])),
            status=str(statuses[i]),
            intact=bool(intact[i]),
        )
        for i in range(n)
    ]
    expected = plan(backups, AS_OF)
    result = columnar(backups)
    assert result.decisions() == expected
    assert {KEEP, PRUNE} <= set(result.action.tolist())


def test_codes_ranks_and_lazy_texts() -> None:
    backups = [bk("g1", days(1)), bk("g2", days(40)), bk("f", days(5), "FAILED"), bk("h", days(1), series=OTHER)]
    result = columnar(backups, held={OTHER: "manifest unreadable"})
    assert len(result) == 4
    assert result.action.tolist() == [KEEP, KEEP, PRUNE, HOLD]
    assert result.top_rank.tolist() == [1, 2, 0, 0]
    assert result.reasons(3) == ["series held (nothing deleted): manifest unreadable"]
    assert result.decision(2).reasons == ["not good (status FAILED) and 5.0 days old (> 3 days)"]


def test_empty_input() -> None:
    result = columnar([])
    assert len(result) == 0
    assert result.decisions() == []


def test_policy_override_agrees() -> None:
    what_if = policy().retention.model_copy(update={"keep_latest_good": 1, "keep_good_days": 10})
    backups = [bk("a", days(20)), bk("b", days(30)), bk("c", days(5)), bk("f", days(1), "FAILED")]
    assert columnar(backups, policy=what_if).decisions() == plan(backups, AS_OF, policy=what_if)


def test_series_as_a_list_of_tuples() -> None:
    backups = [bk("a", days(40)), bk("b", days(50), series=OTHER)]
    result = plan_columns(
        ["a", "b"], [SERIES, OTHER], [ns(b.taken_at) for b in backups], ["SUCCESS"] * 2, [True] * 2, AS_OF
    )
    assert result.decisions() == plan(backups, AS_OF)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"taken_at_ns": [0]}, "same length"),
        ({"status": ["SUCCESS"]}, "same length"),
        ({"status": ["SUCCESS", "RUNNING"]}, "unknown backup status"),
        ({"series": ()}, "at least one key column"),
        ({"series": np.zeros((2, 3), dtype=object)}, "one column of keys"),
        ({"as_of": datetime(2025, 1, 1)}, "as_of must be timezone-aware"),
    ],
)
def test_bad_columns_raise_value_error(change: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "backup_id": ["a", "b"],
        "series": ["s", "s"],
        "taken_at_ns": [0, 1],
        "status": ["SUCCESS", "failed"],
        "intact": [True, True],
        "as_of": AS_OF,
    }
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        plan_columns(**arguments)


def test_a_hash_collision_is_not_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every id hashes alike: only the exact comparison of the candidates may find duplicates.
    monkeypatch.setattr(pd.util, "hash_array", lambda values, categorize: np.zeros(len(values), dtype=np.uint64))
    backups = [bk("a", days(40)), bk("b", days(50)), bk("c", days(60), series=OTHER), bk("c", days(61), series=OTHER)]
    result = columnar(backups)
    assert result.action_names().tolist() == ["keep", "keep", "hold", "hold"]
    assert result.decisions() == plan(backups, AS_OF)
