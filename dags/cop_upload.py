"""
### cop_upload

Uploads signed COP files (`*.cop.sgn`) from the COP repository to each customer's SFTP server
(DOMAIN.md §5): verified (published checksum before, remote SHA-512 after), atomic (temporary
name, then a rename that never replaces a file) and resumable.

Requests come as JSON files in the inbox (`cop/inbox/`) and as a manual trigger with the Params
below. Each is validated (name, file present, local checksum = published, customer known, SFTP
connection defined); a bad one is rejected with its reason (`rejected/<file>.reason.txt`) and
the others go on. Customer requests are uploaded right away; operator **emergency** uploads in
the customer's region's next maintenance window (weekend included); other operator uploads get a
change notice and the earliest change window. Planned uploads are recorded in the ops DB and
picked up by the run (every 15 minutes) that falls inside their window - a regular one only once its
notice is sent. A window that closed without the upload is missed: one alert to the operator, a row in
the report, a re-plan with a new notice (lifecycle: docs/pipelines/cop.md).

Concurrency: the `cop_upload` pool bounds uploads overall; a lease in the ops DB allows one
upload per customer at a time. `dry_run` validates and plans; it uploads, records and moves nothing.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from di_ops.core.params import as_of_param, dry_run_param, id_param
from di_ops.core.tasks import change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.cop.settings import cop_settings

DAG_ID = "cop_upload"
# Uploads files to customers' SFTP servers: dry_run Param and the change-freeze gate.
CHANGES_OUTSIDE_OPS_DB = True


def _run_facts() -> dict:
    from di_ops.core.tasks import resolve_as_of

    context = get_current_context()
    run = context["dag_run"]
    params = context["params"]
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "as_of": resolve_as_of(params.get("as_of"), run.logical_date, run.run_after),
        "started_at": run.run_after,
        "dry_run": bool(params["dry_run"]),
    }


@dag(
    dag_id=DAG_ID,
    schedule=cop_settings().schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "cop"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "dry_run": dry_run_param("Validate and plan only: no upload, no notice, no move."),
        "as_of": as_of_param(
            "Decide as of this instant (ISO 8601 with zone). Empty: the run's logical date / run_after."
        ),
        "customer_id": id_param(
            "Customer (manual request)",
            "To request one upload from this form: the customer id as in the inventory. "
            "Empty: only the inbox requests and the planned uploads are handled.",
        ),
        "cop_file": Param(
            None,
            type=["null", "string"],
            maxLength=255,
            title="COP file (manual request)",
            description="The signed COP file's name in the repository folder, e.g. cmterm-devicepack.cop.sgn. "
            "Only *.cop.sgn names without a folder are accepted.",
        ),
        "emergency": Param(
            False,
            type="boolean",
            title="Emergency (manual request)",
            description="An emergency COP: uploaded in the next maintenance window, weekend included.",
        ),
        "origin": Param(
            "operator",
            type="string",
            enum=["operator", "customer"],
            title="Requested by (manual request)",
            description="operator: planned into a maintenance window with a change notice; "
            "customer: entered for the customer's own service request, uploaded now.",
        ),
    },
)
def cop_upload() -> None:
    settings = cop_settings()

    @task
    def intake() -> dict:
        """Read the inbox and the manual request, validate and plan; returns what is due now."""
        from di_ops.pipelines.cop.tasks import intake as run_intake

        return run_intake(get_current_context()["params"], **_run_facts())

    @task
    def send_notices(summary: dict) -> dict:
        """Change notices (with .ics) for planned regular uploads, once per plan; missed-window alerts."""
        from di_ops.pipelines.cop.notices import send_notices as run_send_notices

        return run_send_notices(summary["notify"], alerts=summary.get("alerts", []), **_run_facts())

    @task
    def due_uploads(summary: dict) -> list:
        """The uploads due now (one mapped upload task each)."""
        return summary["due"]

    @task(pool=settings.pool, pool_slots=settings.pool_slots)
    def upload(item: dict) -> dict:
        """One verified, resumable upload under the customer's lease; a retry resumes."""
        from di_ops.pipelines.cop.transfer import upload_request

        context = get_current_context()
        ti = context["ti"]
        facts = _run_facts()
        return upload_request(
            item,
            dag_id=facts["dag_id"],
            run_id=facts["run_id"],
            holder=f"{facts['dag_id']}/{facts['run_id']}/{ti.map_index}",
            dry_run=facts["dry_run"],
            last_try=ti.try_number > ti.max_tries,
        )

    @task(trigger_rule="all_done")
    def report(summary: dict) -> dict:
        """The run report (requests by status, receipts with bytes, checksum, duration, MB/s).

        Fails the run when an upload of the run failed (no retry: it only reports what happened).
        """
        from di_ops.pipelines.cop.transfer import write_report

        facts = _run_facts()
        return write_report(summary, dag_id=facts["dag_id"], run_id=facts["run_id"], dry_run=facts["dry_run"])

    taken = intake()
    change_freeze_gate() >> taken
    notices = send_notices(taken)
    uploads = upload.expand(item=due_uploads(taken))
    [notices, uploads] >> report(taken)


cop_upload()
