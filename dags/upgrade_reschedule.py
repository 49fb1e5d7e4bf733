"""
### upgrade_reschedule

The partner's one reschedule of a planned upgrade (DOMAIN.md §2), triggered from the UI form.
Accepted only when `may_reschedule` allows it (the first reschedule, asked at least 7 days
before the planned window, not an emergency change) and only onto an available operator
window of the cluster's region (weekday or weekend, policy `reschedule_allow_weekend`) that
opens after the run. "Requested at" (`as_of`) cannot be back-dated: it may lie at most
`reschedule_max_backdate_hours` (24) before the run, never before the notice, never after the run.
An accepted request moves the upgrade to the new window and sends the updated `.ics` (same
UID, higher SEQUENCE). A refused one fails the run with the reason, recorded in the ops DB
(`upgrade_events`).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from di_ops.core.params import as_of_param, dry_run_param
from di_ops.core.tasks import change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts

DAG_ID = "upgrade_reschedule"
# Sends the updated notice (e-mail): dry_run Param and the change-freeze gate.
CHANGES_OUTSIDE_OPS_DB = True


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=1,  # one decision at a time: a reschedule reads and then moves the plan
    tags=["di-ops", "upgrades"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "upgrade": Param(
            "",
            type="string",
            minLength=1,
            maxLength=200,
            title="Upgrade id or cluster id",
            description="The upgrade id from the report or notice, or the cluster id of its open upgrade.",
        ),
        "requested_window": Param(
            "",
            type="string",
            minLength=10,
            title="Requested window",
            description="A date (YYYY-MM-DD: the window opening that local day in the cluster's region) "
            "or a date-time with zone inside a window.",
        ),
        "reason": Param(
            "",
            type="string",
            minLength=1,
            maxLength=1000,
            title="Reason",
            description="Why the partner moves the date.",
        ),
        "as_of": as_of_param(
            "When the partner's request reached the operator (with a zone). Empty: the run's start. "
            "At most 24 h before the run (setting reschedule_max_backdate_hours), never before the notice "
            "or after the run.",
            title="Requested at",
        ),
        "dry_run": dry_run_param("Decide and explain; record and send nothing."),
    },
)
def upgrade_reschedule() -> None:
    @task(doc="A refusal fails at once (AirflowFailException); a retry after a fault returns the recorded decision.")
    def decide() -> dict:
        from di_ops.core.tasks import resolve_as_of
        from di_ops.pipelines.upgrades.sweep import reschedule_upgrade

        ctx = get_current_context()
        params, run = ctx["params"], ctx["dag_run"]
        return reschedule_upgrade(
            dag_id=run.dag_id,
            run_id=run.run_id,
            ref=params["upgrade"].strip(),
            requested=params["requested_window"],
            reason=params["reason"],
            requested_at=resolve_as_of(params["as_of"], None, run.run_after),
            run_started_at=run.run_after,
            dry_run=bool(params["dry_run"]),
            actor=getattr(run, "triggering_user_name", None),
        )

    @task
    def send_notice(decision: dict) -> str:
        from di_ops.core.tasks import resolve_as_of
        from di_ops.pipelines.upgrades.sweep import send_reschedule_notice

        ctx = get_current_context()
        params, run = ctx["params"], ctx["dag_run"]
        return send_reschedule_notice(
            dag_id=run.dag_id,
            run_id=run.run_id,
            upgrade_id=decision["upgrade_id"],
            as_of=resolve_as_of(params["as_of"], None, run.run_after),
            started_at=run.run_after,
            dry_run=bool(params["dry_run"]),
        )

    decision = decide()
    change_freeze_gate() >> decision
    send_notice(decision)


upgrade_reschedule()
