"""Task bodies of the ``upgrade_eligibility``, ``upgrade_emergency_check`` and ``upgrade_reschedule`` DAGs.

Sweep: pin the inventory snapshot, assess every cluster (``di_ops.rules.upgrade_plans``), write
``assessment.json`` into the run's report folder (the daily check marks it ``scope: emergency``).
Apply (``di_ops.pipelines.upgrades.apply``): drive each planned upgrade through its state machine
(propose, notify, schedule, miss, replan, complete, cancel) with its notices, once.
Report: CSV + HTML. Reschedule: the partner's one reschedule, or the refusal with its reason.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from di_ops.core.refusals import permanent_failure
from di_ops.core.request import unknown_customers_refusal
from di_ops.core.run_folders import run_folder as folder_for_run
from di_ops.core.tasks import refused
from di_ops.pipelines.upgrades.settings import upgrade_settings
from di_ops.pipelines.upgrades.store import utc

log = logging.getLogger(__name__)

ELIGIBILITY_DAG_ID = "upgrade_eligibility"
EMERGENCY_CHECK_DAG_ID = "upgrade_emergency_check"
RESCHEDULE_DAG_ID = "upgrade_reschedule"


def run_folder(run_id: str) -> Path:
    return folder_for_run(upgrade_settings().path("reports_folder"), run_id)


# --- inputs ---------------------------------------------------------------------------------


def _read_feed(name: str) -> list[dict[str, Any]]:
    settings = upgrade_settings()
    path = settings.path(name)
    if not path.exists():
        if name in settings.required_feeds:
            raise permanent_failure(f"{name} {path} does not exist (upgrades.yaml {name}); an empty feed is []")
        log.warning("%s %s does not exist: none this run", name, path)
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise permanent_failure(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise permanent_failure(f"{path} must hold a JSON array of objects")
    return data


def load_feeds() -> tuple[list[Any], list[Any]]:
    """The security advisories and partner requests; a bad entry fails the run naming it."""
    from pydantic import ValidationError

    from di_ops.rules.upgrade_triggers import Advisory, PartnerRequest

    out: list[list[Any]] = []
    for name, model in (("advisory_feed", Advisory), ("partner_requests", PartnerRequest)):
        items = []
        for index, raw in enumerate(_read_feed(name)):
            try:
                items.append(model.model_validate(raw))
            except ValidationError as exc:
                raise permanent_failure(
                    f"{name} entry {index}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
                ) from exc
        out.append(items)
    return out[0], out[1]


def catalog_for(announce: str | None, as_of: datetime) -> tuple[Any, str | None]:
    """The release catalog, or a what-if copy with ``announce`` (e.g. '16.0 SU1') added as the new n on as_of."""
    from di_ops.core.settings import release_catalog
    from di_ops.rules.releases import announce_release, parse_version

    catalog = release_catalog()
    if not announce:
        return catalog, None
    try:
        cycle, su = parse_version(announce)
        if su is None:
            raise ValueError("name the first SU as well, e.g. '16.0 SU1'")
        what_if = announce_release(catalog, cycle, f"v{cycle}", as_of.astimezone(UTC).date(), [su], su)
    except ValueError as exc:
        raise permanent_failure(f"announce_release {announce!r}: {exc}") from exc
    return what_if, f"what-if: v{cycle} {su} announced on {as_of.date().isoformat()} (nothing recorded or sent)"


def _snapshot(engine: Any, dag_id: str, run_id: str, as_of: datetime, started_at: datetime) -> dict[str, Any]:
    from di_ops.integrations.opsdb import latest_snapshot_id, pin_snapshot, snapshot_rows

    if latest_snapshot_id(engine) is None:  # retryable: inventory_sync may simply not have run yet
        raise RuntimeError("the ops DB holds no inventory snapshot yet; run inventory_sync first")
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    if snapshot is None:
        raise permanent_failure(f"run {run_id} was pinned to no snapshot; trigger a new run")
    return {"snapshot_id": snapshot, **snapshot_rows(engine, snapshot)}


# --- upgrade_eligibility --------------------------------------------------------------------


def sweep(
    *,
    dag_id: str,
    run_id: str,
    as_of: datetime,
    started_at: datetime,
    customers: list[str] | None,
    announce: str | None,
    emergency_only: bool = False,
) -> dict[str, Any]:
    """Assess the pinned fleet; write ``assessment.json`` to the run folder; return counts and the folder.

    ``emergency_only`` (the daily check): every trigger is still assessed (an open plan whose trigger
    went away is cancelled as on Mondays), but only emergency upgrades are started (DOMAIN.md §1/§2).
    """
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.rules.upgrade_triggers import assess_fleet

    settings = upgrade_settings()
    as_of = as_of.astimezone(UTC)
    inventory = _snapshot(ops_engine(), dag_id, run_id, as_of, started_at)
    wanted = set(customers or [])
    where = f"inventory snapshot {inventory['snapshot_id']}"
    refusal = unknown_customers_refusal(wanted, (c["customer_id"] for c in inventory["customers"]), where)
    if refusal is not None:
        raise refusal
    in_scope = [c for c in inventory["customers"] if not wanted or c["customer_id"] in wanted]
    ids = {c["customer_id"] for c in in_scope}
    clusters = [c for c in inventory["clusters"] if c["customer_id"] in ids]
    advisories, requests = load_feeds()
    catalog, what_if = catalog_for(announce, as_of)
    verdicts = assess_fleet(
        in_scope,
        clusters,
        advisories=advisories,
        requests=requests,
        as_of=as_of,
        catalog=catalog,
        start_trains=settings.operator_start_trains,
        emergency_severities=settings.emergency_severities,
        move_together=settings.move_together,
    )
    folder = run_folder(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "dag_id": dag_id,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "snapshot_id": inventory["snapshot_id"],
        "customers": sorted(ids),
        "what_if": what_if,
        "scope": "emergency" if emergency_only else "all",
        "verdicts": [{**v.model_dump(mode="json"), "upgrade": v.upgrade} for v in verdicts],
    }
    (folder / "assessment.json").write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
    upgrades = sum(1 for v in verdicts if v.upgrade and (v.emergency or not emergency_only))
    log.info(
        "assessed %d clusters of %d customers: %d %supgrades to start",
        len(verdicts),
        len(ids),
        upgrades,
        "emergency " if emergency_only else "",
    )
    return {"folder": str(folder), "clusters": len(verdicts), "upgrades": upgrades, "what_if": what_if}


def _window_texts(region: str, start: datetime | None, end: datetime | None) -> tuple[str, str]:
    from di_ops.core.notices import local_and_utc
    from di_ops.pipelines.upgrades.notices import zone_of

    if start is None or end is None:
        return "", ""
    zone = zone_of(region)
    local = f"{local_and_utc(start, zone).split(' (')[0]} - {local_and_utc(end, zone).split(' (')[0]}"
    return local, f"{start.astimezone(UTC):%Y-%m-%d %H:%M} - {end.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _send(engine: Any, notice: Any, *, dag_id: str, run_id: str, at: datetime) -> str:
    from di_ops.integrations.mail import send_notice

    if notice is None:
        return "no_contacts"
    return send_notice(engine, notice, dag_id=dag_id, run_id=run_id, now=at, dry_run=False)


def apply_plans(*, dag_id: str, run_id: str, as_of: datetime, folder: str, dry_run: bool) -> dict[str, Any]:
    """Move every planned upgrade one step with its notice (``di_ops.pipelines.upgrades.apply``)."""
    from di_ops.pipelines.upgrades.apply import apply_plans as apply

    return apply(dag_id=dag_id, run_id=run_id, as_of=as_of, folder=folder, dry_run=dry_run)


def write_report(folder: str) -> dict[str, Any]:
    """``upgrades.csv`` and ``upgrades.html`` in the run folder; returns the counts and the paths."""
    from di_ops.pipelines.upgrades.report import counts, write_csv, write_html

    base = Path(folder)
    assessment = json.loads((base / "assessment.json").read_text(encoding="utf-8"))
    plans_path = base / "plans.json"
    plans = json.loads(plans_path.read_text(encoding="utf-8")) if plans_path.exists() else {}
    windows_path = base / "missed.json"
    windows = json.loads(windows_path.read_text(encoding="utf-8")) if windows_path.exists() else {}
    missed, awaiting = windows.get("missed", []), windows.get("awaiting_inventory", [])
    notes_by_cluster = window_notes(missed, awaiting)
    rows = []
    for v in assessment["verdicts"]:
        plan = plans.get(v["cluster_id"], {})
        start = datetime.fromisoformat(plan["window_start"]) if plan else None
        end = datetime.fromisoformat(plan["window_end"]) if plan else None
        if not plan and assessment["what_if"] and v["upgrade"]:
            from di_ops.rules.upgrade_plans import plan_window
            from di_ops.rules.upgrade_triggers import Verdict

            window = plan_window(Verdict.model_validate(v), datetime.fromisoformat(assessment["as_of"]))
            start, end, plan = window.start, window.end, {"state": "what-if"}
        local, in_utc = _window_texts(v["window_region"], start, end)
        elig = v["eligibility"]
        rows.append(
            {
                "customer_id": v["customer_id"],
                "cluster_id": v["cluster_id"],
                "application": v["application"],
                "region": v["region"],
                "window_region": v["window_region"],
                "version": v["version"],
                "release": elig["release"] or "",
                "train": elig["train"],
                "may_stay": elig["may_stay"],
                "target": v["target"] or elig["upgrade_target"] or "",
                "upgrade": v["upgrade"],
                "emergency": v["emergency"],
                "triggers": "; ".join(f"{t['kind']}: {t['reason']}" for t in v["triggers"]),
                "move_together": v["move_together"] or "",
                "reasons": "; ".join(elig["reasons"]),
                "upgrade_id": plan.get("upgrade_id", ""),
                "state": plan.get("state", ""),
                "window_local": local,
                "window_utc": in_utc,
                "window_note": notes_by_cluster.get(v["cluster_id"], ""),
            }
        )
    write_csv(base / "upgrades.csv", rows)
    notes = [f"as_of {assessment['as_of']}, inventory snapshot {assessment['snapshot_id']}"]
    if assessment.get("scope") == "emergency":
        notes.append(
            "Daily emergency check: only emergency changes are started here (the weekly sweep starts the "
            "others); every open plan is moved on (notices, missed windows, completions)."
        )
    if assessment["what_if"]:
        notes.append(assessment["what_if"])
    title = f"Upgrade {'emergency check' if assessment.get('scope') == 'emergency' else 'eligibility'}"
    write_html(
        base / "upgrades.html",
        rows,
        title=f"{title}, {assessment['run_id']}",
        notes=notes,
        missed=missed,
        awaiting=awaiting,
    )
    return {
        **counts(rows),
        "missed": len(missed),
        "awaiting_inventory": len(awaiting),
        "csv": str(base / "upgrades.csv"),
        "html": str(base / "upgrades.html"),
    }


def window_notes(missed: list[dict[str, Any]], awaiting: list[dict[str, Any]]) -> dict[str, str]:
    """cluster_id -> what happened to its announced window in this run (the report's ``window_note``)."""
    out: dict[str, str] = {}
    for m in missed:
        then = f"re-planned for {m['new_window_start']}" if m.get("new_window_start") else "not re-planned yet"
        out[m["cluster_id"]] = f"missed window {m['window_start']} - {m['window_end']}; {then}"
    for a in awaiting:
        out[a["cluster_id"]] = (
            f"window closed {a['window_end']}; awaiting an inventory snapshot after it (judged by {a['judged_by']})"
        )
    return out


# --- upgrade_reschedule ---------------------------------------------------------------------


def _find_plan(engine: Any, ref: str) -> dict[str, Any]:
    from di_ops.pipelines.upgrades.store import get_plan, open_plans

    plan = get_plan(engine, ref) or open_plans(engine, [ref]).get(ref)
    if plan is None:
        raise permanent_failure(f"no upgrade {ref!r} and no open upgrade of cluster {ref!r}")
    return plan


def reschedule_upgrade(
    *,
    dag_id: str,
    run_id: str,
    ref: str,
    requested: str,
    reason: str,
    requested_at: datetime,
    run_started_at: datetime,
    dry_run: bool,
    actor: str | None,
) -> dict[str, Any]:
    """Accept the partner's reschedule or refuse it with the reason (the run fails, naming it).

    ``requested_at`` (the ``as_of`` Param) may not be back-dated past the notice or more than
    ``reschedule_max_backdate_hours`` before the run, nor lie after it; the requested window must
    open after the run (DOMAIN.md §2). A retry of the same run returns the decision it recorded the
    first time.
    """
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.upgrades.store import plan_model, record_outcome, run_events
    from di_ops.rules.upgrade_plans import requested_at_refusal, reschedule

    if not reason.strip():
        raise refused("a reschedule needs a reason")
    requested_at = requested_at.astimezone(UTC)
    engine = ops_engine()
    earlier = run_events(engine, dag_id, run_id, "reschedule")
    if earlier:
        decided = earlier[-1]
        if not decided["accepted"]:
            raise refused(f"reschedule refused: {decided['reason']}")
        return {"upgrade_id": decided["upgrade_id"], "accepted": True, "reason": decided["reason"]}
    plan = _find_plan(engine, ref)
    cfg = upgrade_settings()
    too_early = requested_at_refusal(
        requested_at,
        run_started_at.astimezone(UTC),
        utc(plan.get("notified_at")),
        max_backdate=timedelta(hours=cfg.reschedule_max_backdate_hours),
        clock_skew=timedelta(minutes=cfg.reschedule_clock_skew_minutes),
    )
    if too_early is not None:
        raise refused(f"reschedule refused: {too_early}")
    outcome = reschedule(plan_model(plan), requested, requested_at, not_before=run_started_at)
    if not dry_run:
        record_outcome(
            engine,
            outcome,
            upgrade_id=plan["upgrade_id"],
            at=requested_at,
            dag_id=dag_id,
            run_id=run_id,
            actor=actor,
            detail={"requested": requested, "partner_reason": reason},
            expected_sequence=plan["sequence"],
        )
    if not outcome.accepted:
        raise refused(f"reschedule refused: {outcome.reason}")
    log.info("upgrade %s: %s%s", plan["upgrade_id"], outcome.reason, " (dry run: not recorded)" if dry_run else "")
    return {"upgrade_id": plan["upgrade_id"], "accepted": True, "reason": outcome.reason}


def send_reschedule_notice(
    *, dag_id: str, run_id: str, upgrade_id: str, as_of: datetime, started_at: datetime, dry_run: bool
) -> str:
    """The updated notice of a rescheduled upgrade: same UID, the plan's (higher) SEQUENCE, sent once."""
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.upgrades.notices import upgrade_notice
    from di_ops.pipelines.upgrades.store import get_plan

    if dry_run:
        return "dry_run"
    as_of = as_of.astimezone(UTC)
    engine = ops_engine()
    plan = get_plan(engine, upgrade_id)
    if plan is None:
        raise permanent_failure(f"upgrade {upgrade_id} vanished")
    inventory = _snapshot(engine, dag_id, run_id, as_of, started_at)
    customer: dict[str, Any] = next(
        (c for c in inventory["customers"] if c["customer_id"] == plan["customer_id"]), {"contacts": []}
    )
    notice = upgrade_notice(plan, customer, "reschedule", at=as_of, organizer=upgrade_settings().organizer)
    return _send(engine, notice, dag_id=dag_id, run_id=run_id, at=as_of)
