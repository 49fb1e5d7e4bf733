"""One customer's page: what every pipeline knows of the customer, each fact with the run behind it.

Read from the ops DB only (the latest inventory snapshot and the pipelines' own tables): clusters with
their release train and verdict (``rules.releases.assess`` at ``as_of``, as the upgrade sweep judges)
and their upgrade plan; certificates as last observed with their renewal plan; backups per series from
the latest retention plan; COP uploads; SLA compliance and open escalations from the latest audit; the
notices sent. Sections a user may not read (by the pipeline's DAG) are left out by the app.
Light at import: SQLAlchemy only inside the functions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from di_ops.orchestration.console.changes import aware

if TYPE_CHECKING:
    from sqlalchemy import Engine

SECTION_DAGS = {
    "clusters": "upgrade_eligibility",
    "certificates": "certificate_sweep",
    "backups": "backup_retention",
    "cop": "cop_upload",
    "sla": "sla_audit",
    "incidents": "incident_watch",
    "capacity": "capacity_audit",
    "health": "backup_health",
}
NOTICES_SHOWN = 50


@dataclass
class CustomerView:
    customer: dict[str, Any]
    snapshot_id: str
    clusters: list[dict[str, Any]] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    backups: list[dict[str, Any]] = field(default_factory=list)
    backups_run: dict[str, Any] | None = None
    cop: list[dict[str, Any]] = field(default_factory=list)
    sla: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    sla_run: dict[str, Any] | None = None
    notices: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    contact_defect: dict[str, Any] | None = None
    capacity: list[dict[str, Any]] = field(default_factory=list)
    health: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (cluster, application) -> row
    health_run: dict[str, Any] | None = None


def customers(engine: Engine) -> tuple[str | None, list[dict[str, Any]]]:
    """The latest snapshot's id and its customers (id, name, region, partner), by id."""
    from di_ops.integrations.opsdb import latest_snapshot_id, snapshot_rows

    snapshot = latest_snapshot_id(engine)
    if snapshot is None:
        return None, []
    rows = snapshot_rows(engine, snapshot)["customers"]
    return snapshot, sorted(rows, key=lambda c: str(c["customer_id"]))


def customer_view(engine: Engine, customer_id: str, *, as_of: datetime) -> CustomerView | None:
    """Everything the console shows of ``customer_id``; None when the latest snapshot does not list it."""
    from di_ops.integrations.opsdb import snapshot_rows

    snapshot, listed = customers(engine)
    match = [c for c in listed if c["customer_id"] == customer_id]
    if snapshot is None or not match:
        return None
    rows = snapshot_rows(engine, snapshot)
    clusters = [c for c in rows["clusters"] if c["customer_id"] == customer_id]
    cluster_ids = {str(c["cluster_id"]) for c in clusters}
    node_ids = {str(n["node_id"]) for n in rows["nodes"] if n["cluster_id"] in cluster_ids}
    view = CustomerView(customer=match[0], snapshot_id=snapshot)
    view.clusters = _clusters(engine, clusters, as_of)
    view.certificates = _certificates(engine, customer_id)
    view.backups_run, view.backups = _backups(engine, customer_id)
    view.cop = _cop(engine, customer_id)
    view.sla_run, view.sla, view.escalations = _sla(engine, customer_id)
    view.incidents = _incidents(engine, customer_id)
    view.contact_defect = _contact_defect(engine, snapshot, customer_id)
    view.capacity = _capacity(engine, customer_id)
    view.health_run, view.health = _health(engine, customer_id)
    cases = {str(i["case_id"]) for i in view.incidents}
    view.notices = _notices(engine, customer_id, cluster_ids | node_ids | cases)
    return view


def _clusters(engine: Engine, clusters: list[dict[str, Any]], as_of: datetime) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from di_ops.db.tables_upgrades import upgrade_plans as t
    from di_ops.rules.releases import assess

    ids = [str(c["cluster_id"]) for c in clusters]
    plans: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        query = select(t).where(t.c.cluster_id.in_(ids)).order_by(t.c.updated_at)
        for plan in conn.execute(query).mappings():
            plans[plan["cluster_id"]] = dict(plan)  # the latest wins
    out = []
    for cluster in sorted(clusters, key=lambda c: str(c["cluster_id"])):
        verdict = assess(str(cluster["version"]), application=str(cluster["application"]), as_of=as_of)
        plan = plans.get(str(cluster["cluster_id"]))
        out.append(
            {
                **cluster,
                "train": verdict.train,
                "may_stay": verdict.may_stay,
                "target": verdict.upgrade_target,
                "reasons": verdict.reasons,
                "plan": plan and {**plan, "window_start": aware(plan["window_start"])},
            }
        )
    return out


