"""certificate_renewal_<region> end to end through dag.test() against the lab: renew, re-probe, SSO runbook, faults."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest

from di_ops.db.engine import make_engine
from di_ops.pipelines.certificates.renewal import resolve_window
from di_ops.pipelines.certificates.store import all_plans, runbook
from tests.dags.certificate_fleet import AS_OF, setup_fleet

pytestmark = pytest.mark.slow

SSO_ORDER = ["sso_disable", "sso_import", "sso_enable", "sso_validate"]


@pytest.fixture
def swept(airflow_db, tmp_path: Path, data_dir: Path, ops_sqlite: str, smtp_sink: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """The fleet after one sweep at AS_OF (plans stored, notices sent).

    The sweep's task bodies are called directly: test_certificate_sweep runs the DAG itself,
    and every dag.test() re-parses the whole dags/ folder.
    """
    from di_ops.pipelines.certificates.sweep import notices_task, plan_task, probe_task, start_sweep

    lab = setup_fleet(tmp_path, data_dir, monkeypatch)
    run = start_sweep("certificate_sweep", "setup", AS_OF.isoformat(), None, AS_OF, None)
    probe_task("certificate_sweep", "setup", run)
    assert len(plan_task("certificate_sweep", "setup", run, None)["new"]) == 6
    notices_task("certificate_sweep", "setup", run, False, None)
    yield lab
    lab.stop()


@pytest.fixture
def emea(dagbag):  # type: ignore[no-untyped-def]
    """The EMEA renewal DAG, with retry delays shortened for the test (the default is a minute)."""
    dag = dagbag.get_dag("certificate_renewal_emea")
    saved = {t.task_id: t.retry_delay for t in dag.tasks}
    for t in dag.tasks:
        t.retry_delay = timedelta(seconds=1)
    yield dag
    for t in dag.tasks:
        t.retry_delay = saved[t.task_id]


def _conf(window: str, *, dry_run: bool = False) -> dict:
    # every Param explicitly: dag.test() runs tasks in-process and Param values given to one run
    # can stick to the shared DAG object of the session's DagBag
    return {"window": window, "dry_run": dry_run, "customers": []}


def _emea_window(ops_sqlite: str) -> str:
    plans = {p["node_id"]: p for p in all_plans(make_engine(ops_sqlite))}
    return plans["E1-cucm-pub"]["window_start"].isoformat()


def _states(run) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[str]] = {}
    for ti in run.get_task_instances():
        out.setdefault(ti.task_id.split(".")[-1], []).append(ti.state)
    return out


def test_renewal_renews_reprobes_and_runs_the_sso_runbook_in_order(
    swept, emea, ops_sqlite: str, smtp_sink: Path
) -> None:
    lab = swept
    window = _emea_window(ops_sqlite)
    before = {n: lab.certificate(n) for n in ("E1-cucm-pub", "E1-cucm-sub", "A1-sme-pub")}
    run = emea.test(run_conf=_conf(window))
    assert run.state == "success", _states(run)

    plans = {p["node_id"]: p for p in all_plans(make_engine(ops_sqlite))}
    for node_id in ("E1-cucm-pub", "E1-cucm-sub", "A1-sme-pub"):
        plan = plans[node_id]
        assert plan["status"] == "renewed"
        assert plan["new_not_after"] > plan["not_after"]
        assert plan["new_serial"] == lab.certificate(node_id)["serial"] != before[node_id]["serial"]
    assert plans["E1-imp-pub"]["status"] == "scheduled"  # its window is another one (a day earlier)
    assert plans["A1-imp-pub"]["status"] == "emergency"  # AMER's DAG renews it, not EMEA's

    actions = [h["action"] for h in lab.history if h["target"] == "E1-cucm"]
    assert actions == ["sso_disable", "sso_import", "sso_enable", "sso_validate"]
    renew_positions = [i for i, h in enumerate(lab.history) if h["action"] == "renew" and h["target"].startswith("E1")]
    first_sso = next(i for i, h in enumerate(lab.history) if h["action"].startswith("sso_"))
    assert max(renew_positions) < first_sso
    assert lab.sso["E1-cucm"].enabled and lab.sso["E1-cucm"].validated
    book = runbook(make_engine(ops_sqlite), "E1-cucm", plans["E1-cucm-pub"]["window_start"])
    assert book["status"] == "done" and list(book["steps"]) == ["disable", "import_idp_metadata", "enable", "validate"]

    # A rerun of the same window changes nothing: renewed plans and done steps are skipped.
    calls = len(lab.history)
    assert emea.test(run_conf=_conf(window)).state == "success"
    assert len(lab.history) == calls


def test_a_refused_renewal_is_retried_and_succeeds(swept, emea, ops_sqlite: str) -> None:
    lab = swept
    lab.faults.refuse_renewal["E1-cucm-sub"] = 1
    run = emea.test(run_conf=_conf(_emea_window(ops_sqlite)))
    assert run.state == "success", _states(run)
    targets = [h["action"] for h in lab.history if h["target"] == "E1-cucm-sub"]
    assert targets == ["renew_refused", "renew"]
    assert {p["node_id"]: p["status"] for p in all_plans(make_engine(ops_sqlite))}["E1-cucm-sub"] == "renewed"


def _domain_mail(outbox, sent_before: int):  # type: ignore[no-untyped-def]
    """Messages since ``sent_before`` other than the task-failure alerts (default_args' SmtpNotifier)."""
    messages = [message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))][sent_before:]
    return [m for m in messages if not m["Subject"].startswith("[di-ops] ")]


