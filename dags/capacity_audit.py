"""
### capacity_audit

Weekly capacity audit (DOMAIN.md §8). For every customer of the pinned inventory snapshot: the
declared knowledge workers and workspace devices (inventory `customers` export), the configured
users and devices (the UC applications' admin API, `di_uc_admin`), and the approved expansions
(`{data_dir}/capacity/expansions.csv`). Verdict per customer: *within*, *warning* above 90 % of
the allowed number (a setting), *breach* above 100 % without an approved expansion; customers
without declared numbers are *not declared*, those the API has no counts for *not measured*.

On-call gets one e-mail per customer that enters breach (state in the ops DB). The report
(`report.html`, `summary.json`, `capacity.csv`) goes to `{data_dir}/reports/capacity/<run folder>/`.
Writes only the ops DB, its report and the on-call alert: no `dry_run`, not stopped by the change
freeze. Guide: `docs/pipelines/capacity.md`.

Params: `as_of`, `customers`.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from di_ops.core.params import as_of_param, customers_param
from di_ops.core.tasks import default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.capacity.settings import capacity_settings

DAG_ID = "capacity_audit"
# Reads the admin API, writes the ops DB and its report, alerts on-call: no dry_run, no freeze gate.
CHANGES_OUTSIDE_OPS_DB = False


@dag(
    dag_id=DAG_ID,
    schedule=capacity_settings().schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "capacity"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "as_of": as_of_param(
            "Judge as of this instant (with a zone): expansions approved later do not count. "
            "Empty: the run's logical date, else its start."
        ),
        "customers": customers_param(
            "Only these customer ids. Empty: every customer of the inventory snapshot. An unknown id is refused."
        ),
    },
)
def capacity_audit() -> None:
    @task
    def audit_capacity() -> dict:
        from di_ops.pipelines.capacity.tasks import audit_task

        ctx = get_current_context()
        return audit_task(ctx["params"], ctx["dag_run"])

    @task
    def alert_breaches(audited: dict) -> dict:
        from di_ops.pipelines.capacity.tasks import alert_task

        return alert_task(audited)

    @task
    def write_report(audited: dict, alerts: dict) -> dict:
        from di_ops.pipelines.capacity.tasks import report_task

        return report_task(audited, alerts)

    audited = audit_capacity()
    write_report(audited, alert_breaches(audited))


capacity_audit()
