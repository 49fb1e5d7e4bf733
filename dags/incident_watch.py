"""
### incident_watch

Tells partners about S1/S2 incidents within minutes and lists cases to escalate (DOMAIN.md §7a).
Runs every 5 minutes (`include/config/sla.yaml` `watch.schedule`), one run at a time, no catch-up.

1. **scan_exports** — compares every TAC case export file with its high-water mark in the ops DB
   (name, size, mtime, SHA-256): unchanged files are not even opened.
2. **ingest_changes** — reads each new or changed file with the same reader, parser and Great
   Expectations blocking rules as `sla_audit`; quarantined rows are stored and never notified;
   accepted rows update the state of their case.
3. **send_proactive_notices** — one e-mail per new S1/S2 case and severity (a raise S2→S1 sends a
   new one) to the customer's partner contacts, due within 15/30 minutes of opening; a customer
   without a partner contact is an operator alert (a data gap), not silence.
4. **review_escalations** — a case past its response objective without a first response, or
   without a status update for more than one objective interval, is an escalation candidate:
   S1/S2 alert on-call at once, S3/S4 go into one daily digest with the channel deviations.

Writes the ops DB and sends e-mail; not stopped by the change freeze (an incident notice is not a
change). Guide: docs/pipelines/incident_watch.md.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from di_ops.core.params import as_of_param, path_param
from di_ops.core.tasks import AS_OF_PARAM, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.sla.settings import sla_settings

DAG_ID = "incident_watch"
# Writes the ops DB and sends notices (no change to any system): no dry_run Param, not frozen.
CHANGES_OUTSIDE_OPS_DB = False


@dag(
    dag_id=DAG_ID,
    schedule=sla_settings().watch.schedule,
    catchup=False,
    max_active_runs=1,  # one high-water mark: runs go one at a time
    tags=["di-ops", "sla"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "export_path": path_param(
            "TAC case exports",
            "The folder (or file) of TAC case exports to watch (.csv, .json, .jsonl). "
            "Empty: sla.yaml export_path under the data folder.",
        ),
        AS_OF_PARAM: as_of_param(
            "The instant the watch decides at (ISO-8601 with zone). Empty: the run's logical date."
        ),
    },
)
def incident_watch() -> None:
    @task
    def scan_exports() -> dict:
        from di_ops.pipelines.sla.watch import scan_exports as scan

        context = get_current_context()
        dag_run = context["dag_run"]
        return scan(dict(context["params"]), dag_run.run_id, dag_run.logical_date, dag_run.run_after)

    @task
    def ingest_changes(plan: dict) -> dict:
        from di_ops.pipelines.sla.watch import ingest_changes as ingest

        return ingest(plan)

    @task
    def send_proactive_notices(plan: dict, ingested: dict) -> dict:
        from di_ops.pipelines.sla.watch import send_proactive_notices as notify

        return notify(plan)

    @task
    def review_escalations(plan: dict, ingested: dict, notified: dict) -> dict:
        from di_ops.pipelines.sla.watch import review_escalations as review

        return review(plan, ingested, notified)

    plan = scan_exports()
    ingested = ingest_changes(plan)
    notified = send_proactive_notices(plan, ingested)
    review_escalations(plan, ingested, notified)


incident_watch()
