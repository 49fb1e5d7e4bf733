"""Deadline Alerts on a real scheduler and triggerer (they crash dag.test() on Airflow 3.3.2, so
they are proven here): the custom DeadlineReference registered by the plugin is evaluated by the
scheduler with the project's rule, an overrun run sends exactly one e-mail through the SMTP
provider, and a run that finishes in time sends none. Housekeeping runs on the cluster too. A run
that ends any other way (a task failed for good, marked failed or success by hand) leaves no
deadline *Pending* (docs/interfaces.md, Deadline Alerts)."""

from __future__ import annotations

import email
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from di_ops.rules.deadlines import earliest_local_time
from include.demo.backups import DEFAULT_AS_OF

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def _subjects(outbox: Path) -> list[str]:
    out = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        out.append(str(make_header(decode_header(message["Subject"] or ""))))
    return out


def _deadline_mails(outbox: Path, run_id: str) -> list[str]:
    return [s for s in _subjects(outbox) if s.startswith("[di-ops] deadline missed") and run_id in s]


def _metadata(cluster: dict[str, Any]):  # type: ignore[no-untyped-def]
    return create_engine(
        f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_METADATA_DB']}"
    )


def _deadlines(cluster: dict[str, Any], dag_id: str, run_id: str) -> list[tuple[datetime, bool]]:
    engine = _metadata(cluster)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.deadline_time, d.missed FROM deadline d JOIN dag_run r ON r.id = d.dagrun_id "
                "WHERE r.dag_id = :dag_id AND r.run_id = :run_id"
            ),
            {"dag_id": dag_id, "run_id": run_id},
        ).all()
    engine.dispose()
    return [(row[0], bool(row[1])) for row in rows]


def test_an_overrun_nightly_run_alerts_once_and_a_timely_one_not_at_all(cluster: dict[str, Any]) -> None:
    api, outbox = cluster["api"], cluster["outbox"]
    # The pruning of a night two days ago: its deadline (06:00 in the earliest region after that
    # night) is long past when the run is created, so the scheduler marks it missed at once.
    night = (datetime.now(UTC) - timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)
    late = api.trigger(
        "backup_retention", {"dry_run": True, "as_of": DEFAULT_AS_OF.isoformat()}, logical_date=night.isoformat()
    )
    region, expected = earliest_local_time(night, wall_time(6, 0))
    # The scheduler evaluated the plugin's LocalTimeDeadline with the project's rule.
    deadline_rows: list[tuple[datetime, bool]] = []
    until = time.monotonic() + 120
    while time.monotonic() < until and not deadline_rows:
        deadline_rows = _deadlines(cluster, "backup_retention", late)
        time.sleep(2)
    assert [row[0] for row in deadline_rows] == [expected], f"06:00 {region} after {night}"

    until = time.monotonic() + 180
    while time.monotonic() < until and not _deadline_mails(outbox, late):
        time.sleep(2)
    [subject] = _deadline_mails(outbox, late)
    assert "backup_retention" in subject
    assert api.wait_for_run("backup_retention", late, timeout=300) == "success"
    assert _deadlines(cluster, "backup_retention", late) == [(expected, True)]

    # The same nightly DAG for tonight and the housekeeping finish long before 06:00 anywhere:
    # their deadlines are removed when they succeed and no alert goes out.
    timely = {
        "backup_retention": api.trigger("backup_retention", {"dry_run": True, "as_of": DEFAULT_AS_OF.isoformat()}),
        "ops_housekeeping": api.trigger("ops_housekeeping", {"dry_run": False}),
    }
    for dag_id, run_id in timely.items():
        assert api.wait_for_run(dag_id, run_id, timeout=300) == "success", dag_id
        assert _deadlines(cluster, dag_id, run_id) == [], dag_id
    time.sleep(10)  # a second scheduler loop and triggerer pass: still one alert, and none for the others
    assert len(_deadline_mails(outbox, late)) == 1
    for run_id in timely.values():
        assert _deadline_mails(outbox, run_id) == []
    ops = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_OPS_DB']}")
    with ops.connect() as conn:
        notices = conn.execute(
            text("SELECT status, run_id FROM notices WHERE kind = 'deadline_missed' AND run_id IN (:a, :b, :c)"),
            {"a": late, "b": timely["backup_retention"], "c": timely["ops_housekeeping"]},
        ).all()
    ops.dispose()
    assert [(n[0], n[1]) for n in notices] == [("sent", late)]


# --- an ended run never leaves its deadline Pending (plugins/di_ops/orchestration/deadline_listener.py) --------


def _mails_about(outbox: Path, run_id: str) -> list[str]:
    """Subjects of the e-mails whose subject or HTML body names the run."""
    out = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        subject = str(make_header(decode_header(message["Subject"] or "")))
        bodies = [
            part.get_payload(decode=True).decode("utf-8", "replace")
            for part in message.walk()
            if part.get_content_maintype() == "text"
        ]
        if run_id in subject or any(run_id in body for body in bodies):
            out.append(subject)
    return out


def _ui_deadlines(api: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """What the run's Deadlines view shows (the UI route behind *Pending*/*Missed*)."""
    response = api.client.get(f"{api.base}/ui/dags/{dag_id}/dagRuns/{run_id}/deadlines")
    response.raise_for_status()
    return list(response.json()["deadlines"])


def _ui_pending(api: Any) -> set[tuple[str, str]]:
    """Browse → Deadlines, status *Pending* (``missed=false``) across all DAGs and runs."""
    response = api.client.get(f"{api.base}/ui/dags/~/dagRuns/~/deadlines", params={"missed": False, "limit": 1000})
    response.raise_for_status()
    return {(d["dag_id"], d["dag_run_id"]) for d in response.json()["deadlines"]}


def _set_paused(api: Any, dag_id: str, paused: bool) -> bool:
    """Pause or unpause ``dag_id``; returns whether it was paused before."""
    api.wait_for_dag(dag_id)
    before = bool(api.client.get(f"/dags/{dag_id}").json()["is_paused"])
    api.client.patch(f"/dags/{dag_id}", json={"is_paused": paused}).raise_for_status()
    return before


def _queue_run(api: Any, dag_id: str, conf: dict[str, Any], logical_date: str | None = None) -> str:
    """A run created while its DAG is paused: it stays queued (its deadline is there) until unpaused."""
    response = api.client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf})
    response.raise_for_status()
    return str(response.json()["dag_run_id"])


