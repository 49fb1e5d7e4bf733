"""sla_audit end to end through dag.test(): demo fleet + a year of demo cases → report, Data Docs, history."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.db.engine import make_engine
from di_ops.db.tables_sla import sla_audit_runs, sla_compliance
from di_ops.integrations.opsdb import count_rows
from include.demo.fleet import write_fleet
from include.demo.tac_cases import DEMO_END, broken_rows, write_exports

pytestmark = pytest.mark.slow


def test_sla_audit_produces_the_report_data_docs_and_history(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, tmp_path: Path
) -> None:
    write_fleet(tmp_path / "inventory")
    assert (
        dagbag.get_dag("inventory_sync").test(run_conf={"inventory_folder": str(tmp_path / "inventory")}).state
        == "success"
    )
    exports = tmp_path / "exports"
    write_exports(exports, cases=600)

    run = dagbag.get_dag("sla_audit").test(run_conf={"export_path": str(exports), "as_of": DEMO_END.isoformat()})

    assert run.state == "success"
    folders = [p for p in (data_dir / "sla" / "reports").iterdir() if p.is_dir() and not p.name.startswith("_")]
    assert len(folders) == 1
    folder = folders[0]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="headline-S3"' in html and 'id="headline-S4"' in html
    assert not re.search(r"<script|<link|(src|href)=\"(https?:)?//", html)  # self-contained: nothing fetched
    for name in ("cases.csv", "compliance.csv", "breached.csv", "about_to_breach.csv", "quarantine.csv"):
        assert (folder / name).exists(), name
    quality = json.loads((folder / "quality.json").read_text())
    docs_page = Path(quality["docs_page"])
    assert docs_page.exists() and docs_page.suffix == ".html"
    assert (data_dir / "sla" / "reports" / "_gx_docs" / "index.html").exists()
    assert (data_dir / "gx" / "great_expectations.yml").exists()  # the file Data Context under the data folder
    broken = {r["case_id"] for r in broken_rows() if r["expect"]}
    assert quality["rows_rejected"] == len([r for r in broken_rows() if r["expect"]])
    quarantined = (folder / "quarantine.csv").read_text()
    assert all(case_id in quarantined for case_id in broken)
    assert "NL-001" not in quarantined  # Dutch labels are accepted

    engine = make_engine(ops_sqlite)
    with engine.connect() as conn:
        stored = conn.execute(select(sla_audit_runs)).mappings().one()
        headline = (
            conn.execute(
                select(sla_compliance).where(sla_compliance.c.dimension == "overall", sla_compliance.c.severity == "S3")
            )
            .mappings()
            .one()
        )
    assert stored["snapshot_id"] is not None and stored["quality_passed"]
    assert stored["rows_rejected"] == quality["rows_rejected"]
    assert headline["n"] > 100 and 0.9 < headline["ratio"] <= 1.0
    assert count_rows(engine, "sla_quarantine") == quality["rows_rejected"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["headline"]["S3"]["n"] == headline["n"]


def test_sla_audit_fails_after_the_report_when_too_many_rows_are_quarantined(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    rows = [{k: v for k, v in r.items() if k != "expect"} for r in broken_rows()]
    (exports / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    run = dagbag.get_dag("sla_audit").test(run_conf={"export_path": str(exports), "as_of": DEMO_END.isoformat()})

    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["write_report"] == "success"
    assert states["enforce_rejected_share"] == "failed"
    (folder,) = [p for p in (data_dir / "sla" / "reports").iterdir() if p.is_dir() and not p.name.startswith("_")]
    assert "FAILED" in (folder / "report.html").read_text()
