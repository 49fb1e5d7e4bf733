"""Task bodies of ``certificate_renewal_<region>``: renew the window's certificates, prove it, fix SSO.

Source: DOMAIN.md §4. A certificate counts as renewed only when a fresh TLS probe of the node
shows a later notAfter than the planned one. For SSO-enabled clusters the runbook runs after
the cluster's renewals, in order: disable SSO → re-import the IdP metadata file → re-enable
SSO → validate SSO. A failed validation flags the cluster, alerts, and fails the run.

Every step is safe to retry: the renewal carries the plan id as ``Idempotency-Key`` (the admin
API issues once per key) and a renewed plan is not renewed again; each SSO step is recorded in
``certificate_sso_runbooks`` once done and skipped on a rerun.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from di_ops.integrations.uc_admin import UcAdminError
from di_ops.pipelines.certificates.settings import certificates_config
from di_ops.pipelines.certificates.store import get_plan, plans_for_window, runbook, update_plan
from di_ops.rules.maintenance import Window, window_at
from di_ops.rules.timestamps import parse_instant

log = logging.getLogger(__name__)


class RenewalNotVerified(RuntimeError):
    """The node still presents the old certificate (or none) after the renewal call."""


def resolve_window(
    region: str, window_param: str | None, interval_start: datetime | None, run_after: datetime
) -> Window:
    """The window this run works in: the ``window`` Param (any instant inside it), else the run's data interval.

    Source: DOMAIN.md §1 (a window contains its opening instant, not its closing one).
    """
    from di_ops.core.tasks import refused

    if window_param:
        try:
            moment = parse_instant(str(window_param), what="Param window")
        except ValueError as exc:
            raise refused(str(exc), param="window") from None
    else:
        moment = interval_start or run_after
    window = window_at(region, moment)
    if window is None:
        # an operator's bad input (a refusal: no retries, no on-call alert); a scheduled run always lies in one
        raise refused(f"Param window: {moment.isoformat()} is not inside a maintenance window of {region}")
    return window


def window_dict(window: Window) -> dict[str, Any]:
    return {
        "region": window.region,
        "start": window.start.astimezone(UTC).isoformat(),
        "end": window.end.astimezone(UTC).isoformat(),
        "weekend": window.weekend,
    }


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def select_renewals(engine: Any, region: str, window: Mapping[str, Any], customers: list[str] | None) -> list[str]:
    """The plan ids to renew in this window (scheduled for it, or emergencies still open)."""
    plans = plans_for_window(engine, region, instant(window["start"]), weekend=bool(window["weekend"]))
    wanted = set(customers or [])
    chosen = [p["plan_id"] for p in plans if not wanted or p["customer_id"] in wanted]
    log.info("window %s .. %s of %s: %d renewal(s): %s", window["start"], window["end"], region, len(chosen), chosen)
    return chosen


def admin_client() -> Any:
    from di_ops.integrations.uc_admin import UcAdminClient, config_from_connection

    return UcAdminClient(config_from_connection(certificates_config().uc_admin.conn_id))


def renew_plan(engine: Any, pid: str, *, dry_run: bool, now: datetime, probe_timeout: float = 5.0) -> dict[str, Any]:
    """Renew one planned certificate and prove it with a fresh probe (task ``renew_certificate``).

    Raises UcAdminError (retryable or not) or RenewalNotVerified; the caller decides about retries.
    """
    from di_ops.integrations.tls_probe import load_trust_store, probe

    plan = get_plan(engine, pid)
    if plan is None:
        raise KeyError(f"no renewal plan {pid!r}")
    if plan["status"] == "renewed":
        log.info("%s was already renewed (serial %s, notAfter %s)", pid, plan["new_serial"], plan["new_not_after"])
        return {"plan_id": pid, "result": "already_renewed", "new_not_after": plan["new_not_after"].isoformat()}
    if dry_run:
        log.info("dry run: would renew %s on %s and re-probe it", pid, plan["host"])
        return {"plan_id": pid, "result": "dry_run"}
    with admin_client() as client:
        config = client.config
        address = config.tls_address(plan["host"], int(plan["port"]))
        trust = load_trust_store(config.ca_bundle)
        before = probe(plan["host"], int(plan["port"]), connect_to=address, timeout=probe_timeout, trust_store=trust)
        if (
            before.leaf is not None
            and before.leaf.serial != plan["serial"]
            and before.leaf.not_after > plan["not_after"]
        ):
            # Already replaced (a retry after the call went through, or a renewal outside this pipeline):
            # the node presents a later certificate, so there is nothing left to renew.
            seen = before
            log.info(
                "%s already presents a later certificate (serial %s); not renewing again",
                plan["host"],
                seen.leaf.serial,
            )
        else:
            answer = client.renew_certificate(plan["node_id"], idempotency_key=pid)
            log.info(
                "admin API re-issued %s: serial %s, notAfter %s",
                plan["node_id"],
                answer.get("serial"),
                answer.get("not_after"),
            )
            seen = probe(plan["host"], int(plan["port"]), connect_to=address, timeout=probe_timeout, trust_store=trust)
    if seen.leaf is None:
        raise RenewalNotVerified(f"re-probe of {plan['host']} failed: {seen.error}")
    if seen.leaf.not_after <= plan["not_after"] or seen.leaf.serial == plan["serial"]:
        raise RenewalNotVerified(
            f"{plan['host']} still presents serial {seen.leaf.serial} expiring {seen.leaf.not_after.isoformat()}"
            f" (planned notAfter {plan['not_after'].isoformat()})"
        )
    update_plan(
        engine,
        pid,
        status="renewed",
        renewed_at=now,
        new_serial=seen.leaf.serial,
        new_not_after=seen.leaf.not_after,
        error=None if seen.status == "ok" else seen.error,
        updated_at=now,
    )
    return {
        "plan_id": pid,
        "result": "renewed",
        "cluster_id": plan["cluster_id"],
        "new_serial": seen.leaf.serial,
        "new_not_after": seen.leaf.not_after.isoformat(),
    }


def mark_failed(engine: Any, pid: str, error: str, now: datetime) -> dict[str, Any] | None:
    update_plan(engine, pid, status="failed", error=error[:2000], updated_at=now)
    return get_plan(engine, pid)


def alert_notice(kind: str, entity: str, subject: str, html: str, to: tuple[str, ...], dedupe_key: str) -> Any:
    """An alert e-mail; ``html`` comes from a template (di_ops.core.templating), the subject is made one header line."""
    from di_ops.core.notices import Notice
    from di_ops.core.templating import one_line

    return Notice(dedupe_key=dedupe_key, kind=kind, entity=entity, to=to, subject=one_line(subject), html=html)


def renewal_failed_html(plan_id: str, window_start: Any, error: object) -> str:
    """The text of the failed-renewal alert (DOMAIN.md §4): ``templates/certificate_renewal_failed.html.j2``,
    autoescaped (an error text can carry a host name or an answer of the admin API)."""
    from di_ops.core.templating import render

    return render("certificate_renewal_failed.html.j2", plan_id=plan_id, window_start=window_start, error=error)


def window_report(engine: Any, plan_ids: list[str], clusters: list[str], window: Mapping[str, Any]) -> dict[str, Any]:
    """What the window achieved; ``problems`` is non-empty when anything is not done."""
    plans = [get_plan(engine, pid) for pid in plan_ids]
    renewed = [p["plan_id"] for p in plans if p and p["status"] == "renewed"]
    failed = [
        f"{p['plan_id']}: {p['status']} {p['error'] or ''}".strip() for p in plans if p and p["status"] != "renewed"
    ]
    books = {c: runbook(engine, c, instant(window["start"])) for c in clusters}
    done = [c for c, b in books.items() if b and b["status"] == "done"]
    flagged = [
        f"{c}: {b['status'] if b else 'not run'} {(b or {}).get('error') or ''}".strip()
        for c, b in books.items()
        if c not in done
    ]
    return {"window": dict(window), "renewed": renewed, "sso_done": done, "problems": failed + flagged}


# --- task bodies with the retry decision -------------------------------------------------------------


def send_alert(
    engine: Any,
    *,
    key: str,
    kind: str,
    entity: str,
    subject: str,
    html: str,
    contacts: list[dict[str, Any]],
    dag_id: str,
    run_id: str,
    now: datetime,
    dry_run: bool,
) -> str:
    from di_ops.integrations.mail import send_notice
    from di_ops.pipelines.certificates.notices import recipients

    notice = alert_notice(kind, entity, subject, html, recipients(contacts, alert=True), key)
    return send_notice(engine, notice, dag_id=dag_id, run_id=run_id, now=now, dry_run=dry_run)


def customer_contacts(engine: Any, snapshot_id: str | None, customer_id: str) -> list[dict[str, Any]]:
    from di_ops.integrations.opsdb import snapshot_rows

    if not snapshot_id:
        return []
    for customer in snapshot_rows(engine, snapshot_id)["customers"]:
        if customer["customer_id"] == customer_id:
            return list(customer.get("contacts") or [])
    return []


def renew_task(
    engine: Any, pid: str, window: Mapping[str, Any], *, dry_run: bool, last_try: bool, dag_id: str, run_id: str
) -> dict[str, Any]:
    """``renew_certificate``: transient faults are raised for Airflow to retry; on the last try, or
    for a fault a retry cannot fix, the plan is marked failed, the partner and operator are alerted,
    and the task fails without further retries."""
    from airflow.sdk.exceptions import AirflowFailException

    now = datetime.now(UTC)  # when the action happened (a record, not a decision input)
    try:
        return renew_plan(engine, pid, dry_run=dry_run, now=now)
    except (UcAdminError, RenewalNotVerified) as exc:
        retryable = isinstance(exc, RenewalNotVerified) or exc.retryable
        if retryable and not last_try:
            log.warning("renewal of %s not done yet, Airflow retries: %s", pid, exc)
            raise
        plan = mark_failed(engine, pid, str(exc), now) or {}
        send_alert(
            engine,
            key=f"certificate-renewal-failed:{pid}",
            kind="certificate_alert",
            entity=plan.get("node_id", pid),
            subject=f"ALERT: certificate renewal of {plan.get('host', pid)} failed",
            html=renewal_failed_html(pid, window["start"], exc),
            contacts=customer_contacts(engine, window.get("snapshot_id"), plan.get("customer_id", "")),
            dag_id=dag_id,
            run_id=run_id,
            now=now,
            dry_run=dry_run,
        )
        raise AirflowFailException(f"renewal of {pid} failed: {exc}") from exc


def open_window_task(dag_id: str, region: str, dag_run: Any, window_param: str | None) -> dict[str, Any]:
    """``open_window``: the window of this run; pins the inventory snapshot (for the contacts of alerts)."""
    from di_ops.integrations.opsdb import ops_engine, pin_snapshot

    interval_start = getattr(dag_run, "data_interval_start", None)
    window = resolve_window(region, window_param, interval_start, dag_run.run_after)
    engine = ops_engine()
    snapshot = pin_snapshot(engine, dag_id, dag_run.run_id, window.start, dag_run.run_after)
    return {**window_dict(window), "snapshot_id": snapshot}


def report_task(
    window: Mapping[str, Any] | None,
    plan_ids: list[str] | None,
    clusters: list[str] | None,
    *,
    dry_run: bool,
    dag_id: str,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """``report``: the window's outcome, written whatever happened in it (renewed, failed, nothing to
    do) to the log, XCom and the audit log; fails the run when a renewal or an SSO runbook is not done.

    ``None`` inputs mean the task that makes them did not finish (a change freeze, a fault): the
    report says so and fails without an alert of its own (the task that failed alerted already).
    """
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.core.tasks import refused
    from di_ops.integrations.opsdb import ops_engine, write_audit

    if window is None or plan_ids is None:
        missing = "open_window" if window is None else "select_renewals"
        summary: dict[str, Any] = {
            "window": dict(window or {}),
            "outcome": "not_run",
            "problems": [f"{missing} did not finish: nothing was renewed in this window"],
        }
    elif dry_run:
        summary = {
            "window": dict(window),
            "outcome": "dry_run",
            "dry_run": True,
            "would_renew": plan_ids,
            "would_run_sso": clusters or [],
            "problems": [],
        }
    else:
        summary = window_report(ops_engine(), plan_ids, clusters or [], window)
        if clusters is None and summary["renewed"]:
            summary["problems"].append("sso_clusters did not finish: the SSO runbooks were not run")
        summary["outcome"] = (
            "problems" if summary["problems"] else ("renewed" if summary["renewed"] else "nothing_to_do")
        )
    log.info("window report: %s", summary)
    if not dry_run:
        write_audit(
            ops_engine(),
            [
                {
                    "at": now,
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "entity": f"window:{(window or {}).get('start', '?')}",
                    "action": "certificates.window_report",
                    "detail": summary,
                    "actor": None,
                }
            ],
        )
    if summary["outcome"] == "not_run":
        raise refused("; ".join(summary["problems"]))
    if summary["problems"]:
        raise AirflowFailException("not done: " + "; ".join(summary["problems"]))
    return summary
