"""The `make cluster` topology (CeleryExecutor, 2 workers, PostgreSQL, Redis) started for the tests."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from include.demo.backups import DEFAULT_AS_OF
from tests.conftest import REPO, free_port, port_open, service_missing

APPROVAL_TIMEOUT_S = 20  # guard.approval_timeout_hours on the cluster (shipped: 12 h)


WATCH_DAG = "incident_watch"


class AirflowApi:
    """A small REST client for Airflow's /api/v2 with the simple auth manager."""

    def __init__(self, base: str, home: Path) -> None:
        self.base = base
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        token.raise_for_status()
        self.client = httpx.Client(
            base_url=f"{base}/api/v2", timeout=30, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.get(f"/dags/{dag_id}").status_code == 200:
                return
            time.sleep(2)
        raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout} s")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None) -> str:
        self.wait_for_dag(dag_id)
        self.client.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        response = self.client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            state = self.client.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            if state in {"success", "failed"}:
                return str(state)
            time.sleep(2)
        raise TimeoutError(f"{dag_id} {run_id} still {state} after {timeout} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        response.raise_for_status()
        return list(response.json()["task_instances"])


def _demo(step: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "include.demo.runs", step],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"include.demo.runs {step} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie (killed, its parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _free_redis_db() -> int:
    """An empty Redis database (7-15) for this cluster's Celery broker: two cluster sessions on one
    machine (a developer's and a CI clone) must not take each other's tasks."""
    for number in range(7, 16):
        size = subprocess.run(["redis-cli", "-n", str(number), "DBSIZE"], capture_output=True, text=True)
        if size.returncode == 0 and size.stdout.strip() == "0":
            return number
    return 7


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The topology with the demo's inputs (fleet, backup store, COP repository + loopback sshd, DI lab)
    and a loopback SMTP sink, so that every pipeline can run on it to the end."""
    if not port_open("127.0.0.1", 5432):
        service_missing("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    if not port_open("127.0.0.1", 6379):
        service_missing("Redis", "nothing listens on 127.0.0.1:6379")
    from include.demo.smtp_sink import start as start_smtp

    home = tmp_path_factory.mktemp("cluster")
    data = home / "data"
    # The shipped config, except that an unanswered approval times out after 20 s, not 12 h
    # (test_approval_timeout_on_cluster.py); no other run trips the blast-radius guard.
    config = home / "config"
    shutil.copytree(REPO / "include" / "config", config)
    retention_yaml = config / "retention.yaml"
    shipped = retention_yaml.read_text()
    assert "approval_timeout_hours: 12\n" in shipped
    retention_yaml.write_text(
        shipped.replace("approval_timeout_hours: 12\n", f"approval_timeout_hours: {APPROVAL_TIMEOUT_S / 3600!r}\n")
    )
    suffix = uuid.uuid4().hex[:8]
    redis_db = _free_redis_db()
    smtp_port = free_port()
    smtp = start_smtp(home / "outbox", port=smtp_port)
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DI_OPS"))},
        "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}",
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        "DI_OPS_DATA_DIR": str(data),
        "DI_OPS_CONFIG_DIR": str(config),
        "DI_OPS_SFTP_PORT": str(free_port()),
        # the demo store and the tests' as_of from one instant, even when the session spans 02:30 UTC
        "DI_OPS_DEMO_AS_OF": DEFAULT_AS_OF.isoformat(),
    }
    demo_env = dict(line.removeprefix("export ").split("=", 1) for line in _demo("env", base).splitlines() if line)
    demo_env = {k: shlex.split(v)[0] for k, v in demo_env.items()}
    _demo("prepare", {**base, **demo_env})
    services = []
    for line in _demo("services", {**base, **demo_env}).splitlines():
        argv = json.loads(line)
        if argv[0] == "airflow":
            continue  # Airflow CLI steps (the pool) run once the cluster is up
        services.append(
            subprocess.Popen(
                argv,
                env={**base, **demo_env},
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    env = {
        **base,
        **demo_env,
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "di-ops@localhost"},
            }
        ),
        "DI_OPS_CLUSTER_DATA_DIR": str(data),
        "DI_OPS_CLUSTER_HOME": str(home),
        "DI_OPS_CLUSTER_PORT": str(free_port()),
        "DI_OPS_CLUSTER_SCHEDULER_HEALTH_PORT": str(free_port()),
        "DI_OPS_CLUSTER_TRIGGER_LOG_PORT": str(free_port()),
        "DI_OPS_CLUSTER_METADATA_DB": f"di_ops_test_af_{suffix}",
        "DI_OPS_CLUSTER_OPS_DB": f"di_ops_test_ops_{suffix}",
        "DI_OPS_CLUSTER_REDIS_DB": str(redis_db),
        # a killed worker's task is noticed in seconds, not the default 300 s
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # the DAG files do not change during the session: parse each once (it keeps running in the background
        # while the rest of the test session goes on, for incident_watch, and would re-parse every 30 s)
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
    }
    subprocess.run(["redis-cli", "-n", str(redis_db), "FLUSHDB"], check=False, capture_output=True)
    up = subprocess.run(
        ["bash", str(REPO / "include/cluster/up.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    try:
        assert up.returncode == 0, f"make cluster failed:\n{up.stdout}\n{up.stderr}"
        pool = subprocess.run(
            ["bash", "-c", f"source {REPO}/include/cluster/env.sh && airflow pools set cop_upload 2 COP"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert pool.returncode == 0, pool.stderr
        api = AirflowApi(f"http://127.0.0.1:{env['DI_OPS_CLUSTER_PORT']}", home)
        # incident_watch runs on its schedule for the whole session while the demo's case feed (a service
        # above) drops new exports; test_watch_on_cluster.py (the last file) judges its >= 15 minutes
        api.wait_for_dag(WATCH_DAG)
        api.client.patch(f"/dags/{WATCH_DAG}", json={"is_paused": False}).raise_for_status()
        watch_since = datetime.now(UTC)
        yield {
            "api": api,
            "env": env,
            "home": home,
            "data": data,
            "outbox": home / "outbox",
            "watch_since": watch_since,
        }
    finally:
        smtp.stop()
        for proc in services:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        pids = [int(p.read_text()) for p in (home / "pids").glob("*.pid")]
        subprocess.run(["bash", str(REPO / "include/cluster/down.sh")], env=env, capture_output=True, timeout=120)
        alive = [pid for pid in pids if _running(pid)]
        assert not alive, f"make cluster-down left {alive} running"
        for db in (env["DI_OPS_CLUSTER_METADATA_DB"], env["DI_OPS_CLUSTER_OPS_DB"]):
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'],
                capture_output=True,
            )
