"""Every pipeline runs to the end on the CeleryExecutor topology; a worker killed mid-upload costs
nothing: the task is retried on the other worker and its side effect happens once."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from di_ops.rules.maintenance import next_window
from include.demo.backups import DEFAULT_AS_OF

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def _ops_engine(cluster: dict[str, Any]):  # type: ignore[no-untyped-def]
    return create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_OPS_DB']}")


def test_every_pipeline_runs_to_the_end(cluster: dict[str, Any]) -> None:
    api = cluster["api"]
    first = api.trigger("inventory_sync", {})
    assert api.wait_for_run("inventory_sync", first) == "success"
    window = next_window("EMEA", datetime.now(UTC), allow_weekend=True)
    runs = {
        "backup_retention": api.trigger("backup_retention", {"as_of": DEFAULT_AS_OF.isoformat()}),
        "cop_upload": api.trigger("cop_upload", {}),
        "certificate_sweep": api.trigger("certificate_sweep", {}),
        "certificate_renewal_emea": api.trigger("certificate_renewal_emea", {"window": window.start.isoformat()}),
        "upgrade_eligibility": api.trigger("upgrade_eligibility", {}),
        "sla_audit": api.trigger("sla_audit", {"as_of": "2026-11-27T00:00:00+00:00"}),
        "backup_health": api.trigger("backup_health", {"as_of": DEFAULT_AS_OF.isoformat()}),
        "capacity_audit": api.trigger("capacity_audit", {}),
    }
    states = {dag_id: api.wait_for_run(dag_id, run_id, timeout=600) for dag_id, run_id in runs.items()}
    assert states == dict.fromkeys(runs, "success")
    assert any(cluster["outbox"].glob("*.eml")), "the sweeps sent no notice"
    # the fleet-health checks judged the demo's own faults (include/demo/fleet.py, include/demo/backups.py)
    from di_ops.db.tables_backup_health import backup_health_series as health
    from di_ops.db.tables_capacity import capacity_states
    from di_ops.db.tables_inventory import contact_defects

    engine = _ops_engine(cluster)
    with engine.connect() as conn:
        defects = {r.customer_id for r in conn.execute(select(contact_defects.c.customer_id))}
        verdicts = dict(conn.execute(select(capacity_states.c.customer_id, capacity_states.c.verdict)).all())
        overdue = conn.execute(
            select(health.c.freshness).where(
                health.c.run_id == runs["backup_health"], health.c.customer_id == "C005", health.c.application == "IMP"
            )
        ).scalar_one()
    engine.dispose()
    assert "C011" in defects  # no partner contact on file
    assert verdicts.get("C010") == "breach" and verdicts.get("C009") == "warning"
    assert overdue == "overdue"


def _parents() -> dict[int, int]:
    out = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            out[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _tree(root: int, parents: dict[int, int]) -> set[int]:
    """``root`` and every process below it."""
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        grown = bool(more)
        tree |= more
    return tree


def _worker_reading(cluster: dict[str, Any], path: Path) -> tuple[str, set[int]] | None:
    """The worker (worker1/worker2) with a process that has ``path`` open (the upload reading it), and its tree."""
    parents = _parents()
    for pidfile in sorted((cluster["home"] / "pids").glob("worker*.pid")):
        tree = _tree(int(pidfile.read_text()), parents)
        for pid in tree:
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir()):
                    return pidfile.stem, tree
    return None


def test_a_worker_killed_mid_upload_costs_nothing(cluster: dict[str, Any]) -> None:
    api, data = cluster["api"], cluster["data"]
    name = "ciscocm.di-ops-kill-test-k9.cop.sgn"
    repository = data / "cop" / "repository"
    digest = hashlib.sha512()
    with (repository / name).open("wb") as fh:
        for _ in range(768):  # 768 MiB: the upload is still running when the worker dies
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            fh.write(chunk)
    with (repository / "SHA512SUMS").open("a") as fh:
        fh.write(f"{digest.hexdigest()}  {name}\n")
    first = api.trigger("inventory_sync", {})
    assert api.wait_for_run("inventory_sync", first) == "success"

    run_id = api.trigger(
        "cop_upload",
        {"customer_id": "C001", "cop_file": name, "origin": "customer", "emergency": False, "dry_run": False},
    )
    killed = None
    seen: list[list[Any]] = []
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline:
        states = [t["state"] for t in api.task_instances("cop_upload", run_id) if t["task_id"] == "upload"]
        if "running" in states:
            found = _worker_reading(cluster, repository / name)
            if found is not None:
                killed, tree = found
                for pid in tree:  # SIGKILL the whole worker: Celery, its pool, the task supervisor and task
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                break
        seen.append(states)
        time.sleep(0.2)
    assert killed is not None, f"never saw the upload running on a worker: {seen[-20:]}"

    assert api.wait_for_run("cop_upload", run_id, timeout=600) == "success"
    uploads = [t for t in api.task_instances("cop_upload", run_id) if t["task_id"] == "upload"]
    assert {t["state"] for t in uploads} == {"success"}
    # the killed try, then the retry on the surviving worker (the killed one is gone)
    assert max(t["try_number"] for t in uploads) >= 2

    target = data / "sftp-lab" / "customers" / "C001" / "upload"
    final = target / name
    assert final.exists() and not (target / f".{name}.partial").exists()
    with final.open("rb") as fh:
        assert hashlib.file_digest(fh, "sha512").hexdigest() == digest.hexdigest()
    from di_ops.db.tables_cop import cop_requests, cop_uploads

    engine = _ops_engine(cluster)
    with engine.connect() as conn:
        requests = conn.execute(select(cop_requests.c.request_id).where(cop_requests.c.cop_file == name)).all()
        receipts = conn.execute(select(cop_uploads).where(cop_uploads.c.request_id.in_([r[0] for r in requests]))).all()
    engine.dispose()
    assert len(requests) == 1 and len(receipts) == 1
    (cluster["home"] / "killed_worker.txt").write_text(killed)
