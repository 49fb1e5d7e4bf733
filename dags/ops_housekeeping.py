"""
### ops_housekeeping

Applies the retention settings of `include/config/housekeeping.yaml` to the tool's **own** outputs:
per-run report folders (retention runs, SLA reports, upgrade reports, COP run reports, its own
reports), GX validation results with their Data Docs pages, and ops-DB history rows (each table its
own age; the audit log is kept longest). Backup tombstones belong to `backup_retention`: they are
only reported.

Never deletes anything written within `active_guard_hours` (a run may still use it); deletes go
through a trash folder (rename, then remove), so a crash or a rerun finishes the job. `dry_run`
decides and reports, and deletes nothing. Every decision is in `audit_log`
(`housekeeping.delete`, `housekeeping.keep`) and in `reports/housekeeping/<run>/`.
Guide: `docs/pipelines/housekeeping.md`.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from di_ops.core.params import as_of_param, dry_run_param
from di_ops.core.tasks import AS_OF_PARAM, DRY_RUN_PARAM, change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.housekeeping.settings import housekeeping_settings

DAG_ID = "ops_housekeeping"
# Deletes files in the data folder: dry_run Param and the change-freeze gate.
CHANGES_OUTSIDE_OPS_DB = True


@dag(
    dag_id=DAG_ID,
    schedule=housekeeping_settings().schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "housekeeping"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        DRY_RUN_PARAM: dry_run_param("Decide and report (audit log, decisions.json, summary.json); delete nothing."),
        AS_OF_PARAM: as_of_param(
            "Ages are measured from this instant (with a zone). Empty: the logical date, else "
            "run_after. Whatever it says, nothing written within active_guard_hours of now is deleted."
        ),
    },
)
def ops_housekeeping() -> None:
    @task
    def prune_outputs() -> dict:
        from di_ops.pipelines.housekeeping.tasks import prune_outputs_task

        return prune_outputs_task(get_current_context())

    @task
    def prune_history() -> dict:
        from di_ops.pipelines.housekeeping.tasks import prune_history_task

        return prune_history_task(get_current_context())

    @task
    def report_tombstones() -> dict:
        from di_ops.pipelines.housekeeping.tasks import report_tombstones_task

        return report_tombstones_task(get_current_context())

    @task
    def write_summary(outputs: dict, history: dict, tombstones: dict) -> dict:
        from di_ops.pipelines.housekeeping.tasks import write_summary_task

        return write_summary_task(get_current_context(), outputs, history, tombstones)

    gate = change_freeze_gate()
    outputs, history, tombstones = prune_outputs(), prune_history(), report_tombstones()
    gate >> [outputs, history, tombstones]
    write_summary(outputs, history, tombstones)


ops_housekeeping()
