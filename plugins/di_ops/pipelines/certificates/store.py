"""Ops-DB access of the certificate pipelines: observations, renewal plans, SSO runbooks.

Short transactions; every write is keyed so a retry or rerun writes the same rows once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update

from di_ops.db.tables_certificates import certificate_observations, certificate_plans, certificate_sso_runbooks

ACTIVE = ("scheduled", "emergency")


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes for timezone columns; they were stored as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_TIME_COLUMNS = {
    "not_before",
    "not_after",
    "chain_earliest_not_after",
    "observed_at",
    "window_start",
    "window_end",
    "planned_as_of",
    "renewed_at",
    "new_not_after",
    "updated_at",
}


def _row(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (utc(v) if k in _TIME_COLUMNS else v) for k, v in mapping.items()}


def _to_utc(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (utc(v) if k in _TIME_COLUMNS and isinstance(v, datetime) else v) for k, v in values.items()}


# --- observations ----------------------------------------------------------------------------------


def save_observations(engine: Engine, dag_id: str, run_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Replace this run's observations (a retry overwrites its own rows, nothing else)."""
    t = certificate_observations
    batch = [{**_to_utc(r), "dag_id": dag_id, "run_id": run_id} for r in rows]
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.dag_id == dag_id, t.c.run_id == run_id))
        if batch:
            conn.execute(insert(t), batch)
    return len(batch)


def observations(engine: Engine, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    t = certificate_observations
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.dag_id == dag_id, t.c.run_id == run_id).order_by(t.c.node_id))
        return [_row(r) for r in rows.mappings()]


# --- plans -----------------------------------------------------------------------------------------


def plan_id(node_id: str, serial: str, revision: int) -> str:
    return f"{node_id}/{serial}/r{revision}"


def plan_revisions(engine: Engine, node_id: str, serial: str) -> list[dict[str, Any]]:
    """Every plan of one certificate (node + serial), oldest revision first."""
    t = certificate_plans
    with engine.connect() as conn:
        rows = conn.execute(
            select(t).where(t.c.node_id == node_id, t.c.serial == serial).order_by(t.c.revision)
        ).mappings()
        return [_row(r) for r in rows]


def insert_plan(engine: Engine, values: Mapping[str, Any]) -> bool:
    """Insert a plan unless its id exists (a parallel or repeated sweep made it first)."""
    t = certificate_plans
    with engine.begin() as conn:
        if conn.execute(select(t.c.plan_id).where(t.c.plan_id == values["plan_id"])).first() is not None:
            return False
        conn.execute(insert(t).values(**_to_utc(values)))
    return True


def get_plan(engine: Engine, pid: str) -> dict[str, Any] | None:
    t = certificate_plans
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.plan_id == pid)).mappings().first()
    return None if row is None else _row(row)


def update_plan(engine: Engine, pid: str, **values: Any) -> None:
    t = certificate_plans
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.plan_id == pid).values(**_to_utc(values)))


def plans_for_window(engine: Engine, region: str, window_start: datetime, *, weekend: bool) -> list[dict[str, Any]]:
    """The plans the window of ``region`` opening at ``window_start`` must execute.

    Scheduled plans for exactly this window (weekday windows only: the rules never schedule a
    weekend window), and emergencies whose window is this one or an earlier one still unrenewed
    (an emergency goes in the next available window, weekend included: DOMAIN.md §1, §4).
    """
    t = certificate_plans
    start = utc(window_start)
    scheduled = and_(t.c.status == "scheduled", t.c.window_start == start)
    emergency = and_(t.c.status == "emergency", t.c.window_start <= start)
    condition = emergency if weekend else (scheduled | emergency)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t).where(t.c.region == region, condition).order_by(t.c.cluster_id, t.c.node_id)
        ).mappings()
        return [_row(r) for r in rows]


def all_plans(engine: Engine) -> list[dict[str, Any]]:
    t = certificate_plans
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(select(t).order_by(t.c.plan_id)).mappings()]


# --- SSO runbooks ----------------------------------------------------------------------------------


def runbook(engine: Engine, cluster_id: str, window_start: datetime) -> dict[str, Any] | None:
    t = certificate_sso_runbooks
    with engine.connect() as conn:
        row = (
            conn.execute(select(t).where(t.c.cluster_id == cluster_id, t.c.window_start == utc(window_start)))
            .mappings()
            .first()
        )
    return None if row is None else _row(row)


def save_runbook(engine: Engine, cluster_id: str, window_start: datetime, **values: Any) -> None:
    t = certificate_sso_runbooks
    key = {"cluster_id": cluster_id, "window_start": utc(window_start)}
    with engine.begin() as conn:
        exists = conn.execute(
            select(t.c.cluster_id).where(t.c.cluster_id == cluster_id, t.c.window_start == key["window_start"])
        ).first()
        if exists is None:
            conn.execute(insert(t).values(**key, **_to_utc(values)))
        else:
            conn.execute(
                update(t)
                .where(t.c.cluster_id == cluster_id, t.c.window_start == key["window_start"])
                .values(**_to_utc(values))
            )
