"""Task bodies of the ``certificate_renewal_<region>`` DAGs: each takes the Airflow task context,
opens the ops DB and calls one step of :mod:`~di_ops.pipelines.certificates.renewal` or
:mod:`~di_ops.pipelines.certificates.sso`. Source: DOMAIN.md §4; docs/pipelines/certificates.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from di_ops.core.tasks import last_try


def select_renewals_task(region: str, window: dict[str, Any], context: Mapping[str, Any]) -> list[str]:
    """The window's plan ids; customer ids the latest inventory snapshot does not know are refused."""
    from di_ops.core.request import unknown_customers_refusal
    from di_ops.integrations.opsdb import latest_snapshot_id, ops_engine, snapshot_rows
    from di_ops.pipelines.certificates.renewal import select_renewals

    engine = ops_engine()
    customers = context["params"]["customers"] or None
    if customers:
        snapshot = latest_snapshot_id(engine)
        known = [c["customer_id"] for c in snapshot_rows(engine, snapshot)["customers"]] if snapshot else []
        refusal = unknown_customers_refusal(customers, known, f"inventory snapshot {snapshot}")
        if refusal is not None:
            raise refusal
    return select_renewals(engine, region, window, customers)


def renew_certificate_task(plan_id: str, window: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.certificates.renewal import renew_task

    return renew_task(
        ops_engine(),
        plan_id,
        window,
        dry_run=context["params"]["dry_run"],
        last_try=last_try(context),
        dag_id=context["dag"].dag_id,
        run_id=context["dag_run"].run_id,
    )


def sso_clusters_task(context: Mapping[str, Any]) -> list[str]:
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.certificates.sso import clusters_after_renewals

    plan_ids = context["ti"].xcom_pull(task_ids="select_renewals")
    return clusters_after_renewals(ops_engine(), plan_ids, dry_run=context["params"]["dry_run"])


def sso_step_task(
    step: str, cluster_id: str, window: dict[str, Any], plan_ids: list[str], context: Mapping[str, Any]
) -> dict[str, Any]:
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.certificates.sso import cluster_customer, sso_task

    engine = ops_engine()
    return sso_task(
        engine,
        step,
        cluster_id,
        window,
        dry_run=context["params"]["dry_run"],
        last_try=last_try(context),
        dag_id=context["dag"].dag_id,
        run_id=context["dag_run"].run_id,
        customer_id=cluster_customer(engine, plan_ids, cluster_id),
    )


def window_report_task(context: Mapping[str, Any]) -> dict[str, Any]:
    from di_ops.pipelines.certificates.renewal import report_task

    ti = context["ti"]
    return report_task(
        ti.xcom_pull(task_ids="open_window"),
        ti.xcom_pull(task_ids="select_renewals"),
        ti.xcom_pull(task_ids="sso_clusters"),
        dry_run=context["params"]["dry_run"],
        dag_id=context["dag"].dag_id,
        run_id=context["dag_run"].run_id,
        now=datetime.now(UTC),
    )
