"""backup_retention end to end through dag.test() on a generated filesystem store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.db.engine import make_engine
from di_ops.integrations.opsdb import count_rows
from include.demo.backups import write_backup
from tests.pipelines.retention.fixtures import AS_OF, build_store, fs_connection, remaining

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, set[str]]]:
    root = tmp_path / "backups"
    expected = build_store(root)
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(root))
    return root, expected


def _states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_real_run_leaves_exactly_the_planned_folders(airflow_db, dagbag, ops_sqlite, data_dir, store) -> None:  # type: ignore[no-untyped-def]
    root, expected = store
    doomed = {
        p: sum(f.stat().st_size for f in p.iterdir())
        for p in root.glob("*/*/*/*")
        if p.name not in expected["/".join(p.relative_to(root).parts[:3])]
    }
    assert len(doomed) == 12
    run = dagbag.get_dag("backup_retention").test(run_conf={"as_of": AS_OF.isoformat()})
    states = _states(run)
    assert run.state == "success", states
    assert states["approve_pruning"] == "skipped"
    assert remaining(root) == expected
    assert not list(root.glob("*/*/*/.tombstone.*"))

    engine = make_engine(ops_sqlite)
    from di_ops.db.schema import audit_log
    from di_ops.db.tables_retention import retention_catalog_errors, retention_plan

    assert count_rows(engine, "retention_plan") == sum(1 for _ in root.glob("*/*/*/*")) + 12
    with engine.connect() as conn:
        checks = {
            tuple(r) for r in conn.execute(select(retention_catalog_errors.c.path, retention_catalog_errors.c.check))
        }
        pruned = conn.execute(select(audit_log).where(audit_log.c.action == "retention.prune")).mappings().all()
        held = conn.execute(select(retention_plan.c.path).where(retention_plan.c.action == "hold")).scalars().all()
    assert ("C002/C002-cucm/CUCM/C002-cucm-n1", "manifest") in checks
    assert ("C003/C003-imp/IMP/C003-imp-n1", "status_allowed") in checks
    assert ("C003/C003-cer/CER/C003-cer-n-1", "taken_at_not_future") in checks
    assert len(held) == 6 + 4 + 5
    freed = {p["entity"]: p["detail"]["bytes_freed"] for p in pruned}
    assert freed == {str(p.relative_to(root)): size for p, size in doomed.items()}
    assert all(p["detail"]["reasons"] for p in pruned)

    (folder,) = (data_dir / "retention" / "runs").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["deleted"] == 12 and summary["verified"] and summary["bytes_freed"] == sum(doomed.values())
    assert (folder / "plan.csv").read_text().count("\n") == 1 + len(
        json.loads((folder / "plan.json").read_text())["backups"]
    )
    assert (folder / "gx" / "validation_result.json").exists() and (folder / "gx" / "data_docs" / "index.html").exists()


def test_dry_run_deletes_nothing_but_plans_everything(airflow_db, dagbag, ops_sqlite, data_dir, store) -> None:  # type: ignore[no-untyped-def]
    root, _expected = store
    before = remaining(root)
    run = dagbag.get_dag("backup_retention").test(run_conf={"as_of": AS_OF.isoformat(), "dry_run": True})
    assert run.state == "success", _states(run)
    assert remaining(root) == before
    engine = make_engine(ops_sqlite)
    from di_ops.db.tables_retention import retention_plan

    with engine.connect() as conn:
        prunes = conn.execute(select(retention_plan.c.path).where(retention_plan.c.action == "prune")).scalars().all()
    assert len(prunes) == 12
    assert count_rows(engine, "retention_deletions") == 0


def test_as_of_a_year_ahead_is_refused_on_a_real_run_and_a_dry_run_shows_the_invariant(  # type: ignore[no-untyped-def]
    airflow_db, dagbag, ops_sqlite, data_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_sink
) -> None:
    """6 nights of good backups 10-15 days old by the real clock, as_of a year ahead.

    A real run is refused by its first task (no retry, no on-call mail, one audit row) before the
    store is read. A dry run may look at that instant: the plan by as_of alone would prune 3 of 6 per
    series; the retention invariant (the real clock) holds them, and the summary says why."""
    from di_ops.core.request import AUDIT_REFUSED
    from di_ops.db.schema import audit_log

    root = tmp_path / "six-nights"
    now = datetime.now(UTC)
    for customer in ("C001", "C002"):
        for app in ("CUCM", "IMP"):
            for n in range(10, 16):
                write_backup(root, customer, f"{customer}-{app.lower()}", app, now - timedelta(days=n))
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(root))
    before = remaining(root)
    as_of = now + timedelta(days=365, hours=1)
    dag = dagbag.get_dag("backup_retention")

    refused = dag.test(run_conf={"as_of": as_of.isoformat()})
    states = _states(refused)
    assert refused.state == "failed" and "success" not in states.values(), states
    assert remaining(root) == before and not (data_dir / "retention" / "runs").exists()
    assert list(smtp_sink.glob("*.eml")) == []  # a refusal alerts nobody
    with make_engine(ops_sqlite).connect() as conn:
        rows = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == AUDIT_REFUSED)).scalars().all()
    assert rows and all(r["param"] == "as_of" and "lies after the run's start" in r["reason"] for r in rows)

    run = dag.test(run_conf={"as_of": as_of.isoformat(), "dry_run": True})
    states = _states(run)
    assert run.state == "success", states
    assert remaining(root) == before
    (folder,) = (data_dir / "retention" / "runs").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["deleted"] == 0 and summary["plan"] == {"keep": 12, "hold": 12}
    assert len(summary["held_by_invariant"]) == 12
    assert all(
        "old by the clock at planning (retention keeps good backups 33 days); as_of " in h["reason"]
        and h["reason"].endswith("lies 365 days after the run")
        for h in summary["held_by_invariant"]
    )