def _certificates(engine: Engine, customer_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from di_ops.db.tables_certificates import certificate_observations as obs
    from di_ops.db.tables_certificates import certificate_plans as plans

    latest: dict[str, dict[str, Any]] = {}
    planned: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(
            select(obs).where(obs.c.customer_id == customer_id).order_by(obs.c.observed_at)
        ).mappings():
            latest[row["node_id"]] = dict(row)
        for row in conn.execute(
            select(plans).where(plans.c.customer_id == customer_id).order_by(plans.c.updated_at, plans.c.revision)
        ).mappings():
            planned[row["node_id"]] = dict(row)
    out = []
    for node_id in sorted(set(latest) | set(planned)):
        seen, plan = latest.get(node_id, {}), planned.get(node_id)
        out.append(
            {
                "node_id": node_id,
                "host": seen.get("host") or (plan or {}).get("host"),
                "status": seen.get("status"),
                "not_after": aware(seen.get("not_after") or (plan or {}).get("not_after")),
                "observed_at": aware(seen.get("observed_at")),
                "observed_run": (seen.get("dag_id"), seen.get("run_id")) if seen else None,
                "plan": plan and {**plan, "window_start": aware(plan["window_start"])},
            }
        )
    return out


def _backups(engine: Engine, customer_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Per series of the latest retention plan that lists the customer: backups, good ones, the latest
    good, what the plan keeps, prunes and holds (with the hold's reasons)."""
    from sqlalchemy import func, select

    from di_ops.db.tables_retention import retention_plan as t

    with engine.connect() as conn:
        run = conn.execute(
            select(t.c.dag_id, t.c.run_id, func.max(t.c.as_of).label("as_of"))
            .where(t.c.customer_id == customer_id)
            .group_by(t.c.dag_id, t.c.run_id)
            .order_by(func.max(t.c.as_of).desc())
            .limit(1)
        ).first()
        if run is None:
            return None, []
        rows = conn.execute(
            select(t).where(t.c.dag_id == run.dag_id, t.c.run_id == run.run_id, t.c.customer_id == customer_id)
        ).mappings()
        series: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: {"backups": 0, "good": 0, "latest_good": None, "keep": 0, "prune": 0, "hold": 0, "held": []}
        )
        for row in rows:
            entry = series[(row["cluster_id"], row["application"])]
            entry["backups"] += 1
            entry[row["action"]] = entry.get(row["action"], 0) + 1
            taken = aware(row["taken_at"])
            if row["status"] == "SUCCESS" and row["intact"] and taken is not None:
                entry["good"] += 1
                entry["latest_good"] = max(filter(None, (entry["latest_good"], taken)))
            if row["action"] == "hold":
                entry["held"].extend(str(r) for r in row["reasons"] or [])
    info = {"dag_id": run.dag_id, "run_id": run.run_id, "as_of": aware(run.as_of)}
    return info, [
        {"cluster_id": c, "application": a, **v, "held": sorted(set(v["held"]))} for (c, a), v in sorted(series.items())
    ]


def _cop(engine: Engine, customer_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from di_ops.db.tables_cop import cop_requests as r
    from di_ops.db.tables_cop import cop_uploads as u

    query = (
        select(
            r,
            u.c.outcome,
            u.c.finished_at,
            u.c.mb_per_s,
            u.c.dag_id.label("upload_dag"),
            u.c.run_id.label("upload_run"),
        )
        .outerjoin(u, u.c.request_id == r.c.request_id)
        .where(r.c.customer_id == customer_id)
        .order_by(r.c.requested_at.desc())
    )
    with engine.connect() as conn:
        return [
            {**row, "window_start": aware(row["window_start"]), "finished_at": aware(row["finished_at"])}
            for row in (dict(m) for m in conn.execute(query).mappings())
        ]


def _sla(engine: Engine, customer_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    from sqlalchemy import select

    from di_ops.db.tables_sla import sla_audit_runs, sla_compliance, sla_escalations

    with engine.connect() as conn:
        run = conn.execute(
            select(sla_audit_runs.c.dag_id, sla_audit_runs.c.run_id, sla_audit_runs.c.as_of)
            .order_by(sla_audit_runs.c.as_of.desc(), sla_audit_runs.c.created_at.desc())
            .limit(1)
        ).first()
        if run is None:
            return None, [], []
        compliance = [
            dict(m)
            for m in conn.execute(
                select(sla_compliance)
                .where(
                    sla_compliance.c.dag_id == run.dag_id,
                    sla_compliance.c.run_id == run.run_id,
                    sla_compliance.c.dimension == "customer",
                    sla_compliance.c.group_key == customer_id,
                )
                .order_by(sla_compliance.c.severity)
            ).mappings()
        ]
        escalations = [
            {**dict(m), "due_at": aware(m["due_at"]), "opened_at": aware(m["opened_at"])}
            for m in conn.execute(
                select(sla_escalations)
                .where(
                    sla_escalations.c.dag_id == run.dag_id,
                    sla_escalations.c.run_id == run.run_id,
                    sla_escalations.c.customer_id == customer_id,
                )
                .order_by(sla_escalations.c.due_at)
            ).mappings()
        ]
    return {"dag_id": run.dag_id, "run_id": run.run_id, "as_of": aware(run.as_of)}, compliance, escalations


def _contact_defect(engine: Engine, snapshot: str, customer_id: str) -> dict[str, Any] | None:
    """The latest snapshot's contact-data defect of the customer (inventory_sync's gate), if any."""
    from sqlalchemy import select

    from di_ops.db.tables_inventory import contact_defects as t

    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.snapshot_id == snapshot, t.c.customer_id == customer_id)).first()
    return dict(row._mapping) if row is not None else None


def _capacity(engine: Engine, customer_id: str) -> list[dict[str, Any]]:
    """The customer's figures of the newest capacity audit that judged it (one row per measure)."""
    from sqlalchemy import select

    from di_ops.db.tables_capacity import capacity_figures as t

    with engine.connect() as conn:
        newest = conn.execute(
            select(t.c.dag_id, t.c.run_id).where(t.c.customer_id == customer_id).order_by(t.c.as_of.desc()).limit(1)
        ).first()
        if newest is None:
            return []
        rows = conn.execute(
            select(t)
            .where(t.c.dag_id == newest.dag_id, t.c.run_id == newest.run_id, t.c.customer_id == customer_id)
            .order_by(t.c.measure)
        ).mappings()
        return [{**dict(r), "as_of": aware(r["as_of"])} for r in rows]


def _health(engine: Engine, customer_id: str) -> tuple[dict[str, Any] | None, dict[tuple[str, str], dict[str, Any]]]:
    """Each series' verdicts in the newest backup_health run that judged the customer (freshness, at risk,
    restore- and DR-readiness with the reasons)."""
    from sqlalchemy import select

    from di_ops.db.tables_backup_health import backup_health_series as t

    with engine.connect() as conn:
        newest = conn.execute(
            select(t.c.dag_id, t.c.run_id, t.c.as_of)
            .where(t.c.customer_id == customer_id)
            .order_by(t.c.as_of.desc())
            .limit(1)
        ).first()
        if newest is None:
            return None, {}
        rows = conn.execute(
            select(t).where(t.c.dag_id == newest.dag_id, t.c.run_id == newest.run_id, t.c.customer_id == customer_id)
        ).mappings()
        found = {(r["cluster_id"], r["application"]): dict(r) for r in rows}
    run = {"dag_id": newest.dag_id, "run_id": newest.run_id, "as_of": aware(newest.as_of)}
    return run, found


def _incidents(engine: Engine, customer_id: str) -> list[dict[str, Any]]:
    """The customer's TAC cases that incident_watch tracks as open or as escalation candidates, newest first."""
    from sqlalchemy import or_, select

    from di_ops.db.tables_sla import sla_watch_cases as t

    query = (
        select(t)
        .where(t.c.customer_id == customer_id, or_(t.c.is_open, t.c.candidate_state != "none"))
        .order_by(t.c.opened_at.desc())
        .limit(NOTICES_SHOWN)
    )
    with engine.connect() as conn:
        return [
            {
                **dict(m),
                "opened_at": aware(m["opened_at"]),
                "first_response_at": aware(m["first_response_at"]),
                "candidate_since": aware(m["candidate_since"]),
            }
            for m in conn.execute(query).mappings()
        ]


def _notices(engine: Engine, customer_id: str, entities: set[str]) -> list[dict[str, Any]]:
    """The newest notices about the customer: their entity is one of its clusters, nodes or tracked
    TAC cases, the customer itself, or ``<customer>/<file>`` (COP)."""
    from sqlalchemy import or_, select

    from di_ops.db import schema

    t = schema.notices
    query = (
        select(t)
        .where(
            or_(
                t.c.entity.in_(sorted(entities | {customer_id})),
                t.c.entity.startswith(f"{customer_id}/", autoescape=True),
            )
        )
        .order_by(t.c.created_at.desc())
        .limit(NOTICES_SHOWN)
    )
    with engine.connect() as conn:
        return [
            {**dict(m), "created_at": aware(m["created_at"]), "sent_at": aware(m["sent_at"])}
            for m in conn.execute(query).mappings()
        ]