def test_failed_sso_validation_flags_the_cluster_fails_the_run_and_alerts(
    swept, emea, ops_sqlite: str, smtp_sink: Path
) -> None:
    lab = swept
    lab.faults.fail_sso_validation.add("E1-cucm")
    sent_before = len(list(smtp_sink.glob("*.eml")))
    run = emea.test(run_conf=_conf(_emea_window(ops_sqlite)))
    assert run.state == "failed"
    states = _states(run)
    assert states["sso_validate"] == ["failed"] and states["report"] == ["failed"]
    assert states["renew_certificate"] == ["success"] * 3
    plans = {p["node_id"]: p for p in all_plans(make_engine(ops_sqlite))}
    book = runbook(make_engine(ops_sqlite), "E1-cucm", plans["E1-cucm-pub"]["window_start"])
    assert book["status"] == "flagged" and "validate" in book["error"]
    new = _domain_mail(smtp_sink, sent_before)
    assert len(new) == 1 and new[0]["Subject"].startswith("ALERT: SSO of E1-cucm flagged")
    assert "noc@di-ops.example" in new[0]["To"] and "noc@polder.example" in new[0]["To"]


def test_an_unreachable_node_is_recorded_failed_and_the_others_proceed(
    swept, emea, ops_sqlite: str, smtp_sink: Path
) -> None:
    lab = swept
    lab.take_down("E1-cucm-sub")  # re-issued, but the fresh probe cannot see the new certificate
    sent_before = len(list(smtp_sink.glob("*.eml")))
    run = emea.test(run_conf=_conf(_emea_window(ops_sqlite)))
    assert run.state == "failed"
    plans = {p["node_id"]: p for p in all_plans(make_engine(ops_sqlite))}
    assert plans["E1-cucm-sub"]["status"] == "failed" and "unreachable" in plans["E1-cucm-sub"]["error"]
    assert plans["E1-cucm-pub"]["status"] == "renewed" and plans["A1-sme-pub"]["status"] == "renewed"
    assert lab.sso["E1-cucm"].validated  # the cluster's runbook still ran for the renewed publisher
    new = _domain_mail(smtp_sink, sent_before)
    assert [m["Subject"] for m in new] == ["ALERT: certificate renewal of e1-cucm-sub.di.example failed"]