def _wait_for_deadline(cluster: dict[str, Any], dag_id: str, run_id: str, timeout: float = 60) -> list[Any]:
    rows: list[tuple[datetime, bool]] = []
    until = time.monotonic() + timeout
    while time.monotonic() < until and not rows:
        rows = _deadlines(cluster, dag_id, run_id)
        time.sleep(1)
    return rows


def test_a_failed_run_leaves_no_deadline_pending(cluster: dict[str, Any]) -> None:
    """A task fails for good (the SLA audit pointed by its Param at exports that do not exist: a
    refusal, no retries, no on-call alert): the scheduler ends the run and removes its deadline an
    hour ahead in the same transaction, so the UI shows it Pending before and not at all after, and
    no e-mail at all is sent about the run (no alert for the refusal, no deadline mail)."""
    api, outbox = cluster["api"], cluster["outbox"]
    was_paused = _set_paused(api, "sla_audit", True)
    try:
        run_id = _queue_run(api, "sla_audit", {"export_path": "no-such-tac-exports"})
        [(deadline_time, missed)] = _wait_for_deadline(cluster, "sla_audit", run_id)
        queued_at = datetime.fromisoformat(api.client.get(f"/dags/sla_audit/dagRuns/{run_id}").json()["queued_at"])
        assert (deadline_time, missed) == (queued_at + timedelta(hours=1), False)  # after_queued: PT1H
        assert [d["missed"] for d in _ui_deadlines(api, "sla_audit", run_id)] == [False]
        assert ("sla_audit", run_id) in _ui_pending(api)  # Browse → Deadlines: Pending
    finally:
        _set_paused(api, "sla_audit", False)
    assert api.wait_for_run("sla_audit", run_id, timeout=240) == "failed"
    [start] = [t for t in api.task_instances("sla_audit", run_id) if t["task_id"] == "start_audit"]
    assert (start["state"], start["try_number"]) == ("failed", 1)
    # Resolved with the run's end: already gone when the API first reports the run failed.
    assert _deadlines(cluster, "sla_audit", run_id) == []
    assert _ui_deadlines(api, "sla_audit", run_id) == []
    assert ("sla_audit", run_id) not in _ui_pending(api)

    time.sleep(20)  # two scheduler loops and triggerer passes: no alert, no deadline e-mail follows
    assert _mails_about(outbox, run_id) == []
    assert _deadline_mails(outbox, run_id) == []
    if was_paused:
        _set_paused(api, "sla_audit", True)


def test_runs_ended_by_hand_resolve_their_deadlines(cluster: dict[str, Any]) -> None:
    """A run marked failed or success by hand (the api-server ends it) before its deadline loses
    the deadline; one marked failed after its deadline was missed keeps it missed, with one e-mail."""
    api, outbox = cluster["api"], cluster["outbox"]
    paused = {dag_id: _set_paused(api, dag_id, True) for dag_id in ("inventory_sync", "backup_retention")}
    try:
        night = (datetime.now(UTC) - timedelta(days=3)).replace(hour=1, minute=0, second=0, microsecond=0)
        late = _queue_run(
            api,
            "backup_retention",
            {"dry_run": True, "as_of": DEFAULT_AS_OF.isoformat()},
            logical_date=night.isoformat(),
        )
        _, expected = earliest_local_time(night, wall_time(6, 0))
        ended = {state: _queue_run(api, "inventory_sync", {}) for state in ("failed", "success")}
        for run_id in ended.values():
            assert [m for _, m in _wait_for_deadline(cluster, "inventory_sync", run_id)] == [False]
            assert ("inventory_sync", run_id) in _ui_pending(api)
        # backup_retention's deadline is long past: the scheduler marks it missed although the run waits.
        until = time.monotonic() + 120
        while time.monotonic() < until and _deadlines(cluster, "backup_retention", late) != [(expected, True)]:
            time.sleep(2)
        assert _deadlines(cluster, "backup_retention", late) == [(expected, True)]

        for state, run_id in ended.items():
            patched = api.client.patch(f"/dags/inventory_sync/dagRuns/{run_id}", json={"state": state})
            patched.raise_for_status()
            assert patched.json()["state"] == state
            assert _deadlines(cluster, "inventory_sync", run_id) == [], state
            assert _ui_deadlines(api, "inventory_sync", run_id) == [], state
        api.client.patch(f"/dags/backup_retention/dagRuns/{late}", json={"state": "failed"}).raise_for_status()
        assert _deadlines(cluster, "backup_retention", late) == [(expected, True)]  # missed stays missed
        assert [d["missed"] for d in _ui_deadlines(api, "backup_retention", late)] == [True]
    finally:
        for dag_id, was_paused in paused.items():
            _set_paused(api, dag_id, was_paused)

    until = time.monotonic() + 120
    while time.monotonic() < until and not _deadline_mails(outbox, late):
        time.sleep(2)
    time.sleep(10)
    assert len(_deadline_mails(outbox, late)) == 1
    for run_id in ended.values():
        assert _mails_about(outbox, run_id) == []
