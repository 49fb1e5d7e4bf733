"""Engines for the ops database and its migrations (SQLite by default, PostgreSQL at scale).

SQLite is tuned for parallel task writers: WAL journal, a busy timeout and
foreign keys on every connection; callers keep transactions short.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL advisory-lock key that serialises concurrent `upgrade` calls.
_MIGRATION_LOCK_KEY = 0x0D1_0B5


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'ops.db').resolve()}"


def url_from_connection(
    conn_type: str,
    *,
    host: str | None = None,
    schema: str | None = None,
    login: str | None = None,
    password: str | None = None,
    port: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Build a SQLAlchemy URL from the fields of an Airflow connection.

    ``sqlite``: the database file is ``host`` (or ``extra["path"]``), an absolute path.
    ``postgres``/``postgresql``: host, port, login, password and schema (the database name).
    ``extra["sqlalchemy_url"]`` wins over everything, for other setups.
    """
    extra = dict(extra or {})
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    kind = conn_type.lower()
    if kind == "sqlite":
        path = extra.get("path") or host or schema
        if not path:
            raise ValueError("sqlite connection needs the database file path in host or extra.path")
        if not Path(path).is_absolute():
            raise ValueError(f"sqlite database path must be absolute, got {path!r}")
        return f"sqlite:///{path}"
    if kind in {"postgres", "postgresql"}:
        url = URL.create(
            "postgresql+psycopg2",
            username=login or None,
            password=password or None,
            host=host or None,
            port=port or None,
            database=schema or None,
        )
        return url.render_as_string(hide_password=False)
    raise ValueError(f"ops DB connection type {conn_type!r} is not supported; use sqlite or postgres")


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def make_engine(url: str) -> Engine:
    """A new engine for ``url``; SQLite files get WAL, busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


@lru_cache(maxsize=8)
def cached_engine(url: str) -> Engine:
    """One engine per URL per process (a worker reuses its pool across tasks)."""
    return make_engine(url)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply the migrations up to ``revision`` (idempotent; serialised on PostgreSQL).

    ``heads``: every branch (each pipeline's migrations branch from the shared base).
    """
    from alembic import command

    cfg = _alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                conn.commit()
        return
    command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)


def head_revision() -> str:
    """The head revisions, sorted and joined by '+' (one per migration branch)."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(make_engine("sqlite://"))
    return "+".join(sorted(ScriptDirectory.from_config(cfg).get_heads()))


def current_revision(engine: Engine) -> str | None:
    """The revisions the database is at, in the same form as :func:`head_revision`; None when empty."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return "+".join(sorted(heads)) if heads else None
