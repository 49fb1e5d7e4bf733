"""inventory_sync end to end through dag.test() on the demo fleet, its contact-data gate included
(DOMAIN.md §2: C011 of the demo fleet has no partner contact)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.core.run_folders import run_folder
from di_ops.db.engine import make_engine
from di_ops.integrations.opsdb import count_rows, latest_snapshot_id
from include.demo.fleet import write_fleet

pytestmark = pytest.mark.slow


def test_inventory_sync_loads_the_demo_fleet_and_is_idempotent(
    airflow_db, dagbag, ops_sqlite: str, tmp_path: Path, data_dir: Path
) -> None:
    from di_ops.db import schema
    from di_ops.db.tables_inventory import contact_defects, customer_declarations

    folder = tmp_path / "inventory"
    write_fleet(folder)
    dag = dagbag.get_dag("inventory_sync")
    run = dag.test(run_conf={"inventory_folder": str(folder)})
    assert run.state == "success"
    engine = make_engine(ops_sqlite)
    assert count_rows(engine, "customers") == 12  # C011 stays in the snapshot: reported, not dropped
    with engine.connect() as conn:
        rejects = conn.execute(select(schema.inventory_rejects)).mappings().all()
        defects = conn.execute(select(contact_defects)).mappings().all()
        declared = {r["customer_id"]: r for r in conn.execute(select(customer_declarations)).mappings()}
    assert sorted((r["source_file"], r["line"]) for r in rejects) == [("clusters.csv", 65), ("contacts", 0)]
    gate = next(r for r in rejects if r["source_file"] == "contacts")
    assert gate["reason"].startswith("customer C011 (Wattle Networks): no partner contact with a well-formed e-mail")
    assert [(d["customer_id"], d["missing_roles"], d["contacts_on_file"]) for d in defects] == [
        ("C011", ["partner"], 1)
    ]
    assert (declared["C010"]["knowledge_workers"], declared["C010"]["workspace_devices"]) == (1200, 250)
    assert declared["C012"]["knowledge_workers"] is None and declared["C012"]["workspace_devices"] is None
    snapshot = latest_snapshot_id(engine)
    assert snapshot is not None

    report = run_folder(data_dir / "reports" / "inventory", run.run_id)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["snapshot_id"] == snapshot and summary["rejected"] == 2
    assert [d["customer_id"] for d in summary["contact_defects"]] == ["C011"]
    gx = summary["contact_gate"]
    assert gx["success"] is False and gx["customers"] == 12 and gx["report_folder"] == str(report)
    assert gx["failing"] == {"expect_column_values_to_be_between:partner_contacts": ["C011"]}
    assert gx["statistics"]["evaluated_expectations"] == 4 and gx["statistics"]["unsuccessful_expectations"] == 1
    result = json.loads((report / "gx" / "validation_result.json").read_text())
    assert result["success"] is False
    docs = list((report / "gx" / "data_docs").rglob("*.html"))
    assert docs and any("partner_contacts" in p.read_text() for p in docs)
    with (report / "contact_defects.csv").open() as fh:
        assert [(r["customer_id"], r["missing_roles"]) for r in csv.DictReader(fh)] == [("C011", "partner")]
    with (report / "rejects.csv").open() as fh:
        assert [r["source_file"] for r in csv.DictReader(fh)] == ["clusters.csv", "contacts"]

    rerun = dag.test(run_conf={"inventory_folder": str(folder)})
    assert rerun.state == "success"
    assert count_rows(engine, "inventory_snapshots") == 1
    assert latest_snapshot_id(engine) == snapshot
    assert count_rows(engine, "contact_defects") == 1 and count_rows(engine, "customer_declarations") == 12
    assert count_rows(engine, "inventory_rejects") == 2
    # the unchanged snapshot is not validated again: the run points at the first run's report
    [load] = [ti for ti in rerun.get_task_instances() if ti.task_id == "load_inventory"]
    again = load.xcom_pull(task_ids="load_inventory")
    assert again["new"] is False and [d["customer_id"] for d in again["contact_defects"]] == ["C011"]
    assert again["contact_gate"]["validated_now"] is False and again["contact_gate"]["report_folder"] == str(report)
    assert not run_folder(data_dir / "reports" / "inventory", rerun.run_id).exists()


def test_inventory_sync_fails_clearly_on_a_missing_folder(airflow_db, dagbag, ops_sqlite: str, tmp_path: Path) -> None:
    run = dagbag.get_dag("inventory_sync").test(run_conf={"inventory_folder": str(tmp_path / "missing")})
    assert run.state == "failed"
