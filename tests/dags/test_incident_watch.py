"""incident_watch end to end through dag.test(): an inventory snapshot, a new export with an S1, a real
SMTP server on loopback and the ops DB; then a run over the unchanged folder sends nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.db.engine import make_engine
from di_ops.db.tables_sla import sla_watch_cases, sla_watch_notices
from tests.pipelines.sla.watch_world import body, case, mails, store_snapshot, write_export

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)


def test_incident_watch_tells_the_partner_and_then_stays_quiet(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    dag = dagbag.get_dag("incident_watch")
    assert dag.max_active_runs == 1 and not dag.catchup and set(dag.tags) == {"di-ops", "sla"}
    store_snapshot(tmp_path / "inventory", AS_OF - timedelta(days=1))
    exports = tmp_path / "exports"
    write_export(exports / "cases-1.csv", [case("TAC-DAG", "2026-12-05T23:55:00Z")])

    run = dag.test(run_conf={"export_path": str(exports), "as_of": AS_OF.isoformat()})

    assert run.state == "success"
    (mail,) = mails(smtp_sink)
    assert mail["To"] == "noc@partner-emea.example" and "TAC-DAG" in mail["Subject"]
    assert "Next update by" in body(mail)
    engine = make_engine(ops_sqlite)
    with engine.connect() as conn:
        assert conn.execute(select(sla_watch_cases.c.case_id)).scalars().all() == ["TAC-DAG"]
        assert conn.execute(select(sla_watch_notices.c.kind)).scalars().all() == ["proactive"]

    later = dag.test(run_conf={"export_path": str(exports), "as_of": (AS_OF + timedelta(minutes=5)).isoformat()})
    assert later.state == "success"
    states = {ti.task_id: ti.state for ti in later.get_task_instances()}
    assert set(states.values()) == {"success"}
    assert len(mails(smtp_sink)) == 1
