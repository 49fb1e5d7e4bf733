"""
### certificate_renewal_&lt;region&gt;

Executes the certificate renewals planned by `certificate_sweep` (DOMAIN.md §4), one DAG per
region, scheduled at **every maintenance-window opening** of that region (weekday windows carry
the planned renewals, any window — weekend included — the emergencies). SME clusters are renewed
by the DAG of their publishing region.

1. `open_window`: the window this run works in (the `window` Param, any instant inside it; else
   the run's data interval = the window the timetable opened);
2. `select_renewals`: plans scheduled for this window, and emergencies still open;
3. `renew_certificate` (one per plan): the UC admin API re-issues the certificate, then a fresh
   TLS probe must show a **later notAfter** before the plan is marked renewed; a refusal is retried;
4. per SSO-enabled cluster with a renewed certificate, in order: **disable SSO → re-import the IdP
   metadata → re-enable SSO → validate SSO**; a failed validation flags the cluster and alerts;
5. `report` (runs whatever happened before it): the window's outcome — renewed, nothing to do,
   problems, or not run — in the log and the audit log (`certificates.window_report`); fails the
   run when any renewal or SSO runbook is not done.

`dry_run`: selects and logs what it would do; calls no admin API and sends nothing.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task, task_group

from di_ops.core.params import customers_param, dry_run_param
from di_ops.core.settings import regions_config
from di_ops.core.tasks import change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.orchestration.timetables import MaintenanceWindowTimetable
from di_ops.pipelines.certificates.settings import certificates_config

DAG_ID = "certificate_renewal"
# Renews certificates and changes SSO through the UC admin API: dry_run Param and the freeze gate.
CHANGES_OUTSIDE_OPS_DB = True
RETRY_DELAY = timedelta(seconds=certificates_config().renewal.retry_delay_seconds)


def build(region: str):  # type: ignore[no-untyped-def]
    @dag(
        dag_id=f"{DAG_ID}_{region.lower()}",
        schedule=MaintenanceWindowTimetable(region, allow_weekend=True),
        catchup=False,
        max_active_runs=1,
        tags=["di-ops", "certificates"],
        default_args=default_args(),
        deadline=deadline_alerts(f"{DAG_ID}_{region.lower()}", family=DAG_ID, region=region),
        doc_md=__doc__,
        params={
            "window": Param(
                None,
                type=["null", "string"],
                format="date-time",
                title="Window",
                description=f"Any instant inside the {region} maintenance window to work in, with a zone, "
                "e.g. 2026-12-01T21:30:00-05:00. Empty: the window this run was scheduled for.",
            ),
            "customers": customers_param(
                "Only these customer ids. Empty: every planned renewal of the window. An unknown id is refused."
            ),
            "dry_run": dry_run_param("Select and log; call no admin API, send nothing."),
        },
    )
    def certificate_renewal() -> None:
        @task
        def open_window() -> dict:
            from di_ops.pipelines.certificates.renewal import open_window_task

            ctx = get_current_context()
            return open_window_task(ctx["dag"].dag_id, region, ctx["dag_run"], ctx["params"]["window"])

        @task
        def select_renewals(window: dict) -> list[str]:
            from di_ops.pipelines.certificates.renewal_tasks import select_renewals_task

            return select_renewals_task(region, window, get_current_context())

        @task(retry_delay=RETRY_DELAY, map_index_template="{{ plan_id }}")
        def renew_certificate(plan_id: str, window: dict) -> dict:
            from di_ops.pipelines.certificates.renewal_tasks import renew_certificate_task

            return renew_certificate_task(plan_id, window, get_current_context())

        # all_done: skipped renewals (nothing planned) or a failed one must not skip what follows
        # (Airflow's all_done_min_one_success skips a task when any upstream is skipped).
        @task(trigger_rule="all_done")
        def sso_clusters() -> list[str]:
            from di_ops.pipelines.certificates.renewal_tasks import sso_clusters_task

            return sso_clusters_task(get_current_context())

        def sso_step_task(step: str):  # type: ignore[no-untyped-def]
            @task(task_id=f"sso_{step}", retry_delay=RETRY_DELAY)
            def run_step(cluster_id: str, window: dict, plan_ids: list[str]) -> dict:
                from di_ops.pipelines.certificates import renewal_tasks

                return renewal_tasks.sso_step_task(step, cluster_id, window, plan_ids, get_current_context())

            return run_step

        @task_group
        def sso_runbook(cluster_id: str, window: dict, plan_ids: list[str]) -> None:
            disable = sso_step_task("disable")(cluster_id, window, plan_ids)
            reimport = sso_step_task("import_idp_metadata")(cluster_id, window, plan_ids)
            enable = sso_step_task("enable")(cluster_id, window, plan_ids)
            validate = sso_step_task("validate")(cluster_id, window, plan_ids)
            disable >> reimport >> enable >> validate

        @task(trigger_rule="all_done")
        def report() -> dict:
            from di_ops.pipelines.certificates.renewal_tasks import window_report_task

            return window_report_task(get_current_context())

        window = open_window()
        change_freeze_gate() >> window
        plan_ids = select_renewals(window)
        renewed = renew_certificate.partial(window=window).expand(plan_id=plan_ids)
        clusters = sso_clusters()
        [plan_ids, renewed] >> clusters
        runbooks = sso_runbook.partial(window=window, plan_ids=plan_ids).expand(cluster_id=clusters)
        # the window's report is written whatever happened before it
        [window, plan_ids, renewed, clusters, runbooks] >> report()

    return certificate_renewal()


for _region in sorted(regions_config().regions):
    globals()[f"{DAG_ID}_{_region.lower()}"] = build(_region)
