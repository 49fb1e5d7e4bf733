"""The blast-radius guard stops a run at the approval; answered both ways through a real api-server.

dag.test() runs in a child process (an HITL task blocks dag.test until someone answers, and a hung
child can be killed); this test answers through the REST endpoint ``hitlDetails`` of an
``airflow api-server`` sharing the same metadata DB, logged in as a named user of the simple auth
manager, and checks that the approver lands in the audit log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from di_ops.db.engine import make_engine
from include.demo.backups import write_backup
from tests.conftest import REPO, free_port
from tests.pipelines.retention_fixtures import AS_OF, night, remaining

pytestmark = pytest.mark.slow
USER, PASSWORD = "alice", "approver-pw"
DAG_ID = "backup_retention"

CHILD = """
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).get_dag("backup_retention")
results = []
for store in sys.argv[3:]:
    os.environ["AIRFLOW_CONN_DI_BACKUP_STORE"] = json.dumps({"conn_type": "fs", "extra": {"path": store}})
    run = dag.test(run_conf={"as_of": sys.argv[2]})
    results.append({"run_id": run.run_id, "state": str(run.state),
                    "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}})
print("RESULT " + json.dumps(results), flush=True)
"""


def guarded_store(root: Path) -> set[str]:
    """A series whose every backup failed long ago (the plan would prune its whole history) + a normal one."""
    for n in range(5, 10):
        write_backup(root, "C010", "C010-cucm", "CUCM", night(n), status="FAILED", backup_id=f"bad-{n}")
    for n in range(1, 37):
        write_backup(root, "C010", "C010-imp", "IMP", night(n), backup_id=f"imp-{n}")
    return {f"imp-{n}" for n in range(1, 34)}


@pytest.fixture
def api_server(airflow_db, tmp_path: Path) -> Iterator[Callable[[], str]]:  # type: ignore[no-untyped-def]
    port = free_port()
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    }
    log = (tmp_path / "api-server.log").open("w")
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.Popen(
        [str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def wait_healthy() -> str:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"api-server exited: {(tmp_path / 'api-server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        pytest.fail("api-server did not become healthy in 90 s")

    try:
        yield wait_healthy  # the caller starts its dag.test child first, then waits (both start up at once)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its worker
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _answer(client: httpx.Client, answer: str, seen: set[str], deadline: float) -> str:
    """Wait for a pending approval of a run not yet answered; answer it; return its run id."""
    while time.monotonic() < deadline:
        response = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails")
        response.raise_for_status()
        for item in response.json().get("hitl_details", []):
            ti = item.get("task_instance", {})
            run_id = ti.get("dag_run_id") or ti.get("run_id")
            # answer once the task is parked: a response recorded while the task is still running
            # (its HITL row exists before it defers) does not resume it in dag.test, which runs no
            # trigger - it would wait forever
            parked = ti.get("state") in {"awaiting_input", "deferred"}
            if (
                ti.get("task_id") == "approve_pruning"
                and parked
                and not item.get("response_received")
                and run_id not in seen
            ):
                patch = client.patch(
                    f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_pruning/-1/hitlDetails",
                    json={"chosen_options": [answer], "params_input": {}},
                )
                assert patch.status_code == 200, patch.text
                seen.add(run_id)
                return str(run_id)
        time.sleep(0.5)
    raise AssertionError(f"no pending approval appeared to answer {answer}")


def test_guard_stops_and_the_approval_decides_both_ways(api_server, ops_sqlite, data_dir, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    approved_root, rejected_root = tmp_path / "approved", tmp_path / "rejected"
    kept = guarded_store(approved_root)
    guarded_store(rejected_root)
    before_rejected = remaining(rejected_root)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO / "dags"), AS_OF.isoformat(), str(approved_root), str(rejected_root)],
        env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'plugins'}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = api_server()
        token = httpx.post(f"{base}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=10)
        assert token.status_code in (200, 201), token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        seen: set[str] = set()
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            approved_run = _answer(client, "Approve", seen, time.monotonic() + 120)
            rejected_run = _answer(client, "Reject", seen, time.monotonic() + 120)
        output, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)  # an HITL wait ignores SIGTERM (AIRFLOW3.md §3)
    results = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
    approved, rejected = results
    assert (approved["run_id"], rejected["run_id"]) == (approved_run, rejected_run)

    assert approved["state"] == "success", approved
    assert approved["tasks"]["approve_pruning"] == "success"
    assert approved["tasks"]["recheck_plan"] == "success" and approved["tasks"]["no_approval_needed"] == "skipped"
    assert remaining(approved_root) == {"C010/C010-imp/IMP": kept}

    assert rejected["state"] == "success", rejected
    assert rejected["tasks"]["recheck_plan"] == "skipped" and rejected["tasks"]["delete_pruned"] == "skipped"
    assert rejected["tasks"]["verify"] == "success"
    assert remaining(rejected_root) == before_rejected

    from di_ops.db.schema import audit_log

    with make_engine(ops_sqlite).connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "retention.run")).mappings().all()
    by_run = {row["run_id"]: row for row in rows}
    assert by_run[approved_run]["actor"] == USER and by_run[approved_run]["detail"]["deleted"] == 8
    assert by_run[rejected_run]["actor"] == USER and by_run[rejected_run]["detail"]["deleted"] == 0
    assert by_run[rejected_run]["detail"]["approval"]["chosen_options"] == ["Reject"]
    # answered by a person, not by the timeout (tests/cluster/test_approval_timeout_on_cluster.py)
    assert by_run[approved_run]["detail"]["approval"]["timed_out"] is False
    assert by_run[rejected_run]["detail"]["approval"]["timed_out"] is False
