"""The ops DB is found through the di_ops_db Airflow connection, else the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from di_ops.integrations.opsdb import ops_db_url


def test_connection_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "x.db")}))
    assert ops_db_url() == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", "postgresql://ops:s3cret@db.internal:5433/di_ops")
    assert ops_db_url() == "postgresql+psycopg2://ops:s3cret@db.internal:5433/di_ops"


def test_undefined_connection_means_the_embedded_default(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_DI_OPS_DB", raising=False)
    assert ops_db_url() == f"sqlite:///{data_dir / 'ops.db'}"
