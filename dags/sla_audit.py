"""
### sla_audit

Audits the operator's response times on TAC cases against DOMAIN.md §7, for managers.

1. **check_quality** — Great Expectations checks every exported row (required columns, types,
   unique case ids, known regions/customers/labels, response and closing not before opening,
   nothing in the future, and the escalation requirements as their own section). Rows failing a
   blocking rule are quarantined with their reasons; GX Data Docs are built.
2. **audit_cases** — due times from the severity as filed in the region's business-day calendar,
   status per case, compliance per severity, region, customer and month (S3/S4 against the 95 %
   standard with n and a 95 % Wilson interval), misclassification both ways, breached and
   about-to-breach lists; figures stored in the ops DB (history).
3. **write_report** — one self-contained HTML page per run plus CSV exports, listed in the
   Airflow UI under *Browse → SLA reports*; it includes the proactive S1/S2 notices of
   `incident_watch` sent within their objective (n/N).
4. **enforce_rejected_share** — fails the run when the quarantined share is above the threshold
   (`include/config/sla.yaml`), after the report is written.

Writes only the ops DB and the data folder: no `dry_run`, not stopped by the change freeze.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from di_ops.core.params import as_of_param, customers_param, date_param, path_param, regions_param
from di_ops.core.tasks import AS_OF_PARAM, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.sla.settings import sla_settings

DAG_ID = "sla_audit"
# Writes only the ops DB and report files: no dry_run Param, not stopped by the change freeze.
CHANGES_OUTSIDE_OPS_DB = False


@dag(
    dag_id=DAG_ID,
    schedule=sla_settings().schedule,
    catchup=False,
    max_active_runs=1,  # one GX file context and one history table: runs go one at a time
    tags=["di-ops", "sla"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "export_path": path_param(
            "TAC case exports",
            "A file or folder of TAC case exports (.csv, .json, .jsonl). "
            "Empty: sla.yaml export_path under the data folder.",
        ),
        AS_OF_PARAM: as_of_param(
            "The instant the audit judges at (ISO-8601 with zone). Empty: the run's logical date."
        ),
        "period_start": date_param(
            "Period start",
            "First day audited, by the day a case was opened in its region (YYYY-MM-DD). "
            "Empty: the start of the configured number of months before as_of.",
        ),
        "period_end": date_param(
            "Period end",
            "Last day audited, by the day a case was opened in its region (YYYY-MM-DD). Empty: as_of's date.",
        ),
        "regions": regions_param("Audit only cases of these regions. Empty: every region."),
        "customers": customers_param(
            "Audit only these customer ids (as in the inventory). Empty: every customer. An unknown id is refused."
        ),
    },
)
def sla_audit() -> None:
    @task
    def start_audit() -> dict:
        from di_ops.pipelines.sla.tasks import start_audit as plan_run

        context = get_current_context()
        dag_run = context["dag_run"]
        return plan_run(dict(context["params"]), dag_run.run_id, dag_run.logical_date, dag_run.run_after)

    @task
    def check_quality(plan: dict) -> dict:
        from di_ops.pipelines.sla.tasks import check_quality as run_checks

        return run_checks(plan)

    @task
    def audit_cases(plan: dict, quality: dict) -> dict:
        from di_ops.pipelines.sla.tasks import audit_cases as run_audit

        return run_audit(plan)

    @task
    def write_report(plan: dict, audit: dict) -> dict:
        from di_ops.pipelines.sla.tasks import write_report as render

        return render(plan)

    @task
    def enforce_rejected_share(quality: dict, report: dict) -> str:
        from di_ops.pipelines.sla.tasks import enforce_rejected_share as enforce

        return enforce(quality)

    plan = start_audit()
    quality = check_quality(plan)
    audit = audit_cases(plan, quality)
    report = write_report(plan, audit)
    enforce_rejected_share(quality, report)


sla_audit()
