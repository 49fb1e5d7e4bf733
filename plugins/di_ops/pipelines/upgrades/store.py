"""Planned upgrades in the ops DB: read them, create them, apply a state-machine outcome with its event.

Every change of a plan and every refused request is one row of ``upgrade_events`` (and one
line of ``audit_log``), written in the same short transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from di_ops.db.tables_upgrades import upgrade_events, upgrade_plans
from di_ops.rules.upgrade_plans import OPEN_STATES, Outcome, Plan

_DATETIMES = ("window_start", "window_end", "notified_at", "answer_by", "created_at", "updated_at")


def utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime (SQLite hands back naive UTC values)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every datetime as UTC before it is written (SQLite keeps the wall time and drops the offset)."""
    return {k: (v.astimezone(UTC) if isinstance(v, datetime) else v) for k, v in values.items()}


def _row(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    row = dict(mapping)
    for name in _DATETIMES:
        row[name] = utc(row.get(name))
    return row


def plan_model(row: Mapping[str, Any]) -> Plan:
    return Plan(
        upgrade_id=row["upgrade_id"],
        cluster_id=row["cluster_id"],
        window_region=row["window_region"],
        state=row["state"],
        window_start=utc(row["window_start"]),
        window_end=utc(row["window_end"]),
        reschedules=row["reschedules"],
        emergency=row["emergency"],
        sequence=row["sequence"],
    )


def get_plan(engine: Engine, upgrade_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(upgrade_plans).where(upgrade_plans.c.upgrade_id == upgrade_id)).mappings().first()
    return None if row is None else _row(row)


def open_plans(engine: Engine, cluster_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """cluster_id -> its open plan (proposed, notified or scheduled)."""
    query = select(upgrade_plans).where(upgrade_plans.c.state.in_(sorted(OPEN_STATES)))
    if cluster_ids is not None:
        query = query.where(upgrade_plans.c.cluster_id.in_(sorted(set(cluster_ids))))
    with engine.connect() as conn:
        rows = [_row(r) for r in conn.execute(query.order_by(upgrade_plans.c.created_at)).mappings()]
    return {r["cluster_id"]: r for r in rows}


def latest_plans(engine: Engine, cluster_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """cluster_id -> its most recently updated plan, whatever its state."""
    query = select(upgrade_plans).where(upgrade_plans.c.cluster_id.in_(sorted(set(cluster_ids))))
    with engine.connect() as conn:
        rows = [_row(r) for r in conn.execute(query.order_by(upgrade_plans.c.updated_at)).mappings()]
    return {r["cluster_id"]: r for r in rows}


def _event(
    upgrade_id: str,
    at: datetime,
    outcome: Outcome | None,
    *,
    action: str,
    accepted: bool,
    from_state: str | None,
    to_state: str | None,
    reason: str,
    dag_id: str,
    run_id: str,
    actor: str | None,
    detail: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    event = {
        "upgrade_id": upgrade_id,
        "at": at,
        "action": action,
        "accepted": accepted,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "dag_id": dag_id,
        "run_id": run_id,
        "actor": actor,
        "detail": dict(detail),
    }
    audit = {
        "at": at,
        "dag_id": dag_id,
        "run_id": run_id,
        "entity": f"upgrade:{upgrade_id}",
        "action": f"upgrade_{action}" + ("" if accepted else "_refused"),
        "detail": {"from": from_state, "to": to_state, "reason": reason, **dict(detail)},
        "actor": actor,
    }
    return _utc_values(event), _utc_values(audit)


def create_plan(engine: Engine, row: Mapping[str, Any], *, dag_id: str, run_id: str, at: datetime) -> bool:
    """Insert a proposed plan unless its cluster already has an open one; False when nothing was written."""
    from di_ops.db.schema import audit_log

    event, audit = _event(
        row["upgrade_id"],
        at,
        None,
        action="propose",
        accepted=True,
        from_state=None,
        to_state="proposed",
        reason="; ".join(t["reason"] for t in row["triggers"]),
        dag_id=dag_id,
        run_id=run_id,
        actor=None,
        detail={"target": row["target"], "window_start": row["window_start"].isoformat()},
    )
    try:
        with engine.begin() as conn:
            clash = conn.execute(
                select(upgrade_plans.c.upgrade_id).where(
                    (upgrade_plans.c.upgrade_id == row["upgrade_id"])
                    | (
                        (upgrade_plans.c.cluster_id == row["cluster_id"])
                        & upgrade_plans.c.state.in_(sorted(OPEN_STATES))
                    )
                )
            ).first()
            if clash is not None:
                return False
            conn.execute(insert(upgrade_plans).values(**_utc_values(row)))
            conn.execute(insert(upgrade_events).values(**event))
            conn.execute(insert(audit_log).values(**audit))
    except IntegrityError:  # the weekly sweep and the daily check planned the same upgrade at once
        return False
    return True


def record_outcome(
    engine: Engine,
    outcome: Outcome,
    *,
    upgrade_id: str,
    at: datetime,
    dag_id: str,
    run_id: str,
    actor: str | None = None,
    changes: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    expected_sequence: int | None = None,
) -> None:
    """Store an outcome: the plan's new state (when accepted) and the event.

    The update is guarded by the state the decision started from (and by the .ics sequence when
    given), so a decision taken on a stale copy never overwrites a newer one: it raises instead.
    """
    from di_ops.db.schema import audit_log

    event, audit = _event(
        upgrade_id,
        at,
        outcome,
        action=outcome.action,
        accepted=outcome.accepted,
        from_state=outcome.from_state,
        to_state=outcome.to_state,
        reason=outcome.reason,
        dag_id=dag_id,
        run_id=run_id,
        actor=actor,
        detail=detail or {},
    )
    with engine.begin() as conn:
        if outcome.accepted and outcome.plan is not None:
            values: dict[str, Any] = {
                "state": outcome.plan.state,
                "window_start": outcome.plan.window_start.astimezone(UTC),
                "window_end": outcome.plan.window_end.astimezone(UTC),
                "reschedules": outcome.plan.reschedules,
                "sequence": outcome.plan.sequence,
                "updated_at": at,
                "updated_run_id": run_id,
                **dict(changes or {}),
            }
            guard = [upgrade_plans.c.upgrade_id == upgrade_id, upgrade_plans.c.state == outcome.from_state]
            if expected_sequence is not None:
                guard.append(upgrade_plans.c.sequence == expected_sequence)
            done = conn.execute(update(upgrade_plans).where(*guard).values(**_utc_values(values)))
            if done.rowcount != 1:
                raise RuntimeError(f"upgrade {upgrade_id} changed under us (expected state {outcome.from_state})")
        conn.execute(insert(upgrade_events).values(**event))
        conn.execute(insert(audit_log).values(**audit))


def snapshot_taken_at(engine: Engine, snapshot_id: str) -> datetime:
    """When the inventory snapshot was stored (its content first seen by ``inventory_sync``), aware UTC."""
    from di_ops.db.schema import inventory_snapshots

    with engine.connect() as conn:
        value = conn.execute(
            select(inventory_snapshots.c.created_at).where(inventory_snapshots.c.snapshot_id == snapshot_id)
        ).scalar_one()
    taken = utc(value)
    assert taken is not None
    return taken


def run_events(engine: Engine, dag_id: str, run_id: str, action: str) -> list[dict[str, Any]]:
    query = (
        select(upgrade_events)
        .where(upgrade_events.c.dag_id == dag_id, upgrade_events.c.run_id == run_id, upgrade_events.c.action == action)
        .order_by(upgrade_events.c.id)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def plan_events(engine: Engine, upgrade_id: str) -> list[dict[str, Any]]:
    query = select(upgrade_events).where(upgrade_events.c.upgrade_id == upgrade_id).order_by(upgrade_events.c.id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
