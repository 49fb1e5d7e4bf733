"""
### backup_retention

Nightly pruning of the backup store named by the connection `di_backup_store` (conn type `fs`
with `extra.path`, or `sftp`), deleting only what the retention policy allows (DOMAIN.md §3:
keep the 3 most recent good backups, every good backup ≤ 33 days old, a not-good one ≤ 3 days),
and proving it:

1. **scan** the store in mapped batches of customers (bounded count) into a catalog; an
   unreadable manifest holds its series;
2. **data-quality gate** (Great Expectations) on the catalog; failing series are held; the GX
   result and Data Docs are saved with the run;
3. **plan** every backup (keep / prune / hold with reasons) into the ops DB and `plan.json` +
   `plan.csv` before anything is deleted;
4. **blast-radius guard**: a run that would prune too much stops at an approval
   (`approve_pruning`, Reject on timeout), then re-checks the plan against a fresh scan;
5. **delete** crash-safely (tombstone rename → record → remove);
6. **verify**: rescan, every series keeps min(3, good before) good backups; audit log + summary.

Params: `dry_run`, `as_of`, `customers`, `verify_checksums`. Reports: `<data>/retention/runs/<run id>/`.
See docs/pipelines/retention.md.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from di_ops.core.params import as_of_param, customers_param, dry_run_param
from di_ops.core.tasks import change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.retention.approval import APPROVAL_TASK_ID, RESPONSE_KEY, RecordedApprovalOperator
from di_ops.pipelines.retention.settings import retention_settings

DAG_ID = "backup_retention"
# Deletes backups on the backup store: dry_run Param and the change-freeze gate.
CHANGES_OUTSIDE_OPS_DB = True
PLAN_TASK_ID = "plan_retention"


def _run_dir() -> str:
    """The run folder (reports, catalog, GX results) of the current run; the same for every task and retry."""
    from di_ops.pipelines.retention.tasks import run_folder

    return str(run_folder(get_current_context()["dag_run"].run_id))


@dag(
    dag_id=DAG_ID,
    schedule=retention_settings().schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "backups", "housekeeping"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "dry_run": dry_run_param("Scan, check, plan and report; delete nothing (also allowed during a change freeze)."),
        "as_of": as_of_param(
            "The instant ages are measured from (ISO-8601 with a zone). "
            "Empty: the run's logical date, or its run_after for a manual run."
        ),
        "customers": customers_param(
            "Only these customer ids (folders at the store root). Empty: every customer. An unknown id is refused."
        ),
        "verify_checksums": Param(
            False,
            type="boolean",
            title="Verify checksums",
            description="Also compare each file's sha256 with the manifest (reads every archive byte).",
        ),
    },
)
def backup_retention() -> None:
    @task
    def prepare() -> list[dict]:
        from di_ops.pipelines.retention.tasks import prepare_run

        ctx = get_current_context()
        params, run = ctx["params"], ctx["dag_run"]
        info = prepare_run(
            dag_id=run.dag_id,
            run_id=run.run_id,
            as_of_param=params["as_of"],
            logical_date=run.logical_date,
            run_after=run.run_after,
            customers_param=params["customers"],
            verify_checksums=bool(params["verify_checksums"]),
            dry_run=bool(params["dry_run"]),
            started_at=run.start_date or run.run_after,
        )
        return info["batches"]  # the scan maps over these (bounded count)

    @task(map_index_template="{{ batch_label }}")
    def scan_batch(batch: dict) -> dict:
        from di_ops.pipelines.retention.tasks import scan_batch as scan

        ctx = get_current_context()
        ctx["batch_label"] = f"batch {batch['index']}: {batch['customers'][0]}..{batch['customers'][-1]}"  # type: ignore[typeddict-unknown-key]
        return scan(_run_dir(), batch, bool(ctx["params"]["verify_checksums"]))

    @task(trigger_rule="none_failed")
    def quality_gate(_scans: list) -> dict:
        from di_ops.pipelines.retention.tasks import quality_gate as gate

        return gate(_run_dir())

    @task(task_id=PLAN_TASK_ID)
    def plan_retention(_quality: dict) -> dict:
        from di_ops.pipelines.retention.tasks import plan_retention as plan

        return plan(_run_dir())

    @task.branch
    def blast_radius_guard(plan: dict) -> str:
        from di_ops.pipelines.retention.tasks import choose_path

        return choose_path(plan, bool(get_current_context()["params"]["dry_run"]))

    approve = RecordedApprovalOperator(
        task_id=APPROVAL_TASK_ID,
        subject="Backup retention: approve pruning beyond the blast-radius guard?",
        body="{{ ti.xcom_pull(task_ids='" + PLAN_TASK_ID + "')['guard_text'] }}",
        defaults="Reject",
        response_timeout=timedelta(hours=retention_settings().guard.approval_timeout_hours),
        retries=0,
        doc="no retry: a human answers once; Reject (or the timeout default) deletes nothing.",
    )

    @task
    def recheck_plan() -> dict:
        from di_ops.pipelines.retention.tasks import recheck_after_approval

        approval = get_current_context()["ti"].xcom_pull(task_ids=APPROVAL_TASK_ID, key=RESPONSE_KEY)
        return recheck_after_approval(_run_dir(), approval)

    @task
    def no_approval_needed() -> str:
        return "below the blast-radius guard (or a dry run): no approval needed"

    @task(trigger_rule="none_failed_min_one_success")
    def delete_pruned() -> dict:
        from di_ops.pipelines.retention.delete import delete_pruned as delete

        ctx = get_current_context()
        # checked again here, not only in recheck_plan: a guarded run deletes only with a recorded Approve
        approval = ctx["ti"].xcom_pull(task_ids=APPROVAL_TASK_ID, key=RESPONSE_KEY)
        return delete(_run_dir(), bool(ctx["params"]["dry_run"]), approval)

    @task(trigger_rule="none_failed")
    def verify() -> dict:
        from di_ops.pipelines.retention.approval import verify_task

        return verify_task(get_current_context(), _run_dir())

    gate = change_freeze_gate()
    batches = prepare()
    gate >> batches
    plan = plan_retention(quality_gate(scan_batch.expand(batch=batches)))
    branch = blast_radius_guard(plan)
    recheck = recheck_plan()
    direct = no_approval_needed()
    branch >> [approve, direct]
    approve >> recheck
    deleted = delete_pruned()
    [recheck, direct] >> deleted
    deleted >> verify()


backup_retention()
