"""One driver per DAG: the DAG's task bodies (the library functions its tasks call), in the DAG's task order,
with the run's instant as logical date / run_after / as_of, and Airflow's retries emulated.

Why not ``dag.test()`` per run: measured on the 2-core CI machine, a ``dag.test()`` costs 0.6 s for a
one-task DAG and about 0.2 s per further task (it re-parses the dags folder and runs each task through the
task runner), i.e. 4-8 minutes for the ~280 daily, weekly and window runs of a month: over the budget.
``tests/dags/`` proves each DAG's wiring through ``dag.test()``; this month proves the schedules.
The change-freeze gate is not run (the freeze Variable is unset, so it passes).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

RETRIES = 2  # pipelines.yaml: default_retries (every task of these DAGs)
SLA_PARAMS = {
    "export_path": None,
    "as_of": None,
    "period_start": None,
    "period_end": None,
    "regions": [],
    "customers": [],
}
WATCH_PARAMS = {"export_path": None, "as_of": None}
COP_PARAMS = {"dry_run": False, "as_of": None, "customer_id": None, "cop_file": None, "emergency": False}


class TaskFailed(RuntimeError):
    def __init__(self, task: str, exc: BaseException) -> None:
        super().__init__(f"{task}: {type(exc).__name__}: {exc}")
        self.task = task


def attempt(task: str, body: Callable[[bool], Any], retries: int = RETRIES, tries: list | None = None) -> Any:
    """Airflow's retry loop: any exception but AirflowFailException is retried; ``last_try`` on the final try."""
    for number in range(1, retries + 2):
        try:
            return body(number > retries)
        except AirflowFailException as exc:
            raise TaskFailed(task, exc) from exc
        except Exception as exc:
            if tries is not None:
                tries.append((task, number, str(exc)))
            if number > retries:
                raise TaskFailed(task, exc) from exc
    raise AssertionError("unreachable")


def run_id(at: datetime) -> str:
    return f"scheduled__{at.isoformat()}"


def inventory_sync(at: datetime, **_: Any) -> dict[str, Any]:
    from di_ops.pipelines.inventory.tasks import sync_inventory

    rid = run_id(at)
    return attempt("load_inventory", lambda _last: sync_inventory(None, at, dag_id="inventory_sync", run_id=rid))


def certificate_sweep(at: datetime, **_: Any) -> dict[str, Any]:
    from di_ops.pipelines.certificates import sweep as c

    dag, rid = "certificate_sweep", run_id(at)
    run = attempt("load_targets", lambda _l: c.start_sweep(dag, rid, None, at, at, None))
    attempt("probe_nodes", lambda _l: c.probe_task(dag, rid, run))
    plans = attempt("plan_renewals", lambda _l: c.plan_task(dag, rid, run, None))
    sent = attempt("send_notices", lambda _l: c.notices_task(dag, rid, run, False, None))
    return {"plans": plans, "notices": sent}


def certificate_renewal(at: datetime, *, region: str, interval_start: datetime, tries: list, **_: Any) -> dict:
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.certificates import renewal as r
    from di_ops.pipelines.certificates import sso as sso

    dag, rid = f"certificate_renewal_{region.lower()}", run_id(at)
    engine = ops_engine()
    dag_run = SimpleNamespace(run_id=rid, run_after=at, data_interval_start=interval_start)
    window = attempt("open_window", lambda _l: r.open_window_task(dag, region, dag_run, None))
    plan_ids = attempt("select_renewals", lambda _l: r.select_renewals(engine, region, window, None))
    renewed, failures = {}, []
    for pid in plan_ids:
        body = lambda last, pid=pid: r.renew_task(  # noqa: E731
            engine, pid, window, dry_run=False, last_try=last, dag_id=dag, run_id=rid
        )
        try:
            renewed[pid] = attempt("renew_certificate", body, tries=tries)
        except TaskFailed as exc:
            failures.append(str(exc))
    clusters = attempt("sso_clusters", lambda _l: sso.clusters_after_renewals(engine, plan_ids, dry_run=False))
    for cluster in clusters:
        customer = sso.cluster_customer(engine, plan_ids, cluster)
        for step in ("disable", "import_idp_metadata", "enable", "validate"):
            body = lambda last, step=step, cluster=cluster, customer=customer: sso.sso_task(  # noqa: E731
                engine,
                step,
                cluster,
                window,
                dry_run=False,
                last_try=last,
                dag_id=dag,
                run_id=rid,
                customer_id=customer,
            )
            try:
                attempt(f"sso_{step}", body, tries=tries)
            except TaskFailed as exc:
                failures.append(str(exc))
                break
    report = attempt(
        "report",
        lambda _l: r.report_task(window, plan_ids, clusters, dry_run=False, dag_id=dag, run_id=rid, now=at),
        retries=0,
    )
    if failures:
        raise TaskFailed("renew_certificate", RuntimeError("; ".join(failures)))
    return {"window": window, "plan_ids": plan_ids, "renewed": renewed, "report": report}


