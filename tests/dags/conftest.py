"""DAG-level fixtures: the DagBag of dags/ and dag.test() runs on a SQLite metadata DB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

DAGS = REPO / "dags"


@pytest.fixture(scope="session")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def ops_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the di_ops_db connection at a fresh SQLite file for the test."""
    import json

    path = tmp_path / "ops.db"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    yield f"sqlite:///{path}"
