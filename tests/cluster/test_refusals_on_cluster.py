"""Bad operator input through the REST API of a running api-server (the CeleryExecutor topology):
what JSON schema can check is answered with HTTP 400 and never becomes a run; what needs the run
(unknown Param keys, a future as_of on a real run, unknown customer ids) fails that run as a refusal —
no retries, no on-call e-mail, one ``request.refused`` audit row, nothing changed."""

from __future__ import annotations

import email
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from di_ops.core.request import AUDIT_REFUSED
from di_ops.db.schema import audit_log

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

FUTURE = (datetime.now(UTC) + timedelta(days=57)).isoformat()

# (dag_id, conf, the Param the 400 names): refused by the api-server's schema check
REJECTED_AT_TRIGGER = [
    ("backup_retention", {"as_of": "2026-11-27T02:30:00"}, "as_of"),  # no zone
    ("backup_retention", {"as_of": "27/11/2026"}, "as_of"),
    ("backup_retention", {"as_of": ""}, "as_of"),
    ("backup_retention", {"dry_run": "yes"}, "dry_run"),  # wrong type
    ("backup_retention", {"customers": [""]}, "customers"),
    ("backup_retention", {"customers": ["C\uff10\uff10\uff11"]}, "customers"),  # full-width digits
    ("backup_retention", {"customers": ["C001", "C001"]}, "customers"),  # a repeat
    ("backup_retention", {"customers": [f"C{n:04d}" for n in range(1001)]}, "customers"),  # huge list
    ("sla_audit", {"regions": ["MARS"]}, "regions"),
    ("sla_audit", {"regions": ["emea"]}, "regions"),
    ("sla_audit", {"period_start": "2026-02-30"}, "period_start"),
    ("cop_upload", {"origin": "partner"}, "origin"),
    ("cop_upload", {"customer_id": "../C001"}, "customer_id"),
    ("certificate_sweep", {"lookahead_days": 0}, "lookahead_days"),
    ("upgrade_reschedule", {"upgrade": "", "requested_window": "2026-12-14", "reason": "x"}, "upgrade"),
]

# (dag_id, conf, the Param the refusal names): a run that fails as a refusal
REFUSED_BY_THE_RUN = [
    ("sla_audit", {"regoins": ["EMEA"], "as_of": "2026-11-27T00:00:00+00:00"}, "regoins"),
    ("backup_retention", {"as_of": FUTURE}, "as_of"),
    ("upgrade_eligibility", {"customers": ["C999"]}, "customers"),
]


def _store_digest(root: Path) -> str:
    """What the backup store holds: every path with its size."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(f"{path.relative_to(root)}:{path.stat().st_size if path.is_file() else '-'}\n".encode())
    return h.hexdigest()


@pytest.mark.parametrize(("dag_id", "conf", "param"), REJECTED_AT_TRIGGER)
def test_the_api_answers_400_naming_the_param(cluster: dict[str, Any], dag_id: str, conf: dict, param: str) -> None:
    api = cluster["api"]
    api.wait_for_dag(dag_id)
    before = api.client.get(f"/dags/{dag_id}/dagRuns").json()["total_entries"]
    response = api.client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    assert response.status_code == 400, response.text
    assert param in response.text
    assert api.client.get(f"/dags/{dag_id}/dagRuns").json()["total_entries"] == before  # no run was made


def test_refused_runs_fail_without_retries_alerts_or_changes(cluster: dict[str, Any]) -> None:
    api = cluster["api"]
    inventory = api.trigger("inventory_sync", {})
    assert api.wait_for_run("inventory_sync", inventory) == "success"
    store = cluster["data"] / "backups"
    before = _store_digest(store)
    runs = {(dag_id, param): api.trigger(dag_id, conf) for dag_id, conf, param in REFUSED_BY_THE_RUN}
    for (dag_id, _param), run_id in runs.items():
        assert api.wait_for_run(dag_id, run_id, timeout=300) == "failed", (dag_id, run_id)
        failed = [ti for ti in api.task_instances(dag_id, run_id) if ti["state"] == "failed"]
        assert failed and all(ti["try_number"] == 1 for ti in failed), failed  # no retry
        done = {ti["task_id"] for ti in api.task_instances(dag_id, run_id) if ti["state"] == "success"}
        assert done <= {"change_freeze_gate"}, (dag_id, done)  # the gate only reads a Variable
        note = api.client.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["note"] or ""
        assert note.startswith("refused: ") and _param in note, (dag_id, note)  # the run's note says why
    assert _store_digest(store) == before  # nothing deleted

    engine = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_OPS_DB']}")
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.dag_id, audit_log.c.run_id, audit_log.c.action, audit_log.c.detail).where(
                audit_log.c.run_id.in_(list(runs.values()))
            )
        ).all()
    for (dag_id, param), run_id in runs.items():
        mine = [r for r in rows if r.run_id == run_id]
        assert mine and {r.action for r in mine} == {AUDIT_REFUSED}, (dag_id, mine)  # nothing else was done
        assert all(r.detail["param"] == param for r in mine), mine
    subjects = [email.message_from_bytes(p.read_bytes())["Subject"] or "" for p in cluster["outbox"].glob("*.eml")]
    for dag_id, _conf, _param in REFUSED_BY_THE_RUN:
        assert not [s for s in subjects if s.startswith(f"[di-ops] {dag_id}.") and s.endswith("failed")], subjects


def test_a_dry_run_may_look_ahead_and_its_note_says_so(cluster: dict[str, Any]) -> None:
    """The same future as_of that a real run is refused for: a dry run decides for it, changes
    nothing, and the run's note says it looked ahead."""
    api = cluster["api"]
    store = cluster["data"] / "backups"
    before = _store_digest(store)
    run_id = api.trigger("backup_retention", {"as_of": FUTURE, "dry_run": True})
    assert api.wait_for_run("backup_retention", run_id, timeout=300) == "success"
    assert _store_digest(store) == before
    note = api.client.get(f"/dags/backup_retention/dagRuns/{run_id}").json()["note"] or ""
    assert note.startswith("dry run as of ") and "after the run's start" in note, note
