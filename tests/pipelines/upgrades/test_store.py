"""Planned upgrades in a real ops DB, on SQLite and PostgreSQL: one open plan per cluster, guarded state
changes, aware UTC datetimes back from both dialects, every decision an event plus an audit line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from di_ops.integrations.opsdb import count_rows
from di_ops.pipelines.upgrades.store import (
    create_plan,
    get_plan,
    latest_plans,
    open_plans,
    plan_events,
    plan_model,
    record_outcome,
    run_events,
)
from di_ops.rules.upgrade_plans import reschedule, transition

AT = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
START = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_ops_db: Engine) -> Engine:
    return migrated_ops_db


def _row(upgrade_id: str = "A004-cucm~15.0SU2~20260615", cluster_id: str = "A004-cucm") -> dict:
    return {
        "upgrade_id": upgrade_id,
        "customer_id": "A004",
        "cluster_id": cluster_id,
        "application": "CUCM",
        "window_region": "EMEA",
        "from_version": "11.5 SU9",
        "target": "15.0 SU2",
        "triggers": [
            {"kind": "below_n1", "reason": "11.5 SU9 is unsupported", "target": "15.0 SU2", "emergency": False}
        ],
        "emergency": False,
        "state": "proposed",
        "window_start": START,
        "window_end": START + timedelta(hours=9),
        "reschedules": 0,
        "sequence": 0,
        "notified_at": None,
        "answer_by": None,
        "created_at": AT,
        "updated_at": AT,
        "created_run_id": "w1",
        "updated_run_id": "w1",
    }


def test_one_open_plan_per_cluster_and_aware_datetimes(engine: Engine) -> None:
    assert create_plan(engine, _row(), dag_id="d", run_id="w1", at=AT)
    assert not create_plan(engine, _row(), dag_id="d", run_id="w1", at=AT)  # a retry writes nothing
    assert not create_plan(engine, _row("A004-cucm~15.0SU2~20260616"), dag_id="d", run_id="w2", at=AT)
    plan = get_plan(engine, "A004-cucm~15.0SU2~20260615")
    assert plan is not None and plan["window_start"] == START and plan["window_start"].utcoffset() == timedelta(0)
    assert list(open_plans(engine)) == ["A004-cucm"]
    assert count_rows(engine, "upgrade_events") == 1 and count_rows(engine, "audit_log") == 1


def test_outcomes_change_the_plan_only_from_the_expected_state(engine: Engine) -> None:
    create_plan(engine, _row(), dag_id="d", run_id="w1", at=AT)
    model = plan_model(get_plan(engine, _row()["upgrade_id"]))  # type: ignore[arg-type]
    notify = transition(model, "notify")
    answer_by = AT.astimezone(timezone(timedelta(hours=2))) + timedelta(days=3)
    record_outcome(
        engine, notify, upgrade_id=model.upgrade_id, at=AT, dag_id="d", run_id="w1", changes={"answer_by": answer_by}
    )
    with pytest.raises(RuntimeError, match="changed under us"):  # a stale decision never overwrites a newer one
        record_outcome(engine, notify, upgrade_id=model.upgrade_id, at=AT, dag_id="d", run_id="w1")
    notified = get_plan(engine, model.upgrade_id)
    assert notified is not None and notified["state"] == "notified" and notified["answer_by"] == answer_by
    moved = reschedule(plan_model(notified), "2026-06-19", AT)
    record_outcome(
        engine, moved, upgrade_id=model.upgrade_id, at=AT, dag_id="r", run_id="r1", actor="ops", expected_sequence=0
    )
    with pytest.raises(RuntimeError, match="changed under us"):  # a parallel request decided on the same copy
        parallel = reschedule(plan_model(notified), "2026-06-18", AT).model_copy(update={"from_state": "scheduled"})
        record_outcome(
            engine, parallel, upgrade_id=model.upgrade_id, at=AT, dag_id="r", run_id="r9", expected_sequence=0
        )
    refused = reschedule(plan_model(get_plan(engine, model.upgrade_id)), "2026-06-22", AT)  # type: ignore[arg-type]
    record_outcome(engine, refused, upgrade_id=model.upgrade_id, at=AT, dag_id="r", run_id="r2", actor="ops")
    final = get_plan(engine, model.upgrade_id)
    assert final is not None and final["state"] == "scheduled" and final["reschedules"] == 1 and final["sequence"] == 1
    assert final["window_start"] == datetime(2026, 6, 19, 19, 0, tzinfo=UTC)
    assert [(e["action"], e["accepted"]) for e in plan_events(engine, model.upgrade_id)] == [
        ("propose", True),
        ("notify", True),
        ("reschedule", True),
        ("reschedule", False),
    ]
    assert run_events(engine, "r", "r2", "reschedule")[0]["reason"].startswith("already rescheduled 1")
    assert latest_plans(engine, ["A004-cucm"])["A004-cucm"]["upgrade_id"] == model.upgrade_id
    assert count_rows(engine, "audit_log") == 4


def test_the_snapshot_time_comes_back_aware_utc(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from di_ops.pipelines.upgrades.store import snapshot_taken_at
    from tests.pipelines.upgrades.fleet import load_inventory, write_inventory

    taken = datetime(2026, 6, 16, 4, 0, tzinfo=UTC)  # inventory_sync stores its run's instant in UTC
    snapshot = load_inventory(engine, write_inventory(tmp_path / "inv"), taken)
    assert snapshot_taken_at(engine, snapshot) == datetime(2026, 6, 16, 4, 0, tzinfo=UTC)
    assert snapshot_taken_at(engine, snapshot).utcoffset() == timedelta(0)
