"""
### upgrade_emergency_check

Daily check for emergency upgrades (DOMAIN.md §1/§2: an emergency change, such as a severe
security issue, may run at once or in the next available window, weekend included). It runs the
weekly sweep's assessment on the pinned inventory snapshot and the advisory feed, but **starts only
emergency upgrades** (advisory severity in `emergency_severities`, and the clusters that move
together with them): each is planned in the next window of its region (SME: its publishing
region) and noticed at once. A cluster whose open plan is a planned (non-emergency) change has that
plan cancelled (cancelling `.ics`) and replaced by the emergency one. Other new triggers wait for
the Monday sweep (`upgrade_eligibility`).

Every open plan is moved on as on Mondays: proposed plans are noticed once contacts exist (the window
computed at sending), announced windows that closed are judged on the inventory (target shown: done;
not shown: missed, one alert to `pipelines.yaml: alerts.to`, re-planned with a new notice), answer
deadlines schedule, vanished triggers cancel. Plans and notices are never duplicated: a cluster has at
most one open plan and every notice is sent once (table `notices`).

Schedule: `include/config/upgrades.yaml: emergency_check_schedule` (daily 07:00 UTC). Report:
`{data_dir}/reports/upgrades/<run id>/`. Params: `as_of`, `customers`, `dry_run`.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from di_ops.core.params import as_of_param, customers_param, dry_run_param
from di_ops.core.tasks import change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.upgrades.settings import upgrade_settings

DAG_ID = "upgrade_emergency_check"
# Sends notices (e-mail): dry_run Param and the change-freeze gate.
CHANGES_OUTSIDE_OPS_DB = True


@dag(
    dag_id=DAG_ID,
    schedule=upgrade_settings().emergency_check_schedule,
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
    },
)
def upgrade_emergency_check() -> None:
    @task
    def assess_emergencies() -> dict:
        from di_ops.pipelines.upgrades.tasks import sweep_task

        ctx = get_current_context()
        return sweep_task(ctx["params"], ctx["dag_run"], emergency_only=True)

    @task
    def apply_plans(assessment: dict) -> dict:
        from di_ops.pipelines.upgrades.tasks import apply_plans_task

        ctx = get_current_context()
        return apply_plans_task(ctx["params"], ctx["dag_run"], assessment)

    @task
    def write_report(assessment: dict, applied: dict) -> dict:
        from di_ops.pipelines.upgrades.tasks import report_task

        return report_task(assessment, applied)

    assessment = assess_emergencies()
    change_freeze_gate() >> assessment
    write_report(assessment, apply_plans(assessment))


upgrade_emergency_check()
