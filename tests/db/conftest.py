"""Ops-DB fixtures: each test runs on SQLite and on a fresh PostgreSQL database (fixtures ``ops_url``
and ``pg_url`` in tests/conftest.py); ``ops_db`` here is the engine before any migration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from di_ops.db.engine import make_engine


@pytest.fixture
def ops_db(ops_url: str) -> Iterator[Engine]:
    engine = make_engine(ops_url)
    yield engine
    engine.dispose()
