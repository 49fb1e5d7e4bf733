"""
### backup_health

Nightly backup freshness and disaster-recovery readiness for managers (DOMAIN.md §3), on the backup
store named by the connection `di_backup_store` (conn type `fs` or `sftp`), for every application of
every cluster in the pinned inventory snapshot:

1. **prepare**: resolve `as_of`, pin the inventory snapshot, check the `customers` Param;
2. **assess**: one scan of the store (the shared scan of `backup_retention`, not its run); per series
   *fresh* / *missed* / *overdue* / *at risk*; per cluster *restore-ready* and *DR-ready* (the latest
   good backup's checksums verified and its archive listed; older backups verified on a rotation);
3. **quality**: the checks as a Great Expectations suite over the per-series table, with Data Docs;
4. **report**: ops DB rows, `report.html` (fleet -> region -> customer, 30-night trend), `series.csv`,
   `summary.json` in `<data>/reports/backup_health/<run>/`;
5. **alert**: one mail to the operator per series that became *overdue* or *not DR-ready*.

Params: `as_of`, `customers`, `dry_run` (no mail). See docs/pipelines/backup_health.md.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from di_ops.core.params import as_of_param, customers_param, dry_run_param
from di_ops.core.tasks import default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.backup_health.settings import backup_health_settings

DAG_ID = "backup_health"
# Reads the store, writes reports and the ops DB, mails the operator: nothing outside changes.
CHANGES_OUTSIDE_OPS_DB = False


@dag(
    dag_id=DAG_ID,
    schedule=backup_health_settings().schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "backups"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "as_of": as_of_param(
            "The instant of the check: freshness looks at the night before it in each region. "
            "Empty: the run's logical date, or its run_after for a manual run."
        ),
        "customers": customers_param(
            "Only these customer ids (of the inventory). Empty: every customer. An unknown id is refused."
        ),
        "dry_run": dry_run_param("Assess and report; send no alert mail (the would-be mails are recorded)."),
    },
)
def backup_health() -> None:
    @task
    def prepare() -> dict:
        from di_ops.pipelines.backup_health.tasks import prepare_run

        ctx = get_current_context()
        params, run = ctx["params"], ctx["dag_run"]
        return prepare_run(
            dag_id=run.dag_id,
            run_id=run.run_id,
            as_of_param=params["as_of"],
            logical_date=run.logical_date,
            run_after=run.run_after,
            customers_param=params["customers"],
            dry_run=bool(params["dry_run"]),
            started_at=run.start_date or run.run_after,
        )

    @task
    def assess(run: dict) -> dict:
        from di_ops.pipelines.backup_health.tasks import assess_run

        return assess_run(run["run_dir"])

    @task
    def quality(run: dict, _assessed: dict) -> dict:
        from di_ops.pipelines.backup_health.tasks import quality_run

        return quality_run(run["run_dir"])

    @task
    def report(run: dict, _quality: dict) -> dict:
        from di_ops.pipelines.backup_health.tasks import report_run

        return report_run(run["run_dir"])

    @task
    def alert(run: dict, _report: dict) -> dict:
        from di_ops.pipelines.backup_health.tasks import alert_run

        return alert_run(run["run_dir"], bool(get_current_context()["params"]["dry_run"]))

    run = prepare()
    alert(run, report(run, quality(run, assess(run))))


backup_health()
