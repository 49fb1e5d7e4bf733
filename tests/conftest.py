"""Test environment: an isolated Airflow home (SQLite) and data folder, set before Airflow is imported."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="di-ops-test-airflow-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
os.environ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ["DI_OPS_DATA_DIR"] = str(_HOME / "data")
# Airflow 3.3.2: a DeadlineAlert crashes dag.test() once all tasks succeed (verified): the DAGs are
# built without them here; tests/orchestration/test_deadlines.py builds them, tests/cluster proves them running.
os.environ["DI_OPS_DEADLINE_ALERTS"] = "0"
os.environ.pop("AIRFLOW_CONN_DI_OPS_DB", None)

REQUIRE_SERVICES = os.environ.get("DI_OPS_REQUIRE_SERVICES") == "1"


def service_missing(name: str, why: str) -> None:
    """Skip (locally) or fail (CI sets DI_OPS_REQUIRE_SERVICES=1) when a real service is missing."""
    message = f"{name} is not available: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (DI_OPS_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A migrated Airflow metadata DB (SQLite) for dag.test() runs."""
    from airflow.utils import db

    db.resetdb()
    yield _HOME


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("DI_OPS_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A writable copy of include/config, active for the test (caches cleared before and after)."""
    from di_ops.core import settings

    folder = tmp_path / "config"
    shutil.copytree(REPO / "include" / "config", folder)
    monkeypatch.setenv("DI_OPS_CONFIG_DIR", str(folder))
    settings.clear_caches()
    yield folder
    monkeypatch.delenv("DI_OPS_CONFIG_DIR")
    settings.clear_caches()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real SMTP server on loopback (aiosmtpd) storing each message as an .eml file in the yielded folder;
    ``smtp_default`` points at it."""
    import json

    from include.demo.smtp_sink import start

    port = free_port()
    outbox = tmp_path / "outbox"
    controller = start(outbox, port=port)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "di-ops@localhost"},
            }
        ),
    )
    yield outbox
    controller.stop()


PG_ADMIN_URL = os.environ.get("DI_OPS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database on 127.0.0.1:5432; dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    if not port_open("127.0.0.1", 5432):
        service_missing("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    name = f"di_ops_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ops DB URL, once on a SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def migrated_ops_db(ops_url: str):  # type: ignore[no-untyped-def]
    """An engine on ``ops_url`` with every migration applied (SQLite and PostgreSQL)."""
    from di_ops.db.engine import make_engine, upgrade

    engine = make_engine(ops_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``last`` run after all others (their order kept): e.g. the cluster's incident_watch
    judge, which lets the watch run on its schedule while the rest of the session goes on."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)
