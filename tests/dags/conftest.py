"""DAG-level fixtures: the DagBag of dags/ and dag.test() runs on a SQLite metadata DB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

DAGS = REPO / "dags"


@pytest.fixture(scope="session")
def _session_dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def dagbag(_session_dagbag):  # type: ignore[no-untyped-def]
    """The DagBag of dags/, parsed once per session.

    ``dag.test(run_conf=...)`` on Airflow 3.3.2 writes the run's Param values into the tasks'
    params, and they stick to the (shared) DAG object: a later ``dag.test()`` without that key
    would silently reuse them. Every test therefore gets the tasks' params reset to the DAG's
    declared defaults afterwards.
    """
    import copy

    yield _session_dagbag
    for dag in _session_dagbag.dags.values():
        for task in dag.tasks:
            task.params = copy.deepcopy(dag.params)


@pytest.fixture
def ops_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the di_ops_db connection at a fresh SQLite file for the test."""
    import json

    path = tmp_path / "ops.db"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    yield f"sqlite:///{path}"
