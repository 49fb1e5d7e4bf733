"""The month's events, wired into a Simulation: nightly backups, TAC cases (a day's export each night and a
few S1/S2 incidents as they happen), inventory changes (late contacts, a late node, upgrades carried out in
their windows), COP requests, a refused renewal; and the probes of elided ``inventory_sync`` /
``cop_upload`` / ``incident_watch`` slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.simulation import world as w
from tests.simulation.month import Outcome, Simulation

PROBE_EVERY = {"inventory_sync": 41, "cop_upload": 149, "incident_watch": 577}  # about 17, 19 and 15 probes


def wire(sim: Simulation, world: Any) -> dict[str, Any]:
    """Schedule the world's events; returns the scenario's own record (completed upgrades, requests)."""
    record: dict[str, Any] = {"completed": {}, "woken": []}
    inventory = world.data / "inventory"

    def export_changed(what: str) -> None:
        at = sim.clock.now
        world.fleet.write(inventory, at)
        record["woken"].append((what, at, sim.wake("inventory_sync", at)))

    sim.wake("inventory_sync", w.START)  # the exports written before the month: loaded at the first slot
    world.lab.faults.refuse_renewal[w.REFUSED_ONCE] = 1

    for day in range(w.DAYS + 1):
        for taken, customer, cluster, app in world.store.nightly(day):
            if w.START <= taken < w.END:
                sim.event(taken, "backup", lambda a=(taken, customer, cluster, app): world.store.arrive(*a))
        arrival = w.START + day * w.DAY - timedelta(minutes=10)
        if day:
            sim.event(arrival, "tac", lambda a=arrival, d=day: _day_cases(sim, world, a, d))
        digest = w.START + day * w.DAY + timedelta(hours=_digest_hour())
        if digest < w.END:
            sim.event(digest, "digest hour", lambda a=digest: sim.wake("incident_watch", a))
    sim.wake("incident_watch", w.START)  # the history in the export folder: read at the first slot
    for number, (at, severity, customer) in enumerate(w.LIVE_INCIDENTS, start=1):

        def incident(at: datetime = at, severity: str = severity, customer: str = customer, n: int = number) -> None:
            w.write_live_case(world.data / "sla" / "exports", at, severity, customer, n)
            sim.wake("incident_watch", at)

        sim.event(at, "incident", incident)

    def contacts() -> None:
        world.fleet.contacts_withheld = False
        export_changed("contacts of C007")

    def late_node() -> None:
        world.fleet.late_node_listed = True
        export_changed(f"node {w.LATE_NODE}")

    sim.event(w.LATE_CONTACTS[1], "contacts", contacts)
    sim.event(w.LATE_NODE_SEEN, "late node", late_node)

    for at, name, body in w.COP_REQUESTS:

        def drop(name: str = name, body: dict = body, at: datetime = at) -> None:
            w.drop_request(world.data / "cop" / "inbox", name, body, at)
            sim.wake("cop_upload", at)

        sim.event(at, "cop request", drop)

    def after(outcome: Outcome) -> None:
        if outcome.dag_id == "cop_upload":
            _wake_cop_windows(sim)
        if outcome.dag_id.startswith("upgrade_"):
            _carry_out_upgrades(sim, world, record, export_changed)

    sim.after_run.append(after)
    sim.schedule_probes(PROBE_EVERY, lambda dag_id, at: probe(world, dag_id, at))
    return record


def _day_cases(sim: Simulation, world: Any, arrival: datetime, day: int) -> None:
    w.write_day_cases(world.data / "sla" / "exports", arrival, day)
    sim.wake("incident_watch", arrival)


def _digest_hour() -> int:
    from di_ops.pipelines.sla.settings import sla_settings

    return int(sla_settings().watch.digest_hour_utc)


def _wake_cop_windows(sim: Simulation) -> None:
    from sqlalchemy import select

    from di_ops.db.tables_cop import cop_requests
    from di_ops.integrations.opsdb import ops_engine

    with ops_engine().connect() as conn:
        rows = conn.execute(select(cop_requests).where(cop_requests.c.status == "planned")).mappings().all()
    for row in rows:
        for moment in (_utc(row["window_start"]), _utc(row["window_end"])):
            if moment is not None and moment >= sim.clock.now:
                sim.wake("cop_upload", moment)


def _carry_out_upgrades(sim: Simulation, world: Any, record: dict[str, Any], export_changed: Any) -> None:
    """The operator upgrades each announced cluster an hour into its window (not those of MISSED_CUSTOMERS)."""
    from di_ops.pipelines.upgrades.store import open_plans

    for cluster, plan in open_plans(_engine()).items():
        if plan["state"] not in {"notified", "scheduled"} or plan["customer_id"] in w.MISSED_CUSTOMERS:
            continue
        key = (cluster, plan["window_start"])
        if key in record["completed"] or plan["window_start"] >= w.END:
            continue
        record["completed"][key] = plan["target"]

        def upgrade(cluster: str = cluster, target: str = plan["target"]) -> None:
            world.fleet.set_version(cluster, target)
            export_changed(f"{cluster} upgraded to {target}")

        sim.event(max(plan["window_start"] + timedelta(hours=1), sim.clock.now), "upgrade", upgrade)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands timezone columns back naive (stored as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _engine() -> Any:
    from di_ops.integrations.opsdb import ops_engine

    return ops_engine()


def probe(world: Any, dag_id: str, at: datetime) -> dict[str, Any]:
    """What a run at an elided slot would have done: ``{}`` means nothing."""
    from di_ops.core.inventory import read_inventory
    from di_ops.integrations.opsdb import latest_snapshot_id
    from tests.simulation import drivers

    if dag_id == "inventory_sync":
        snapshot = read_inventory(world.data / "inventory").snapshot_id
        loaded = latest_snapshot_id(_engine())
        return {} if snapshot == loaded else {"new_snapshot": snapshot, "loaded": loaded}
    if dag_id == "incident_watch":  # its first task only reads: no export new or changed since the last run
        from di_ops.pipelines.sla.watch import scan_exports

        plan = scan_exports(dict(drivers.WATCH_PARAMS), f"probe__{at.isoformat()}", at, at)
        return {k: plan[k] for k in ("changed", "touched") if plan[k]}
    summary = drivers.cop_upload(at, dry_run=True, probe_id=f"probe__{at.isoformat()}")["summary"]
    found = {k: summary[k] for k in ("due", "notify", "planned", "rejected", "missed", "dry_run_plan") if summary[k]}
    return found
