"""An approval nobody answers times out to Reject on a real scheduler and triggerer.

The timeout is Airflow's own (HITLTrigger in the triggerer); dag.test() never runs it - it parks
the task in AWAITING_INPUT until someone answers - so it is proven here. The cluster's config
shortens ``guard.approval_timeout_hours`` from 12 h to ``APPROVAL_TIMEOUT_S``.
"""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from di_ops.db.schema import audit_log
from include.demo.backups import DEFAULT_AS_OF, write_backup
from tests.cluster.conftest import APPROVAL_TIMEOUT_S

pytestmark = [pytest.mark.slow, pytest.mark.cluster]
CUSTOMER = "C990"  # not in the demo fleet: only this test's run selects it


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_an_unanswered_approval_times_out_to_reject(cluster: dict[str, Any]) -> None:
    api = cluster["api"]
    store = cluster["data"] / "backups"
    guarded = store / CUSTOMER
    # one series whose every backup failed long ago: the plan would prune all 5 (> 50 %) - the guard trips
    for n in range(40, 45):
        write_backup(store, CUSTOMER, f"{CUSTOMER}-cucm", "CUCM", DEFAULT_AS_OF - timedelta(days=n), status="FAILED")
    before = _files(guarded)
    try:
        started = time.monotonic()
        run_id = api.trigger("backup_retention", {"as_of": DEFAULT_AS_OF.isoformat(), "customers": [CUSTOMER]})
        assert api.wait_for_run("backup_retention", run_id, timeout=300) == "success"
        elapsed = time.monotonic() - started
        states = {ti["task_id"]: ti["state"] for ti in api.task_instances("backup_retention", run_id)}
        after = _files(guarded)
    finally:
        shutil.rmtree(guarded, ignore_errors=True)  # later runs on the cluster must not trip the guard

    assert elapsed >= APPROVAL_TIMEOUT_S, f"the run ended after {elapsed:.0f} s, before the approval's timeout"
    assert states["blast_radius_guard"] == "success" and states["no_approval_needed"] == "skipped"
    assert states["approve_pruning"] == "success"  # Airflow answered with the default, Reject
    assert states["recheck_plan"] == "skipped" and states["delete_pruned"] == "skipped"
    assert states["verify"] == "success"
    assert after == before and len(before) == 5 * 3  # nothing deleted (per backup: manifest + 2 files)
    # the scheduler's listener (orchestration.run_notes) gave the green run its note
    note = api.client.get(f"/dags/backup_retention/dagRuns/{run_id}").json()["note"]
    assert note == "rejected: nothing deleted (no answer within the response timeout: the default ['Reject'] applied)"

    engine = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_OPS_DB']}")
    with engine.connect() as conn:
        rows = (
            conn.execute(select(audit_log).where(audit_log.c.run_id == run_id, audit_log.c.action == "retention.run"))
            .mappings()
            .all()
        )
    engine.dispose()
    assert len(rows) == 1
    assert rows[0]["actor"] is None  # nobody approved or rejected
    assert rows[0]["detail"]["deleted"] == 0 and rows[0]["detail"]["guard_tripped"] is True
    assert rows[0]["detail"]["approval"] == {
        "required": True,
        "decision": "reject",
        "reason": "no answer within the response timeout: the default ['Reject'] applied",
        "approver": None,
        "chosen_options": ["Reject"],
        "timed_out": True,
    }
