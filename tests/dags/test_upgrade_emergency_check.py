"""upgrade_emergency_check end to end through dag.test(): a critical advisory published on a Wednesday is
planned and noticed by Thursday's daily check (a real SMTP server on loopback), not by next Monday's sweep;
its schedule is the daily setting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.pipelines.upgrades.lifecycle_fixtures import ics, load, mails, run_sweep, write_advisories

pytestmark = pytest.mark.slow
DAG_ID = "upgrade_emergency_check"
MONDAY = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 6, 3, 7, 0, tzinfo=UTC)
THURSDAY = datetime(2026, 6, 4, 7, 0, tzinfo=UTC)
ADVISORY = {
    "advisory_id": "ADV-C",
    "application": "CUCM",
    "affected_versions": ["15.0 SU1"],
    "fixed_in": "15.0 SU2",
    "remedy": "upgrade",
    "published": "2026-06-03T10:00:00Z",  # Wednesday, after that day's check
    "severity": "critical",
}


def _run(dag, as_of: datetime, **conf):  # type: ignore[no-untyped-def]
    run = dag.test(run_conf={"dry_run": False, "customers": None, "as_of": as_of.isoformat(), **conf})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    return next(ti for ti in run.get_task_instances() if ti.task_id == "write_report").xcom_pull(
        task_ids="write_report"
    )


def test_the_daily_schedule_comes_from_the_setting(airflow_db, dagbag) -> None:  # type: ignore[no-untyped-def]
    from di_ops.pipelines.upgrades.settings import upgrade_settings

    dag = dagbag.get_dag(DAG_ID)
    assert upgrade_settings().emergency_check_schedule == "0 7 * * *"
    assert dag.schedule == "0 7 * * *" and set(dag.tags) == {"di-ops", "upgrades"}
    assert {t.task_id for t in dag.tasks} == {"change_freeze_gate", "assess_emergencies", "apply_plans", "write_report"}


def test_a_wednesday_critical_advisory_is_noticed_on_thursday(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.pipelines.upgrades.store import open_plans

    engine = make_engine(ops_sqlite)
    upgrade(engine)
    load(engine, tmp_path / "inv", MONDAY)
    write_advisories(data_dir, [ADVISORY], [])
    run_sweep(MONDAY, "weekly-1")  # Monday's sweep: the advisory does not exist yet
    assert "A005-cucm" not in open_plans(engine)
    sent = len(mails(smtp_sink))
    dag = dagbag.get_dag(DAG_ID)

    report = _run(dag, WEDNESDAY)
    assert "propose" not in report["actions"]
    assert len(mails(smtp_sink)) == sent

    report = _run(dag, THURSDAY)
    assert report["actions"]["propose"] == 2 and report["actions"]["notice:sent"] == 2
    plans = open_plans(engine)
    assert plans["A005-cucm"]["emergency"] and plans["A005-cucm"]["state"] == "notified"
    assert plans["A005-cucm"]["window_start"] == datetime(2026, 6, 4, 19, 0, tzinfo=UTC)  # Thursday night
    new = mails(smtp_sink)[sent:]
    assert sorted(m["Subject"].split(":")[0] for m in new) == ["Emergency upgrade", "Emergency upgrade"]
    assert all("DTSTART:20260604T190000Z" in ics(m) for m in new)
    assert "Daily emergency check" in Path(report["html"]).read_text(encoding="utf-8")

    _run(dag, THURSDAY)  # a second run the same day: nothing twice
    assert len(mails(smtp_sink)) == sent + 2
