"""The ops database adapter: connection resolution, inventory snapshots, run pins, audit log.

Reached through the Airflow connection ``di_ops_db`` (SQLite file or PostgreSQL).
Transactions are short: one per snapshot, one per audit batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select

from di_ops.core.inventory import Inventory, contacts_by_customer
from di_ops.core.settings import data_dir
from di_ops.db import schema
from di_ops.db.engine import cached_engine, default_sqlite_url, upgrade, url_from_connection

log = logging.getLogger(__name__)

OPS_DB_CONN_ID = "di_ops_db"


# the ops-DB URLs this process has migrated (once per process, like the cached engines)
_MIGRATED: set[str] = set()


def ops_db_url(conn_id: str = OPS_DB_CONN_ID) -> str:
    """The SQLAlchemy URL of the ops DB from the Airflow connection ``conn_id``.

    When no such connection is defined, the embedded default is used: a SQLite file
    ``ops.db`` in the data folder (DI_OPS_DATA_DIR).
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        conn = BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError) as exc:
        if isinstance(exc, AirflowRuntimeError) and "CONNECTION_NOT_FOUND" not in str(exc):
            raise
        url = default_sqlite_url(data_dir())
        log.info("connection %s is not defined; using the embedded default %s", conn_id, url)
        return url
    return url_from_connection(
        conn.conn_type or "",
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        password=conn.password,
        port=conn.port,
        extra=conn.extra_dejson,
    )


def ops_engine(conn_id: str = OPS_DB_CONN_ID, *, migrate: bool = True) -> Engine:
    """An engine on the ops DB, migrated to the current schema (idempotent, cached per process)."""
    url = ops_db_url(conn_id)
    engine = cached_engine(url)
    if migrate and url not in _MIGRATED:
        upgrade(engine)
        _MIGRATED.add(url)
    return engine


def store_inventory(engine: Engine, inventory: Inventory, created_at: datetime) -> dict[str, Any]:
    """Insert the snapshot if it is new (same exports → same snapshot id → nothing written)."""
    counts = {
        "snapshot_id": inventory.snapshot_id,
        "customers": len(inventory.customers),
        "clusters": len(inventory.clusters),
        "nodes": len(inventory.nodes),
        "rejected": len(inventory.rejects),
    }
    with engine.begin() as conn:
        exists = conn.execute(
            select(schema.inventory_snapshots.c.snapshot_id).where(
                schema.inventory_snapshots.c.snapshot_id == inventory.snapshot_id
            )
        ).first()
        if exists:
            return {**counts, "new": False}
        sid = inventory.snapshot_id
        conn.execute(
            insert(schema.inventory_snapshots).values(
                snapshot_id=sid,
                created_at=created_at,
                source=inventory.source,
                customers=counts["customers"],
                clusters=counts["clusters"],
                nodes=counts["nodes"],
                rejected=counts["rejected"],
            )
        )
        contacts = contacts_by_customer(inventory.contacts)
        if inventory.customers:
            conn.execute(
                insert(schema.customers),
                [
                    {
                        "snapshot_id": sid,
                        "customer_id": c.customer_id,
                        "name": c.name,
                        "region": c.region,
                        "partner": c.partner,
                        "contacts": contacts.get(c.customer_id, []),
                    }
                    for c in inventory.customers
                ],
            )
        if inventory.clusters:
            conn.execute(insert(schema.clusters), [{"snapshot_id": sid, **c.model_dump()} for c in inventory.clusters])
        if inventory.nodes:
            conn.execute(insert(schema.nodes), [{"snapshot_id": sid, **n.model_dump()} for n in inventory.nodes])
        if inventory.rejects:
            conn.execute(
                insert(schema.inventory_rejects), [{"snapshot_id": sid, **r.model_dump()} for r in inventory.rejects]
            )
    return {**counts, "new": True}


def latest_snapshot_id(engine: Engine) -> str | None:
    t = schema.inventory_snapshots
    with engine.connect() as conn:
        row = conn.execute(select(t.c.snapshot_id).order_by(t.c.created_at.desc(), t.c.snapshot_id).limit(1)).first()
    return None if row is None else str(row[0])


def pin_snapshot(engine: Engine, dag_id: str, run_id: str, as_of: datetime, started_at: datetime) -> str | None:
    """The inventory snapshot a pipeline run uses: pinned at its first call, the same on every retry/rerun."""
    t = schema.pipeline_runs
    with engine.begin() as conn:
        row = conn.execute(select(t.c.snapshot_id).where(t.c.dag_id == dag_id, t.c.run_id == run_id)).first()
        if row is not None:
            return None if row[0] is None else str(row[0])
    snapshot = latest_snapshot_id(engine)
    with engine.begin() as conn:
        row = conn.execute(select(t.c.snapshot_id).where(t.c.dag_id == dag_id, t.c.run_id == run_id)).first()
        if row is not None:  # a parallel task of the same run pinned it first
            return None if row[0] is None else str(row[0])
        conn.execute(
            insert(t).values(dag_id=dag_id, run_id=run_id, snapshot_id=snapshot, as_of=as_of, started_at=started_at)
        )
    return snapshot


def snapshot_rows(engine: Engine, snapshot_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every customer, cluster and node of a snapshot as plain dicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, table in (("customers", schema.customers), ("clusters", schema.clusters), ("nodes", schema.nodes)):
            rows = conn.execute(select(table).where(table.c.snapshot_id == snapshot_id)).mappings()
            out[name] = [dict(r) for r in rows]
    return out


def write_audit(engine: Engine, entries: Iterable[Mapping[str, Any]]) -> int:
    """Append audit entries (at, dag_id, run_id, entity, action, detail, actor) in one short transaction."""
    batch = [dict(e) for e in entries]
    if not batch:
        return 0
    with engine.begin() as conn:
        conn.execute(insert(schema.audit_log), batch)
    return len(batch)


def count_rows(engine: Engine, table_name: str) -> int:
    table = schema.metadata.tables[table_name]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
