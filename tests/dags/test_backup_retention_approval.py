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
from tests.pipelines.retention.fixtures import AS_OF, night, remaining

pytestmark = pytest.mark.slow
USER, PASSWORD = "alice", "approver-pw"
OPERATOR, OPERATOR_PASSWORD = "operator1", "operator-pw"  # role op of the simple auth manager
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
    passwords.write_text(json.dumps({USER: PASSWORD, OPERATOR: OPERATOR_PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin,{OPERATOR}:op",
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
    run_id = _parked(client, seen, deadline)
    patch = client.patch(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_pruning/-1/hitlDetails",
        json={"chosen_options": [answer], "params_input": {}},
    )
    assert patch.status_code == 200, patch.text
    return run_id


def _parked(client: httpx.Client, seen: set[str], deadline: float) -> str:
    """Wait until approve_pruning of a run not in ``seen`` is parked without a response; return the run id."""
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
                seen.add(run_id)
                return str(run_id)
        time.sleep(0.5)
    raise AssertionError("no pending approval appeared")


def _login(base: str, user: str, password: str) -> dict[str, str]:
    token = httpx.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=10)
    assert token.status_code in (200, 201), token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _start_child(as_of: str, *roots: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO / "dags"), as_of, *map(str, roots)],
        env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'plugins'}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_guard_stops_and_the_approval_decides_both_ways(api_server, ops_sqlite, data_dir, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    approved_root, rejected_root = tmp_path / "approved", tmp_path / "rejected"
    kept = guarded_store(approved_root)
    guarded_store(rejected_root)
    before_rejected = remaining(rejected_root)
    child = _start_child(AS_OF.isoformat(), approved_root, rejected_root)
    try:
        base = api_server()
        headers = _login(base, USER, PASSWORD)
        seen: set[str] = set()
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            approved_run = _answer(client, "Approve", seen, time.monotonic() + 120)
            rejected_run = _answer(client, "Reject", seen, time.monotonic() + 120)
        output, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)  # Airflow 3.3.2: an HITL wait ignores SIGTERM (verified)
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
    # the rejected run leaves its note (the scheduler's listener makes it the DAG-run note when the
    # run ends: tests/cluster/test_approval_timeout_on_cluster.py; dag.test() runs no listener)
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        notes = {
            r: client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{r}/taskInstances/verify/xcomEntries/run_note")
            for r in (approved_run, rejected_run)
        }
    assert notes[approved_run].status_code == 404  # an approved run needs no note
    assert notes[rejected_run].json()["value"] == f"rejected by {USER}: nothing deleted"


def test_an_approval_marked_success_by_an_op_user_deletes_nothing(  # type: ignore[no-untyped-def]
    api_server, ops_sqlite, data_dir, tmp_path: Path
) -> None:
    """The approval bypass: an ``op`` user marks approve_pruning *success* instead of answering it.

    Without a recorded response that is a Reject: nothing deleted, the run's audit entry and
    summary.json say why (docs/pipelines/retention.md, "Two guarantees").
    """
    root = tmp_path / "marked"
    guarded_store(root)
    before = remaining(root)
    child = _start_child(AS_OF.isoformat(), root)
    try:
        base = api_server()
        with httpx.Client(base_url=base, headers=_login(base, USER, PASSWORD), timeout=10) as admin:
            run_id = _parked(admin, set(), time.monotonic() + 120)
        with httpx.Client(base_url=base, headers=_login(base, OPERATOR, OPERATOR_PASSWORD), timeout=10) as op:
            marked = op.patch(
                f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_pruning", json={"new_state": "success"}
            )
        # Airflow 3.3's simple auth manager lets the op role change task states (DAG access needs role user)
        assert marked.status_code == 200, marked.text
        output, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)  # an HITL wait ignores SIGTERM (AIRFLOW3.md §3)
    (result,) = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
    assert result["run_id"] == run_id
    assert result["state"] == "success", result  # a Reject is a decision, not a failure
    assert result["tasks"]["approve_pruning"] == "success" and result["tasks"]["recheck_plan"] == "success"
    assert result["tasks"]["delete_pruned"] == "success" and result["tasks"]["verify"] == "success"
    assert remaining(root) == before  # nothing deleted
    assert "approve_pruning has no recorded human response (task state changed by hand?)" in output

    from di_ops.db.schema import audit_log

    with make_engine(ops_sqlite).connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.run_id == run_id)).mappings().all()
    assert [row["action"] for row in rows] == ["retention.run"]  # no retention.prune entry
    (entry,) = rows
    assert entry["actor"] is None and entry["detail"]["deleted"] == 0
    assert entry["detail"]["approval"]["decision"] == "reject"
    assert entry["detail"]["approval"]["reason"] == "no recorded response"
    assert entry["detail"]["outcome"] == "rejected: nothing deleted (no recorded response)"
    (folder,) = (data_dir / "retention" / "runs").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["outcome"] == entry["detail"]["outcome"] and not (folder / "approved.json").exists()
