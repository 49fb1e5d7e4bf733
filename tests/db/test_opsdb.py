"""Inventory snapshots and run pins in the ops DB (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from di_ops.core.inventory import read_inventory
from di_ops.db.engine import upgrade
from di_ops.integrations.opsdb import count_rows, latest_snapshot_id, pin_snapshot, snapshot_rows, store_inventory
from include.demo.fleet import write_fleet

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def test_snapshot_is_stored_once_and_runs_keep_their_pin(ops_db: Engine, tmp_path: Path) -> None:
    upgrade(ops_db)
    write_fleet(tmp_path / "v1", customers=8)
    first = read_inventory(tmp_path / "v1")
    summary = store_inventory(ops_db, first, T0)
    assert summary["new"] is True and summary["customers"] == 8 and summary["rejected"] == 1
    assert store_inventory(ops_db, first, T0)["new"] is False
    assert count_rows(ops_db, "customers") == 8
    assert count_rows(ops_db, "inventory_rejects") == 1

    pinned = pin_snapshot(ops_db, "backup_retention", "run-1", T0, T0)
    assert pinned == first.snapshot_id

    write_fleet(tmp_path / "v2", customers=12)
    second = read_inventory(tmp_path / "v2")
    store_inventory(ops_db, second, T0.replace(hour=3))
    assert latest_snapshot_id(ops_db) == second.snapshot_id
    # a rerun of run-1 still sees the snapshot it started with; a new run sees the new one
    assert pin_snapshot(ops_db, "backup_retention", "run-1", T0, T0) == first.snapshot_id
    assert pin_snapshot(ops_db, "backup_retention", "run-2", T0, T0) == second.snapshot_id

    rows = snapshot_rows(ops_db, first.snapshot_id)
    assert len(rows["customers"]) == 8
    assert {c["region"] for c in rows["customers"]} == {"AMER", "APJC", "AUS", "EMEA"}
    assert all(isinstance(c["contacts"], list) and c["contacts"] for c in rows["customers"])
    assert len(rows["nodes"]) == len(first.nodes)
