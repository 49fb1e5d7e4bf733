"""The retention invariant of backup_retention: no ``as_of``, plan or approval deletes a backup that
the real clock says is inside its retention period, or one of the 3 most recent good of its series
(DOMAIN.md §3; docs/pipelines/retention.md "Two guarantees").

Real filesystem store (tmp_path), real ops DB, the real plan/delete/verify code; only the clock is
passed in where a test needs another instant than now.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from di_ops.core.settings import policy
from di_ops.integrations.opsdb import ops_engine
from di_ops.pipelines.retention import delete as rd
from di_ops.pipelines.retention import tasks as rp
from include.demo.backups import write_backup
from tests.pipelines.retention.fixtures import fs_connection, plan_run, remaining

# CI raises it (e.g. DI_OPS_RETENTION_EXAMPLES=2000); 200 locally.
EXAMPLES = int(os.environ.get("DI_OPS_RETENTION_EXAMPLES", "200"))
DAY = timedelta(days=1)
APPROVE = {"chosen_options": ["Approve"], "responded_by_user": {"id": "bob", "name": "Bob"}}


@pytest.fixture
def stores(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ops DB; each test writes its store(s) under the returned folder."""
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    monkeypatch.delenv(rd.CRASH_ENV, raising=False)
    return tmp_path / "stores"


def six_nights(root: Path, now: datetime, customers: int = 5) -> int:
    """customers × 3 applications × 6 good nightly backups, 10 to 15 days old by ``now``."""
    for c in range(customers):
        for app in ("CUCM", "IMP", "CUC"):
            for n in range(10, 16):
                write_backup(
                    root, f"C{c:03d}", f"C{c:03d}-{app.lower()}", app, now - n * DAY, backup_id=f"{c}-{app}-{n}"
                )
    return customers * 3 * 6