def backup_retention(at: datetime, *, clock: Callable[[], datetime], **_: Any) -> dict[str, Any]:
    from di_ops.pipelines.retention import delete as dele
    from di_ops.pipelines.retention import tasks as ret

    rid = run_id(at)
    info = attempt(
        "prepare",
        lambda _l: ret.prepare_run(
            dag_id="backup_retention", run_id=rid, as_of_param=None, logical_date=at, run_after=at,
            customers_param=None, verify_checksums=False, dry_run=False, started_at=at,
        ),
    )  # fmt: skip
    folder = info["run_dir"]
    for batch in info["batches"]:
        attempt("scan_batch", lambda _l, batch=batch: ret.scan_batch(folder, batch, False))
    attempt("quality_gate", lambda _l: ret.quality_gate(folder))
    plan = attempt("plan_retention", lambda _l: ret.plan_retention(folder, clock=clock))
    path = ret.choose_path(plan, False)
    if path != ret.NO_APPROVAL_TASK_ID:  # the approval would block an unattended night: a finding
        raise TaskFailed("blast_radius_guard", RuntimeError(f"guard tripped: {plan['guard']}"))
    deleted = attempt("delete_pruned", lambda _l: dele.delete_pruned(folder, False, None, clock=clock))
    verified = attempt("verify", lambda _l: dele.verify_and_report(folder, False, None))
    return {"run_dir": folder, "plan": plan, "deleted": deleted, "verified": verified}


def sla_audit(at: datetime, **_: Any) -> dict[str, Any]:
    from di_ops.pipelines.sla import tasks as sla

    plan = attempt("start_audit", lambda _l: sla.start_audit(copy.deepcopy(SLA_PARAMS), run_id(at), at, at))
    quality = attempt("check_quality", lambda _l: sla.check_quality(plan))
    attempt("audit_cases", lambda _l: sla.audit_cases(plan))
    report = attempt("write_report", lambda _l: sla.write_report(plan))
    attempt("enforce_rejected_share", lambda _l: sla.enforce_rejected_share(quality))
    return {"plan": plan, "report": report}


def ops_housekeeping(at: datetime, **_: Any) -> dict[str, Any]:
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.housekeeping import tasks as hk

    dag, rid, engine = "ops_housekeeping", run_id(at), ops_engine()
    common = {"dag_id": dag, "run_id": rid, "as_of": at, "now": at, "dry_run": False}
    outputs = attempt("prune_outputs", lambda _l: hk.prune_outputs(engine, **common))
    history = attempt("prune_history", lambda _l: hk.prune_history(engine, **common))

    def tombstones(_last: bool) -> dict[str, Any]:
        store, note = hk.open_store_if_configured()
        try:
            return {**hk.report_tombstones(engine, as_of=at, store=store), "store": note}
        finally:
            if store is not None:
                store.close()

    found = attempt("report_tombstones", tombstones)
    summary = attempt(
        "write_summary",
        lambda _l: hk.write_summary(
            dag_id=dag, run_id=rid, as_of=at, dry_run=False, outputs=outputs, history=history, tombstones=found
        ),
    )
    return {"outputs": outputs, "summary": summary}


def _upgrades(dag: str, emergency_only: bool) -> Callable[..., dict[str, Any]]:
    def drive(at: datetime, **_: Any) -> dict[str, Any]:
        from di_ops.pipelines.upgrades import sweep as up

        rid = run_id(at)
        extra = {"emergency_only": True} if emergency_only else {}
        found = attempt(
            "assess",
            lambda _l: up.sweep(dag_id=dag, run_id=rid, as_of=at, started_at=at, customers=[], announce=None, **extra),
        )
        applied = attempt(
            "apply_plans",
            lambda _l: up.apply_plans(dag_id=dag, run_id=rid, as_of=at, folder=found["folder"], dry_run=False),
        )
        report = attempt("write_report", lambda _l: up.write_report(found["folder"]))
        return {"actions": applied.get("actions", {}), "report": report}

    return drive


upgrade_eligibility = _upgrades("upgrade_eligibility", emergency_only=False)
upgrade_emergency_check = _upgrades("upgrade_emergency_check", emergency_only=True)


