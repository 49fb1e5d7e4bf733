"""Alembic environment: runs online against the engine/connection handed in by di_ops.db.engine."""

from __future__ import annotations

from alembic import context

from di_ops.db.schema import load_all_tables

metadata = load_all_tables()

config = context.config
connection = config.attributes.get("connection")
engine = config.attributes.get("engine")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
elif engine is not None:
    with engine.begin() as conn:
        _run(conn)
else:  # pragma: no cover - the alembic CLI is not used; di_ops.db.engine passes an engine
    raise RuntimeError("run migrations through di_ops.db.engine.upgrade()")
