"""inventory_sync end to end through dag.test() on the demo fleet."""

from __future__ import annotations

from pathlib import Path

import pytest

from di_ops.db.engine import make_engine
from di_ops.integrations.opsdb import count_rows, latest_snapshot_id
from include.demo.fleet import write_fleet

pytestmark = pytest.mark.slow


def test_inventory_sync_loads_the_demo_fleet_and_is_idempotent(
    airflow_db, dagbag, ops_sqlite: str, tmp_path: Path
) -> None:
    folder = tmp_path / "inventory"
    write_fleet(folder)
    dag = dagbag.get_dag("inventory_sync")
    run = dag.test(run_conf={"inventory_folder": str(folder)})
    assert run.state == "success"
    engine = make_engine(ops_sqlite)
    assert count_rows(engine, "customers") == 12
    assert count_rows(engine, "inventory_rejects") == 1
    snapshot = latest_snapshot_id(engine)
    assert snapshot is not None

    rerun = dag.test(run_conf={"inventory_folder": str(folder)})
    assert rerun.state == "success"
    assert count_rows(engine, "inventory_snapshots") == 1
    assert latest_snapshot_id(engine) == snapshot


def test_inventory_sync_fails_clearly_on_a_missing_folder(airflow_db, dagbag, ops_sqlite: str, tmp_path: Path) -> None:
    run = dagbag.get_dag("inventory_sync").test(run_conf={"inventory_folder": str(tmp_path / "missing")})
    assert run.state == "failed"
