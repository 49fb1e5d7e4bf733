"""Task bodies of ``certificate_sweep``: probe every node, plan each certificate, announce the plans.

Source: DOMAIN.md §4 (renew 3–7 days before expiry in a weekday window of the cluster's region;
SME clusters follow their publishing region; emergencies and expired certificates) and §2
(notices to the partner and customer contacts on file). Planning is
``di_ops.rules.certificates.sweep_plan``; this module only persists and announces it.

Lead time (DOMAIN.md §2): a certificate is planned on the last sweep that can still announce its
earliest renewal window with the full notice (``rules.certificates.planning_horizon`` with the next
run of ``sweep.schedule``); a plan that cannot give it (first seen too late) is ``short_notice``.
Windows (DOMAIN.md §2, §4): the sweep plans only windows opening after its ``as_of``: a window that
has begun already had its renewal run select its plans (the 05:00 UTC sweep is inside the AMER window).

Idempotency: a certificate is identified by node + serial. The same certificate keeps the same
plan on every sweep; a plan whose window closed without a renewal is marked ``missed`` and
re-planned as a new revision (an emergency when under 3 days remain). Each plan revision
produces one notice (dedupe key ``certificate:<plan_id>``), so reruns send nothing twice.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from di_ops.pipelines.certificates.probing import probe_and_record
from di_ops.pipelines.certificates.settings import certificates_config, next_sweep
from di_ops.pipelines.certificates.store import (
    ACTIVE,
    all_plans,
    insert_plan,
    observations,
    plan_id,
    plan_revisions,
    update_plan,
)
from di_ops.rules.certificates import RenewalPlan, planning_horizon, sweep_plan
from di_ops.rules.maintenance import effective_region

log = logging.getLogger(__name__)


class InventoryNotLoaded(RuntimeError):
    """No inventory snapshot in the ops DB yet (retryable: inventory_sync may be running)."""


# --- targets ---------------------------------------------------------------------------------------


def build_targets(
    rows: Mapping[str, list[dict[str, Any]]], customers: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """One target per node of the snapshot: where to probe it and which region's windows apply.

    Source: DOMAIN.md §1 (the SME cluster's window follows its publishing region).
    """
    wanted = set(customers or [])
    by_customer = {c["customer_id"]: c for c in rows["customers"]}
    by_cluster = {c["cluster_id"]: c for c in rows["clusters"]}
    targets = []
    for node in sorted(rows["nodes"], key=lambda n: n["node_id"]):
        cluster = by_cluster.get(node["cluster_id"])
        if cluster is None:
            continue
        customer = by_customer[cluster["customer_id"]]
        if wanted and customer["customer_id"] not in wanted:
            continue
        targets.append(
            {
                "node_id": node["node_id"],
                "host": node["host"],
                "port": int(node["port"]),
                "cluster_id": cluster["cluster_id"],
                "application": cluster["application"],
                "customer_id": customer["customer_id"],
                "region": effective_region(customer["region"], cluster.get("sme_publishing_region") or None),
                "sso_enabled": bool(cluster["sso_enabled"]),
            }
        )
    return targets


def contacts_by_customer(rows: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {c["customer_id"]: list(c.get("contacts") or []) for c in rows["customers"]}


# --- planning --------------------------------------------------------------------------------------


def _window_values(plan: RenewalPlan) -> dict[str, Any]:
    window = plan.window
    return {
        "status": plan.status,
        "window_start": window.start.astimezone(UTC) if window else None,
        "window_end": window.end.astimezone(UTC) if window else None,
        "window_weekend": window.weekend if window else None,
        "fallbacks": [[w.start.astimezone(UTC).isoformat(), w.end.astimezone(UTC).isoformat()] for w in plan.fallbacks],
        "reason": plan.reason,
        "short_notice": plan.short_notice,
    }


def decide(
    revisions: list[dict[str, Any]], not_after: datetime, region: str, as_of: datetime
) -> tuple[str, RenewalPlan | None]:
    """What the sweep does with one certificate given its plan revisions so far.

    ``("keep", None)``: the latest plan still stands (same serial → same plan);
    ``("new", plan)``: first plan; ``("replan", plan)``: the latest plan's window closed without a
    renewal (or the certificate expired meanwhile), so it is ``missed`` and re-planned at ``as_of``.
    Source: DOMAIN.md §4.
    """
    if not revisions:
        return "new", sweep_plan(not_after, region, as_of)
    latest = revisions[-1]
    if latest["status"] in ("renewed", "expired"):
        return "keep", None
    if as_of >= not_after:  # expired with the renewal still open: an incident now
        return "replan", sweep_plan(not_after, region, as_of)
    window_end = latest["window_end"]
    if latest["status"] in (*ACTIVE, "failed") and window_end is not None and window_end <= as_of:
        return "replan", sweep_plan(not_after, region, as_of)
    return "keep", None


def horizons(
    as_of: datetime, lookahead_days: int | None, following: datetime | None = None
) -> Callable[[str], datetime]:
    """Per region, the latest notAfter the sweep at ``as_of`` plans (DOMAIN.md §2, §4).

    Derived (``lookahead_days`` None): ``planning_horizon(region, next sweep)``, the next sweep being
    ``following`` or the next run of ``sweep.schedule``. ``lookahead_days``: the deprecated fixed
    horizon, ``as_of`` + that many days for every region.
    """
    if lookahead_days is not None:
        fixed = as_of + timedelta(days=lookahead_days)
        return lambda region: fixed
    after = following or next_sweep(as_of)
    return functools.cache(lambda region: planning_horizon(region, after))


def plan_and_record(
    engine: Any,
    dag_id: str,
    run_id: str,
    as_of: datetime,
    lookahead_days: int | None,
    sso_by_cluster: Mapping[str, bool],
    *,
    following: datetime | None = None,
) -> dict[str, Any]:
    """Plan every observed certificate within its region's horizon (task ``plan_renewals``; see :func:`horizons`).

    The return value (XCom) is the sweep's report: new plans, the active plans, and the new plans
    that could not give the full notice (``short_notice``: count and list; DOMAIN.md §2).
    """
    horizon = horizons(as_of, lookahead_days, following)
    created: list[str] = []
    short: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []  # plans whose window closed without a renewal: re-planned below
    kept, not_due, unknown = 0, 0, []
    for obs in observations(engine, dag_id, run_id):
        if obs["serial"] is None or obs["not_after"] is None:
            unknown.append({"node_id": obs["node_id"], "status": obs["status"], "error": obs["error"]})
            continue
        if obs["not_after"] > horizon(obs["region"]):
            not_due += 1
            continue
        revisions = plan_revisions(engine, obs["node_id"], obs["serial"])
        action, plan = decide(revisions, obs["not_after"], obs["region"], as_of)
        if action == "keep" or plan is None:
            kept += 1
            continue
        revision = len(revisions)
        if action == "replan":
            latest = revisions[-1]
            missed.append({"plan_id": latest["plan_id"], "node_id": obs["node_id"], "status": latest["status"]})
            log.warning(
                "MISSED %s (%s): re-planned as revision %d", latest["plan_id"], latest["status"], len(revisions)
            )
            update_plan(
                engine,
                latest["plan_id"],
                status="missed",
                error=f"window closed (or certificate expired) without renewal; re-planned as r{revision}",
                updated_at=as_of,
            )
        values = {
            "plan_id": plan_id(obs["node_id"], obs["serial"], revision),
            "node_id": obs["node_id"],
            "serial": obs["serial"],
            "revision": revision,
            "customer_id": obs["customer_id"],
            "cluster_id": obs["cluster_id"],
            "region": obs["region"],
            "host": obs["host"],
            "port": obs["port"],
            "sso_enabled": bool(sso_by_cluster.get(obs["cluster_id"], False)),
            "not_after": obs["not_after"],
            "planned_as_of": as_of,
            "dag_id": dag_id,
            "run_id": run_id,
            "updated_at": as_of,
            **_window_values(plan),
        }
        if insert_plan(engine, values):
            created.append(values["plan_id"])
            if plan.short_notice:
                short.append(_plan_view(values))
    active = [_plan_view(p) for p in all_plans(engine) if p["status"] in (*ACTIVE, "expired")]
    log.info(
        "plans: %d new, %d unchanged, %d not due, %d without a certificate", len(created), kept, not_due, len(unknown)
    )
    for view in active:
        log.info("%(status)-9s %(node_id)s expires %(not_after)s window %(window)s", view)
    for view in short:
        log.warning("SHORT NOTICE %(node_id)s expires %(not_after)s window %(window)s", view)
    return {
        "new": created,
        "unchanged": kept,
        "not_due": not_due,
        "unknown": unknown,
        "active": active,
        "short_notice_count": len(short),
        "short_notice": short,
        "missed": missed,
    }


def _plan_view(plan: Mapping[str, Any]) -> dict[str, Any]:
    start = plan["window_start"]
    return {
        "plan_id": plan["plan_id"],
        "node_id": plan["node_id"],
        "region": plan["region"],
        "status": plan["status"],
        "not_after": plan["not_after"].isoformat(),
        "window": f"{start.isoformat()} .. {plan['window_end'].isoformat()}" if start else "-",
        "short_notice": bool(plan.get("short_notice")),
    }


# --- task bodies -----------------------------------------------------------------------------------


def start_sweep(
    dag_id: str,
    run_id: str,
    as_of_param: str | None,
    logical_date: datetime | None,
    run_after: datetime,
    customers: list[str] | None,
) -> dict[str, Any]:
    """``load_targets``: resolve ``as_of``, pin the inventory snapshot, list the nodes to probe."""
    from di_ops.core.refusals import permanent_failure
    from di_ops.core.request import unknown_customers_refusal
    from di_ops.core.tasks import resolve_as_of
    from di_ops.integrations.opsdb import latest_snapshot_id, ops_engine, pin_snapshot, snapshot_rows

    as_of = resolve_as_of(as_of_param, logical_date, run_after)
    engine = ops_engine()
    if latest_snapshot_id(engine) is None:
        # Not pinned yet: inventory_sync may still be loading (e.g. both queued at once); a retry may succeed.
        raise InventoryNotLoaded("the ops DB holds no inventory snapshot yet; run inventory_sync first")
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, run_after)
    if snapshot is None:  # this run was pinned before any snapshot existed: a retry cannot change that
        raise permanent_failure("this run pinned no inventory snapshot; trigger a new run")
    rows = snapshot_rows(engine, snapshot)
    known = (c["customer_id"] for c in rows["customers"])
    refusal = unknown_customers_refusal(customers, known, f"inventory snapshot {snapshot}")
    if refusal is not None:
        raise refusal
    targets = build_targets(rows, customers)
    log.info("as_of %s, snapshot %s: %d nodes to probe", as_of.isoformat(), snapshot, len(targets))
    return {"as_of": as_of.astimezone(UTC).isoformat(), "snapshot_id": snapshot, "targets": targets}


def probe_task(dag_id: str, run_id: str, run: Mapping[str, Any]) -> dict[str, Any]:
    from di_ops.integrations.opsdb import ops_engine

    return probe_and_record(
        ops_engine(), dag_id, run_id, run["targets"], datetime.fromisoformat(run["as_of"]), run["snapshot_id"]
    )


def plan_task(dag_id: str, run_id: str, run: Mapping[str, Any], lookahead_days: int | None) -> dict[str, Any]:
    """``plan_renewals``: the lead time is derived from policy.yaml unless ``lookahead_days`` (the Param,
    else the setting) overrides it; the override is deprecated and says so in the log."""
    from di_ops.integrations.opsdb import ops_engine

    sso = {t["cluster_id"]: t["sso_enabled"] for t in run["targets"]}
    days = lookahead_days or certificates_config().sweep.lookahead_days
    if days is not None:
        log.warning(
            "DEPRECATED: lookahead_days=%d overrides the lead time derived from policy.yaml (10 business days' "
            "notice before notAfter - 7 days, DOMAIN.md §2/§4); notices may come short. Leave it empty.",
            days,
        )
    return plan_and_record(ops_engine(), dag_id, run_id, datetime.fromisoformat(run["as_of"]), days, sso)


def notices_task(
    dag_id: str, run_id: str, run: Mapping[str, Any], dry_run: bool, customers: list[str] | None
) -> dict[str, int]:
    from di_ops.integrations.opsdb import ops_engine, snapshot_rows

    engine = ops_engine()
    contacts = contacts_by_customer(snapshot_rows(engine, run["snapshot_id"]))
    now = datetime.fromisoformat(run["as_of"])
    from di_ops.pipelines.certificates.notices import send_plan_notices

    return send_plan_notices(engine, dag_id, run_id, contacts, now, dry_run, customers)