def test_the_amer_weekend_window_renews_the_emergency_and_a_dry_run_or_a_freeze_changes_nothing(
    swept, dagbag, ops_sqlite: str, smtp_sink: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = swept
    amer = dagbag.get_dag("certificate_renewal_amer")
    sent_before = len(list(smtp_sink.glob("*.eml")))
    monkeypatch.setenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", "year-end freeze")
    frozen = amer.test(run_conf=_conf(AS_OF.isoformat()))
    assert frozen.state == "failed" and _states(frozen)["change_freeze_gate"] == ["failed"]
    assert _states(frozen)["report"] == ["failed"]  # "not run" is reported; the refusal alerts nobody
    assert lab.history == []
    monkeypatch.delenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE")
    dry = amer.test(run_conf=_conf(AS_OF.isoformat(), dry_run=True))
    assert dry.state == "success", _states(dry)
    assert lab.history == [] and len(list(smtp_sink.glob("*.eml"))) == sent_before
    run = amer.test(run_conf=_conf(AS_OF.isoformat()))  # AS_OF lies in AMER's Sunday-night window
    assert run.state == "success", _states(run)
    assert _states(run)["report"] == ["success"]  # no SSO cluster: the empty runbook no longer skips it
    plans = {p["node_id"]: p for p in all_plans(make_engine(ops_sqlite))}
    assert plans["A1-imp-pub"]["status"] == "renewed" and plans["A1-imp-pub"]["window_weekend"] is True
    assert plans["A1-cer-pub"]["status"] == "expired"  # an incident, never renewed automatically
    assert [h["target"] for h in lab.history] == ["A1-imp-pub"]


def test_the_window_param_must_lie_in_a_window() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    inside = resolve_window("EMEA", "2026-12-03T21:00:00+00:00", None, AS_OF)
    assert inside.start.isoformat().startswith("2026-12-03T21:00")
    from di_ops.core.refusals import Refusal

    for bad in ("2026-12-03T12:00:00+00:00", "2026-12-03T21:00:00", "03/12/2026"):
        with pytest.raises(AirflowFailException, match="Param window") as refusal:
            resolve_window("EMEA", bad, None, AS_OF)
        assert isinstance(refusal.value, Refusal)  # a refusal: no retries, no on-call alert


def test_one_renewal_dag_per_region_on_every_window_with_the_sso_steps_in_order(airflow_db, dagbag) -> None:  # type: ignore[no-untyped-def]
    from di_ops.orchestration.timetables import MaintenanceWindowTimetable

    for region in ("AMER", "APJC", "AUS", "EMEA"):
        dag = dagbag.get_dag(f"certificate_renewal_{region.lower()}")
        assert dag.timetable == MaintenanceWindowTimetable(region, allow_weekend=True)
        steps = [f"sso_runbook.sso_{s}" for s in ("disable", "import_idp_metadata", "enable", "validate")]
        for before, after in zip(steps, steps[1:], strict=False):
            assert before in dag.get_task(after).upstream_task_ids
        assert "renew_certificate" in dag.get_task("sso_clusters").upstream_task_ids
        assert dag.get_task("renew_certificate").retries >= 2


def test_a_retry_after_the_renewal_went_through_does_not_renew_again(swept, ops_sqlite: str) -> None:
    from di_ops.pipelines.certificates.renewal import renew_plan

    lab = swept
    engine = make_engine(ops_sqlite)
    plan = {p["node_id"]: p for p in all_plans(engine)}["E1-cucm-pub"]
    lab.renew("E1-cucm-pub", None)  # the call went through, then the worker died before recording it
    result = renew_plan(engine, plan["plan_id"], dry_run=False, now=AS_OF)
    assert result["result"] == "renewed" and result["new_serial"] == lab.certificate("E1-cucm-pub")["serial"]
    assert [h["action"] for h in lab.history] == ["renew"]
    assert renew_plan(engine, plan["plan_id"], dry_run=False, now=AS_OF)["result"] == "already_renewed"


def test_a_window_with_nothing_to_do_still_writes_its_report(swept, dagbag, ops_sqlite: str) -> None:
    """A renewal run whose window has no plan ends green with its report written (it was skipped)."""
    from sqlalchemy import select

    from di_ops.db.schema import audit_log

    amer = dagbag.get_dag("certificate_renewal_amer")
    assert amer.test(run_conf=_conf(AS_OF.isoformat())).state == "success"  # renews the open emergency
    calls = len(swept.history)
    later = (AS_OF + timedelta(days=14)).isoformat()  # a Sunday-night AMER window two weeks on: no plan
    run = amer.test(run_conf=_conf(later))
    states = _states(run)
    assert run.state == "success", states
    assert states["report"] == ["success"] and states["select_renewals"] == ["success"]
    with make_engine(ops_sqlite).connect() as conn:
        rows = conn.execute(
            select(audit_log.c.detail).where(
                audit_log.c.action == "certificates.window_report", audit_log.c.run_id == run.run_id
            )
        ).all()
    assert len(rows) == 1
    assert rows[0].detail["outcome"] == "nothing_to_do" and rows[0].detail["problems"] == []
    assert len(swept.history) == calls
