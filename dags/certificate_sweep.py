"""
### certificate_sweep

Daily discovery of the UC certificates (DOMAIN.md §4). Reads the nodes of the pinned inventory
snapshot, **probes each node over TLS** (leaf subject, SANs, issuer, serial, validity, earliest
expiry in the presented chain; unreachable nodes, failed handshakes and untrusted chains are
recorded with their error, and `<node_id>.pem` files are a second source), plans each certificate
with `sweep_plan` (a weekday window of the cluster's region — SME: its publishing region — opening
7..3 days before expiry **and after the sweep's `as_of`**: a window that has begun already had its
renewal run; emergency under 3 days; expired is an incident), stores the plans in
`certificate_plans` (same serial → same plan; a missed window is re-planned), and sends each new
plan once: a change notice with an `.ics` event to the partner and customer contacts, or an
immediate alert for emergencies and expired certificates.

**Lead time** (DOMAIN.md §2): a certificate is planned on the last sweep that can still announce its
earliest renewal window 10 business days ahead (derived from `policy.yaml` and the region's
calendar, holidays included); one found too late gets a notice marked **SHORT NOTICE**.
`lookahead_days` (deprecated) replaces that with a fixed number of days.

The `plan_renewals` task's return value lists the active plans and their windows, and the new
short-notice plans (`short_notice_count`, `short_notice`).
`dry_run`: probes and plans, records the notices in the ops DB, sends nothing.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from di_ops.core.params import as_of_param, customers_param, dry_run_param
from di_ops.core.tasks import change_freeze_gate, default_args
from di_ops.orchestration.deadlines import deadline_alerts
from di_ops.pipelines.certificates.settings import certificates_config

DAG_ID = "certificate_sweep"
# Sends change notices and alerts (e-mail): dry_run Param and the change-freeze gate.
CHANGES_OUTSIDE_OPS_DB = True


@dag(
    dag_id=DAG_ID,
    schedule=certificates_config().sweep.schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "certificates"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "as_of": as_of_param(
            "The instant to plan for (ISO 8601 with zone). Empty: the run's logical date, else run_after."
        ),
        "customers": customers_param(
            "Only these customer ids. Empty: every customer of the inventory snapshot. An unknown id is refused."
        ),
        "lookahead_days": Param(
            certificates_config().sweep.lookahead_days,
            type=["null", "integer"],
            minimum=1,
            maximum=3650,
            title="Lookahead (days, deprecated)",
            description="Empty (default): the lead time is derived from the 10-business-day notice policy. "
            "A number plans every certificate expiring within that many days of as_of instead.",
        ),
        "dry_run": dry_run_param("Probe and plan; record notices, send none."),
    },
)
def certificate_sweep() -> None:
    @task
    def load_targets() -> dict:
        from di_ops.pipelines.certificates.sweep import start_sweep

        ctx = get_current_context()
        run = ctx["dag_run"]
        params = ctx["params"]
        return start_sweep(
            DAG_ID, run.run_id, params["as_of"], run.logical_date, run.run_after, params["customers"] or None
        )

    @task
    def probe_nodes(run: dict) -> dict:
        from di_ops.pipelines.certificates.sweep import probe_task

        return probe_task(DAG_ID, get_current_context()["dag_run"].run_id, run)

    @task
    def plan_renewals(run: dict, probed: dict) -> dict:
        from di_ops.pipelines.certificates.sweep import plan_task

        ctx = get_current_context()
        return plan_task(DAG_ID, ctx["dag_run"].run_id, run, ctx["params"]["lookahead_days"])

    @task
    def send_notices(run: dict, plans: dict) -> dict:
        from di_ops.pipelines.certificates.sweep import notices_task

        ctx = get_current_context()
        params = ctx["params"]
        return notices_task(DAG_ID, ctx["dag_run"].run_id, run, params["dry_run"], params["customers"] or None)

    run = load_targets()
    change_freeze_gate() >> run
    probed = probe_nodes(run)
    send_notices(run, plan_renewals(run, probed))


certificate_sweep()