def cop_upload(at: datetime, *, dry_run: bool = False, probe_id: str | None = None, **_: Any) -> dict[str, Any]:
    from di_ops.pipelines.cop.notices import send_notices
    from di_ops.pipelines.cop.tasks import intake
    from di_ops.pipelines.cop.transfer import upload_request, write_report

    dag, rid = "cop_upload", probe_id or run_id(at)
    facts = {"dag_id": dag, "run_id": rid, "as_of": at, "started_at": at, "dry_run": dry_run}
    params = {**COP_PARAMS, "dry_run": dry_run, "origin": "operator"}
    summary = attempt("intake", lambda _l: intake(params, **facts))
    if dry_run:
        return {"summary": summary}
    notices = attempt(
        "send_notices", lambda _l: send_notices(summary["notify"], alerts=summary.get("alerts", []), **facts)
    )
    uploads = []
    for index, item in enumerate(summary["due"]):
        body = lambda last, item=item, index=index: upload_request(  # noqa: E731
            item, dag_id=dag, run_id=rid, holder=f"{dag}/{rid}/{index}", dry_run=False, last_try=last
        )
        uploads.append(attempt("upload", body))
    report = attempt("report", lambda _l: write_report(summary, dag_id=dag, run_id=rid, dry_run=False), retries=0)
    return {"summary": summary, "notices": notices, "uploads": uploads, "report": report}


def incident_watch(
    at: datetime, *, clock: Any = None, tries: list | None = None, probe_id: str | None = None, **_: Any
) -> dict[str, Any]:
    """The watch's four tasks; ``clock`` is the simulated one (the time a notice is recorded as sent)."""
    from di_ops.pipelines.sla import watch

    rid = probe_id or run_id(at)
    timed = {"clock": clock} if clock is not None else {}
    plan = attempt("scan_exports", lambda _l: watch.scan_exports(copy.deepcopy(WATCH_PARAMS), rid, at, at), tries=tries)
    ingested = attempt("ingest_changes", lambda _l: watch.ingest_changes(plan), tries=tries)
    notified = attempt("send_proactive_notices", lambda _l: watch.send_proactive_notices(plan, **timed), tries=tries)
    report = attempt(
        "review_escalations", lambda _l: watch.review_escalations(plan, ingested, notified, **timed), tries=tries
    )
    return {"plan": plan, "ingested": ingested, "notified": notified, "report": report}


def capacity_audit(at: datetime, **_: Any) -> dict[str, Any]:
    from di_ops.pipelines.capacity import tasks as cap

    run = SimpleNamespace(dag_id="capacity_audit", run_id=run_id(at), logical_date=at, run_after=at)
    audited = attempt("audit_capacity", lambda _l: cap.audit_task({"as_of": None, "customers": []}, run))
    alerts = attempt("alert_breaches", lambda _l: cap.alert_task(audited))
    report = attempt("write_report", lambda _l: cap.report_task(audited, alerts))
    return {"audited": audited, "alerts": alerts, "report": report}


def backup_health(at: datetime, *, clock: Any = None, **_: Any) -> dict[str, Any]:
    from di_ops.pipelines.backup_health import tasks as bh

    dag, rid = "backup_health", run_id(at)
    run = attempt(
        "prepare",
        lambda _l: bh.prepare_run(
            dag_id=dag,
            run_id=rid,
            as_of_param=None,
            logical_date=at,
            run_after=at,
            customers_param=None,
            dry_run=False,
            started_at=at,
        ),
    )
    assessed = attempt("assess", lambda _l: bh.assess_run(run["run_dir"]))
    attempt("quality", lambda _l: bh.quality_run(run["run_dir"]))
    report = attempt("report", lambda _l: bh.report_run(run["run_dir"]))
    alerts = attempt("alert", lambda _l: bh.alert_run(run["run_dir"], False, now=clock() if clock else at))
    return {"run": run, "assessed": assessed, "report": report, "alerts": alerts}


DRIVERS: dict[str, Callable[..., dict[str, Any]]] = {
    "backup_health": backup_health,
    "capacity_audit": capacity_audit,
    "incident_watch": incident_watch,
    "inventory_sync": inventory_sync,
    "certificate_sweep": certificate_sweep,
    "backup_retention": backup_retention,
    "sla_audit": sla_audit,
    "ops_housekeeping": ops_housekeeping,
    "upgrade_eligibility": upgrade_eligibility,
    "upgrade_emergency_check": upgrade_emergency_check,
    "cop_upload": cop_upload,
}


def driver(dag_id: str) -> Callable[..., dict[str, Any]]:
    if dag_id.startswith("certificate_renewal_"):
        return certificate_renewal
    return DRIVERS[dag_id]
