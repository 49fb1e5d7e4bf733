"""ops_housekeeping end to end through dag.test(): dry run, real run, rerun, change freeze.

Every dag.test call passes every Param: Param values leak between dag.test calls on the shared
session DagBag. File ages are set against the real clock (the task's active guard uses it).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.core.run_folders import run_folder_name
from di_ops.db import schema
from di_ops.db.engine import make_engine
from di_ops.pipelines.housekeeping.settings import housekeeping_settings
from tests.pipelines.housekeeping.test_housekeeping import GONE, build_data

pytestmark = pytest.mark.slow

DAG_ID = "ops_housekeeping"


def conf(*, dry_run: bool, as_of: str | None) -> dict[str, object]:
    return {"dry_run": dry_run, "as_of": as_of}


def actions(engine, run_id: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    t = schema.audit_log
    with engine.connect() as conn:
        return [(r.action, r.entity) for r in conn.execute(select(t).where(t.c.run_id == run_id))]


def test_dry_run_then_real_run_then_rerun(airflow_db, dagbag, ops_sqlite: str, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", raising=False)
    housekeeping_settings.cache_clear()
    now = datetime.now(UTC)
    keep = build_data(data_dir, now=now)
    as_of = now.isoformat()
    dag = dagbag.get_dag(DAG_ID)
    engine = make_engine(ops_sqlite)

    dry = dag.test(run_conf=conf(dry_run=True, as_of=as_of))
    assert dry.state == "success"
    for rel in GONE:
        assert (data_dir / rel).exists(), f"the dry run deleted {rel}"
    dry_summary = json.loads(next((data_dir / "reports/housekeeping").glob("*/summary.json")).read_text())
    assert dry_summary["dry_run"] is True and dry_summary["outputs"]["would_delete"] == 7
    assert sum(1 for a, _ in actions(engine, dry.run_id) if a == "housekeeping.delete") == 7

    real = dag.test(run_conf=conf(dry_run=False, as_of=as_of))
    assert real.state == "success"
    for rel in GONE:
        assert not (data_dir / rel).exists(), f"{rel} is still there"
    for rel in keep:
        assert (data_dir / rel).exists(), f"{rel} was deleted"
    folders = {p.name for p in (data_dir / "reports/housekeeping").iterdir()}
    assert len(folders) == 2  # both runs' report folders are young: kept
    summary = json.loads(
        (data_dir / "reports/housekeeping" / run_folder_name(real.run_id) / "summary.json").read_text()
    )
    assert summary["outputs"]["deleted"] == 7 and summary["tombstones"]["store_scanned"] is False
    assert "not defined" in summary["tombstones"]["store"]
    assert "tables" in summary["history"]
    assert ("housekeeping.keep", "tables") in actions(engine, real.run_id)

    again = dag.test(run_conf=conf(dry_run=False, as_of=None))
    assert again.state == "success"
    summary = json.loads(
        (data_dir / "reports/housekeeping" / run_folder_name(again.run_id) / "summary.json").read_text()
    )
    assert summary["outputs"]["deleted"] == 0
    for rel in keep:
        assert (data_dir / rel).exists()


def test_the_change_freeze_stops_a_real_run_but_not_a_dry_run(  # type: ignore[no-untyped-def]
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, monkeypatch
) -> None:
    housekeeping_settings.cache_clear()
    now = datetime.now(UTC)
    build_data(data_dir, now=now)
    monkeypatch.setenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", "year-end freeze")
    dag = dagbag.get_dag(DAG_ID)
    frozen = dag.test(run_conf=conf(dry_run=False, as_of=now.isoformat()))
    assert frozen.state == "failed"
    for rel in GONE:
        assert (data_dir / rel).exists()
    dry = dag.test(run_conf=conf(dry_run=True, as_of=now.isoformat()))
    assert dry.state == "success"
