"""The SSO runbook of the certificate renewal: disable SSO → re-import the IdP metadata → re-enable → validate.

Source: DOMAIN.md §4 (for customers with SSO enabled, after the renewal, in that order; a failed
validation leaves the cluster flagged and alerts; it is never reported as done). Each step is
recorded in ``certificate_sso_runbooks`` once done and skipped on a rerun; the admin API's state
machine refuses steps out of order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from di_ops.integrations.uc_admin import SSO_STEPS, UcAdminError
from di_ops.pipelines.certificates.renewal import admin_client, customer_contacts, instant, send_alert
from di_ops.pipelines.certificates.settings import certificates_config, in_data_dir
from di_ops.pipelines.certificates.store import get_plan, runbook, save_runbook

log = logging.getLogger(__name__)


def sso_clusters(engine: Any, plan_ids: list[str], *, dry_run: bool) -> list[str]:
    """SSO-enabled clusters with a certificate renewed in this window (dry run: that would be renewed)."""
    clusters = set()
    for pid in plan_ids:
        plan = get_plan(engine, pid)
        if plan and plan["sso_enabled"] and (dry_run or plan["status"] == "renewed"):
            clusters.add(plan["cluster_id"])
    return sorted(clusters)


def clusters_after_renewals(engine: Any, plan_ids: list[str] | None, *, dry_run: bool) -> list[str]:
    """``sso_clusters`` task body: :func:`sso_clusters`, or skipped when ``select_renewals`` did not
    finish (a change freeze or its own failure, which alerted already)."""
    if plan_ids is None:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("select_renewals did not finish: no SSO runbook to run")
    return sso_clusters(engine, plan_ids, dry_run=dry_run)


def idp_metadata(cluster_id: str, customer_id: str | None) -> bytes:
    """The IdP metadata file: ``<folder>/<cluster_id>.xml``, else ``<folder>/<customer_id>.xml``."""
    folder = in_data_dir(certificates_config().renewal.idp_metadata_folder)
    for name in (cluster_id, customer_id):
        if name and (folder / f"{name}.xml").is_file():
            return (folder / f"{name}.xml").read_bytes()
    raise FileNotFoundError(f"no IdP metadata file {cluster_id}.xml or {customer_id}.xml in {folder}")


def sso_step(
    engine: Any,
    step: str,
    cluster_id: str,
    window: Mapping[str, Any],
    *,
    dag_id: str,
    run_id: str,
    dry_run: bool,
    now: datetime,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """Run one SSO runbook step for one cluster, once (a rerun skips the steps already done).

    Raises UcAdminError, FileNotFoundError, or SsoValidationFailed.
    """
    if step not in SSO_STEPS:
        raise ValueError(f"unknown SSO step {step!r}")
    start = instant(window["start"])
    if dry_run:
        log.info("dry run: would run SSO step %s on %s", step, cluster_id)
        return {"cluster_id": cluster_id, "step": step, "result": "dry_run"}
    book = runbook(engine, cluster_id, start)
    steps: dict[str, str] = dict(book["steps"]) if book else {}
    if book is None:
        save_runbook(
            engine,
            cluster_id,
            start,
            region=window["region"],
            status="running",
            last_step=None,
            steps={},
            error=None,
            dag_id=dag_id,
            run_id=run_id,
            updated_at=now,
        )
    earlier = SSO_STEPS[: SSO_STEPS.index(step)]
    missing = [s for s in earlier if s not in steps]
    if missing:  # the task order guarantees this; the check keeps a manual rerun from skipping a step
        raise UcAdminError(f"SSO step {step} of {cluster_id} refused: {', '.join(missing)} not done", status=409)
    if step in steps:
        log.info("SSO step %s of %s was already done at %s", step, cluster_id, steps[step])
        return {"cluster_id": cluster_id, "step": step, "result": "already_done"}
    with admin_client() as client:
        if step == "disable":
            state = client.sso_disable(cluster_id)
        elif step == "import_idp_metadata":
            state = client.sso_import_idp_metadata(cluster_id, idp_metadata(cluster_id, customer_id))
        elif step == "enable":
            state = client.sso_enable(cluster_id)
        else:
            state = client.sso_validate(cluster_id)
            if not state.get("valid"):
                raise SsoValidationFailed(f"SSO validation of {cluster_id} failed: {state.get('detail', state)}")
    steps[step] = now.isoformat()
    save_runbook(
        engine,
        cluster_id,
        start,
        status="done" if step == "validate" else "running",
        last_step=step,
        steps=steps,
        error=None,
        dag_id=dag_id,
        run_id=run_id,
        updated_at=now,
    )
    log.info("SSO step %s of %s done: %s", step, cluster_id, state)
    return {"cluster_id": cluster_id, "step": step, "result": "done"}


class SsoValidationFailed(RuntimeError):
    """The SSO test after the runbook failed: the cluster is flagged (DOMAIN.md §4)."""


def flag_cluster(
    engine: Any, cluster_id: str, window: Mapping[str, Any], error: str, now: datetime, *, dag_id: str, run_id: str
) -> None:
    """Leave the cluster flagged for this window (DOMAIN.md §4: never reported as done)."""
    start = instant(window["start"])
    book = runbook(engine, cluster_id, start)
    save_runbook(
        engine,
        cluster_id,
        start,
        region=window["region"],
        status="flagged",
        last_step=book["last_step"] if book else None,
        steps=dict(book["steps"]) if book else {},
        error=error[:2000],
        dag_id=dag_id,
        run_id=run_id,
        updated_at=now,
    )


def sso_task(
    engine: Any,
    step: str,
    cluster_id: str,
    window: Mapping[str, Any],
    *,
    dry_run: bool,
    last_try: bool,
    dag_id: str,
    run_id: str,
    customer_id: str | None,
) -> dict[str, Any]:
    """One SSO runbook step with the retry decision; a final failure flags the cluster and alerts."""
    from airflow.sdk.exceptions import AirflowFailException

    now = datetime.now(UTC)
    try:
        return sso_step(
            engine,
            step,
            cluster_id,
            window,
            dag_id=dag_id,
            run_id=run_id,
            dry_run=dry_run,
            now=now,
            customer_id=customer_id,
        )
    except (UcAdminError, SsoValidationFailed, FileNotFoundError) as exc:
        retryable = isinstance(exc, UcAdminError) and exc.retryable
        if retryable and not last_try:
            log.warning("SSO step %s of %s not done yet, Airflow retries: %s", step, cluster_id, exc)
            raise
        flag_cluster(engine, cluster_id, window, f"{step}: {exc}", now, dag_id=dag_id, run_id=run_id)
        send_alert(
            engine,
            key=f"certificate-sso-flagged:{cluster_id}:{window['start']}",
            kind="certificate_alert",
            entity=cluster_id,
            subject=f"ALERT: SSO of {cluster_id} flagged after certificate renewal ({step} failed)",
            html=sso_flagged_html(cluster_id, step, exc),
            contacts=customer_contacts(engine, window.get("snapshot_id"), customer_id or ""),
            dag_id=dag_id,
            run_id=run_id,
            now=now,
            dry_run=dry_run,
        )
        raise AirflowFailException(f"SSO {step} of {cluster_id} failed; cluster flagged: {exc}") from exc


def sso_flagged_html(cluster_id: str, step: str, error: object) -> str:
    """The text of the alert of a flagged cluster (DOMAIN.md §4): ``templates/certificate_sso_flagged.html.j2``,
    autoescaped (a cluster id comes from the inventory, an error text from the admin API)."""
    from di_ops.core.templating import render

    return render("certificate_sso_flagged.html.j2", cluster_id=cluster_id, step=step, error=error)


def cluster_customer(engine: Any, plan_ids: list[str], cluster_id: str) -> str | None:
    for pid in plan_ids:
        plan = get_plan(engine, pid)
        if plan and plan["cluster_id"] == cluster_id:
            return str(plan["customer_id"])
    return None
