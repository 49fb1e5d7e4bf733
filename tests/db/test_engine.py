"""Ops DB: migrations build exactly the described schema, on SQLite and PostgreSQL; SQLite takes parallel writers."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from di_ops.db.engine import current_revision, downgrade, head_revision, make_engine, upgrade, url_from_connection
from di_ops.db.schema import load_all_tables
from di_ops.integrations.opsdb import count_rows, write_audit

metadata = load_all_tables()


def test_migrations_match_the_schema_and_round_trip(ops_db: Engine) -> None:
    assert current_revision(ops_db) is None
    upgrade(ops_db)
    assert current_revision(ops_db) == head_revision()
    with ops_db.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    upgrade(ops_db)  # idempotent
    downgrade(ops_db, "base")
    assert set(inspect(ops_db).get_table_names()) <= {"alembic_version"}
    upgrade(ops_db)
    assert set(metadata.tables) <= set(inspect(ops_db).get_table_names())


def _write_audit_rows(url: str, worker: int, rows: int) -> None:
    engine = make_engine(url)
    for i in range(rows):
        write_audit(
            engine,
            [
                {
                    "at": datetime.now(UTC),
                    "dag_id": "test",
                    "run_id": f"w{worker}",
                    "entity": f"e{i}",
                    "action": "write",
                    "detail": {"i": i},
                    "actor": None,
                }
            ],
        )
    engine.dispose()


def test_sqlite_takes_parallel_writers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    workers, rows = 6, 150
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_audit_rows, args=(url, w, rows)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * workers
    assert count_rows(engine, "audit_log") == workers * rows


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"conn_type": "sqlite", "host": "/data/ops.db"}, "sqlite:////data/ops.db"),
        ({"conn_type": "sqlite", "extra": {"path": "/x/y.db"}}, "sqlite:////x/y.db"),
        (
            {"conn_type": "postgres", "host": "db", "port": 5432, "login": "u", "password": "p@ss", "schema": "di_ops"},
            "postgresql+psycopg2://u:p%40ss@db:5432/di_ops",
        ),
        ({"conn_type": "generic", "extra": {"sqlalchemy_url": "sqlite://"}}, "sqlite://"),
    ],
)
def test_url_from_connection(kwargs: dict, expected: str) -> None:
    conn_type = kwargs.pop("conn_type")
    assert url_from_connection(conn_type, **kwargs) == expected


@pytest.mark.parametrize(
    ("conn_type", "kwargs", "message"),
    [
        ("sqlite", {}, "needs the database file path"),
        ("sqlite", {"host": "relative.db"}, "must be absolute"),
        ("mysql", {"host": "x"}, "not supported"),
    ],
)
def test_url_from_connection_errors(conn_type: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        url_from_connection(conn_type, **kwargs)
