"""
### upgrade_eligibility

Weekly sweep of the fleet's releases (DOMAIN.md §6). For every cluster of the pinned
inventory snapshot: its train (n / n-1 / n-2 / unsupported / unknown / not assessed), whether
it may stay, and the triggers that make the operator start an upgrade (a security advisory
needing an upgrade, a release below n-1 or nearing EOL, a partner request, or applications
that must move together). Each upgrade to start is planned in the earliest change window of
the cluster's region (SME: its publishing region) and follows the state machine
proposed -> notified -> scheduled -> done / cancelled, with an e-mail + `.ics` notice per step.
A notice names the window computed when it is sent. An announced window that closed without the
target in the inventory is `missed`: the operator is alerted once and the upgrade re-planned with a
new notice (same UID, higher SEQUENCE). Emergencies are also started by the daily
`upgrade_emergency_check`. The report (CSV + HTML) goes to `{data_dir}/reports/upgrades/<run id>/`.

Params: `as_of`, `customers`, `announce_release` (what-if "16.0 SU1": report only, nothing
recorded or sent), `dry_run` (decide and report; record and send nothing).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from di_ops.core.params import as_of_param, customers_param, dry_run_param
from di_ops.core.tasks import change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.upgrades.settings import upgrade_settings

DAG_ID = "upgrade_eligibility"
# Sends notices (e-mail): dry_run Param and the change-freeze gate.
CHANGES_OUTSIDE_OPS_DB = True


@dag(
    dag_id=DAG_ID,
    schedule=upgrade_settings().schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "upgrades"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "dry_run": dry_run_param("Assess, plan and report; record and send nothing."),
        "as_of": as_of_param("Decide as of this instant (with a zone). Empty: the run's logical date, else its start."),
        "customers": customers_param(
            "Only these customer ids. Empty: every customer of the inventory snapshot. An unknown id is refused."
        ),
        "announce_release": Param(
            None,
            type=["null", "string"],
            title="What-if: announce a release",
            description="E.g. '16.0 SU1': assess as if this release were announced as the new n on as_of "
            "(n -> n-1 -> n-2). A what-if run only reports: it records and sends nothing.",
        ),
    },
)
def upgrade_eligibility() -> None:
    @task
    def assess_fleet() -> dict:
        from di_ops.pipelines.upgrades.tasks import sweep_task

        ctx = get_current_context()
        return sweep_task(ctx["params"], ctx["dag_run"])

    @task
    def apply_plans(assessment: dict) -> dict:
        from di_ops.pipelines.upgrades.tasks import apply_plans_task

        ctx = get_current_context()
        return apply_plans_task(ctx["params"], ctx["dag_run"], assessment)

    @task
    def write_report(assessment: dict, applied: dict) -> dict:
        from di_ops.pipelines.upgrades.tasks import report_task

        return report_task(assessment, applied)

    assessment = assess_fleet()
    change_freeze_gate() >> assessment
    write_report(assessment, apply_plans(assessment))


upgrade_eligibility()