def test_a_year_ahead_as_of_deletes_nothing_on_a_store_of_six_nights(stores: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The reproduction: before the invariant, this real run deleted half of every series, unguarded."""
    now = datetime.now(UTC)
    total = six_nights(stores, now)
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(stores))
    as_of = now + 365 * DAY + timedelta(hours=1)
    run_dir = plan_run("year-ahead", as_of=as_of)  # the real clock
    plan = json.loads((Path(run_dir) / "plan.json").read_text())
    assert plan["counts"] == {"keep": total // 2, "hold": total // 2} and not plan["guard"]["tripped"]
    held = [row for row in plan["backups"] if row["held_by_invariant"]]
    assert {int(row["backup_id"].rsplit("-", 1)[1]) for row in held} == {13, 14, 15}
    assert held[0]["reasons"][0].startswith("kept: 1")
    assert "old by the clock at planning (retention keeps good backups 33 days); as_of " in held[0]["reasons"][0]
    assert held[0]["reasons"][0].endswith("lies 365 days after the run")
    assert held[0]["reasons"][1].startswith("plan by as_of: good but 3")

    before = remaining(stores)
    assert rd.delete_pruned(run_dir, dry_run=False).get("removed", 0) == 0
    assert remaining(stores) == before
    summary = rd.verify_and_report(run_dir, False, None)
    assert summary["deleted"] == 0 and summary["outcome"] == "0 deleted" and summary["verified"]
    assert len(summary["held_by_invariant"]) == total // 2
    assert "lies 365 days after the run" in summary["held_by_invariant"][0]["reason"]


def test_the_delete_step_refuses_on_its_own_and_records_why(stores: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A plan made by a wrong clock (here: 2 years ahead) prunes; the delete step, by the real clock, refuses."""
    now = datetime.now(UTC)
    total = six_nights(stores, now, customers=2)
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(stores))
    as_of = now + 400 * DAY + timedelta(hours=1)
    run_dir = plan_run("wrong-clock", as_of=as_of, clock=lambda: now + 730 * DAY)
    plan = json.loads((Path(run_dir) / "plan.json").read_text())
    assert plan["counts"]["prune"] == total // 2 and not plan["guard"]["tripped"]
    before = remaining(stores)

    # a crash right after the first rename leaves a tombstone: the real clock puts it back
    monkeypatch.setenv(rd.CRASH_ENV, "rename:1")
    with pytest.raises(rd.CrashInjected):
        rd.delete_pruned(run_dir, dry_run=False, clock=lambda: now + 730 * DAY)
    assert len(list(stores.glob("*/*/*/.tombstone.*"))) == 1
    monkeypatch.delenv(rd.CRASH_ENV)

    result = rd.delete_pruned(run_dir, dry_run=False)  # the task's retry, by the real clock
    assert result["refused"] == total // 2 and result.get("removed", 0) == 0
    assert remaining(stores) == before and not list(stores.glob("*/*/*/.tombstone.*"))
    refused = json.loads((Path(run_dir) / "refused.json").read_text())
    assert len(refused) == total // 2
    assert all("old by the clock at deletion (retention keeps good backups 33 days)" in r["reason"] for r in refused)
    assert all(r["reason"].endswith("lies 400 days after the run") for r in refused)

    summary = rd.verify_and_report(run_dir, False, None)
    assert summary["deleted"] == 0 and summary["refused_at_deletion"] == refused
    from di_ops.db.schema import audit_log

    with ops_engine().connect() as conn:
        actions = Counter(
            conn.execute(select(audit_log.c.action).where(audit_log.c.run_id == "wrong-clock")).scalars().all()
        )
    assert actions == {rd.AUDIT_REFUSE: total // 2, rd.AUDIT_RUN: 1}  # the crash came before the record


# --- property: any store, any as_of, any real clock ---------------------------------------

MINUTE = timedelta(minutes=1)
AGES = st.one_of(
    st.integers(min_value=-3 * 24 * 60, max_value=80 * 24 * 60).map(lambda m: m * MINUTE),
    st.sampled_from([3 * DAY, 3 * DAY + MINUTE, 33 * DAY, 33 * DAY + MINUTE, 3 * DAY - MINUTE, 33 * DAY - MINUTE]),
)
BACKUP = st.tuples(AGES, st.sampled_from(["SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "PARTIAL"]), st.booleans())
STORE = st.lists(st.lists(BACKUP, max_size=8), min_size=1, max_size=3)
OFFSETS = st.one_of(
    st.just(timedelta(0)), st.integers(min_value=-400, max_value=800).map(lambda d: d * DAY + timedelta(hours=3))
)
CLOCKS = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2045, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def test_no_input_deletes_inside_the_retention_period(stores: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rules = policy().retention
    seen: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        store=STORE,
        clock=CLOCKS,
        as_of_offset=OFFSETS,
        plan_clock=st.sampled_from(["real", "as_of", "ten years ahead"]),
    )
    def check(
        store: list[list[tuple[timedelta, str, bool]]], clock: datetime, as_of_offset: timedelta, plan_clock: str
    ) -> None:
        seen["examples"] += 1
        root = stores / f"s{seen['examples']}"
        root.mkdir(parents=True)
        written: dict[str, dict[str, tuple[timedelta, bool]]] = {}  # series → folder → (age, good)
        for s, backups in enumerate(store):
            series = f"C{s}/C{s}-cucm/CUCM"
            written[series] = {}
            for i, (age, status, intact) in enumerate(backups):
                folder = write_backup(
                    root, f"C{s}", f"C{s}-cucm", "CUCM", clock - age, backup_id=f"s{s}-b{i}", status=status,
                    truncate=None if intact else "backup.ini",
                )  # fmt: skip
                written[series][folder.name] = (age, status == "SUCCESS" and intact)
        monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(root))
        as_of = clock + as_of_offset
        believed = {"real": clock, "as_of": as_of, "ten years ahead": clock + 3653 * DAY}[plan_clock]
        run_id = f"prop-{seen['examples']}"
        run_dir = plan_run(run_id, as_of=as_of, clock=lambda: believed)
        approval = None
        if json.loads((Path(run_dir) / "plan.json").read_text())["guard"]["tripped"]:
            rp.recheck_after_approval(run_dir, APPROVE, clock=lambda: believed)
            approval = APPROVE
        result = rd.delete_pruned(run_dir, dry_run=False, approval=approval, clock=lambda: clock)
        seen["refused"] += result.get("refused", 0)
        left = remaining(root)
        for series, folders in written.items():
            good = sorted(((clock - age, name) for name, (age, is_good) in folders.items() if is_good), reverse=True)
            top = {name for _, name in good[: rules.keep_latest_good]}
            for name, (age, is_good) in folders.items():
                if name in left.get(series, set()):
                    continue
                seen["deleted"] += 1
                limit = (rules.keep_good_days if is_good else rules.keep_bad_days) * DAY
                assert age > limit, f"{series}/{name} deleted at age {age} (limit {limit})"
                assert name not in top, f"{series}/{name} was one of the {rules.keep_latest_good} most recent good"
            kept_good = sum(1 for name in left.get(series, set()) if folders[name][1])
            assert kept_good >= min(rules.keep_latest_good, len(good))
        assert rd.verify_and_report(run_dir, False, approval)["verified"]

    check()
    # not vacuous: the examples both deleted backups and had the delete step refuse some
    assert seen["deleted"] > 0 and seen["refused"] > 0, seen
