"""backup_health end to end through dag.test() on a generated filesystem store, with a real SMTP sink."""

from __future__ import annotations

import csv
import json
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from di_ops.db.engine import make_engine
from tests.pipelines.backup_health.fixtures import AS_OF, build_store, fs_connection, load_inventory, write_inventory

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ops_sqlite: str, data_dir: Path) -> Path:
    from di_ops.integrations.opsdb import ops_engine

    root = tmp_path / "backups"
    build_store(root)
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(root))
    load_inventory(ops_engine(), write_inventory(tmp_path / "inventory"))
    return root


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _mails(outbox: Path) -> list[str]:
    return sorted(str(message_from_bytes(p.read_bytes())["Subject"]) for p in outbox.glob("*.eml"))


def test_a_run_reports_alerts_once_and_keeps_the_trend(
    airflow_db, dagbag, ops_sqlite, data_dir, fleet, smtp_sink
) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag("backup_health")
    run = dag.test(run_conf={"as_of": AS_OF.isoformat()})
    assert run.state == "success", _states(run)

    (folder,) = (data_dir / "reports" / "backup_health").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert {"dag_id", "run_id", "as_of"} <= set(summary) and summary["dag_id"] == "backup_health"
    assert summary["as_of"] == AS_OF.isoformat() and summary["counts"]["series"] == 41
    with (folder / "series.csv").open(newline="") as fh:
        rows = {f"{r['customer_id']}/{r['application']}": r for r in csv.DictReader(fh)}
    assert len(rows) == 41
    assert rows["C004/CUCM"]["freshness"] == "missed" and rows["C005/IMP"]["freshness"] == "overdue"
    assert rows["C006/CUCxN"]["missing_components"] == "voicemail" and rows["C006/CUCxN"]["dr_ready"] == "False"
    assert rows["C007/CER"]["archive_readable"] == "False"
    html = (folder / "report.html").read_text()
    for text in ("Fleet", "AMER", "APJC", "AUS", "EMEA", "C005-imp", "lacks voicemail", "Trend, last 30 nights"):
        assert text in html
    assert (folder / "gx" / "validation_result.json").exists() and (folder / "gx" / "data_docs" / "index.html").exists()
    quality = json.loads((folder / "quality.json").read_text())
    assert not quality["success"]
    assert quality["checks"]["expect_column_values_to_be_in_set:dr_ready"] == sum(
        r["dr_ready"] == "False" for r in rows.values()
    )

    overdue = {k for k, r in rows.items() if r["freshness"] == "overdue"}
    not_dr = {k for k, r in rows.items() if r["dr_ready"] == "False"}
    assert {"C005/IMP", "C008/SME"} <= overdue and {"C006/CUCxN", "C007/CER", "C008/SME"} <= not_dr
    mails = _mails(smtp_sink)
    assert len(mails) == len(overdue) + len(not_dr)
    assert "[di-ops] Backups overdue: C005 C005-imp (IMP)" in mails
    assert "[di-ops] Not DR-ready: C006 C006-cucxn (CUCxN)" in mails

    again = dag.test(run_conf={"as_of": AS_OF.isoformat()})  # another run, same states: no new mail
    assert again.state == "success", _states(again)
    assert len(_mails(smtp_sink)) == len(mails)

    from di_ops.db.tables_backup_health import backup_health_alert_state, backup_health_nights, backup_health_series

    engine = make_engine(ops_sqlite)
    with engine.connect() as conn:
        nights = conn.execute(select(backup_health_nights)).mappings().all()
        series = conn.execute(select(backup_health_series.c.run_id)).scalars().all()
        active = (
            conn.execute(select(backup_health_alert_state.c.kind).where(backup_health_alert_state.c.active.is_(True)))
            .scalars()
            .all()
        )
    assert len(nights) == 2 and len(series) == 2 * 41
    assert sorted(active) == sorted(["overdue"] * len(overdue) + ["not_dr_ready"] * len(not_dr))
    latest = max((data_dir / "reports" / "backup_health").iterdir(), key=lambda p: p.stat().st_mtime)
    assert latest.joinpath("report.html").read_text().count(f"<tr><td>{AS_OF.date().isoformat()}</td>") == 1


def test_a_dry_run_sends_nothing_and_an_unknown_customer_is_refused(  # type: ignore[no-untyped-def]
    airflow_db, dagbag, ops_sqlite, data_dir, fleet, smtp_sink
) -> None:
    dag = dagbag.get_dag("backup_health")
    run = dag.test(run_conf={"as_of": AS_OF.isoformat(), "dry_run": True, "customers": ["C005"]})
    assert run.state == "success", _states(run)
    assert _mails(smtp_sink) == []
    (folder,) = (data_dir / "reports" / "backup_health").iterdir()
    alerts = json.loads((folder / "alerts.json").read_text())
    assert alerts["dry_run"] and {n["result"] for n in alerts["notices"]} == {"dry_run"}
    assert json.loads((folder / "summary.json").read_text())["counts"]["series"] == 5

    refused = dag.test(run_conf={"as_of": AS_OF.isoformat(), "customers": ["C999"]})
    assert refused.state == "failed" and _states(refused)["prepare"] == "failed"
