"""upgrade_reschedule end to end through dag.test(): accepted once (updated .ics to a real SMTP server), refused
the second time and refused inside 7 days, each refusal recorded with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest

from tests.pipelines.upgrades.fleet import AS_OF, load_inventory, write_feeds, write_inventory

pytestmark = pytest.mark.slow


def _states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


@pytest.fixture
def planned(ops_sqlite: str, data_dir: Path, tmp_path: Path, smtp_sink: Path):  # type: ignore[no-untyped-def]
    """The ops DB after the weekly sweep at AS_OF planned and noticed the fleet's upgrades (to the SMTP sink)."""
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.pipelines.upgrades.sweep import apply_plans, sweep

    engine = make_engine(ops_sqlite)
    upgrade(engine)
    load_inventory(engine, write_inventory(tmp_path / "inv"), AS_OF)
    write_feeds(data_dir)
    swept = sweep(
        dag_id="upgrade_eligibility", run_id="w1", as_of=AS_OF, started_at=AS_OF, customers=None, announce=None
    )
    apply_plans(dag_id="upgrade_eligibility", run_id="w1", as_of=AS_OF, folder=swept["folder"], dry_run=False)
    return engine


def test_reschedule_accepted_once_then_refused(airflow_db, dagbag, planned, smtp_sink: Path) -> None:
    from di_ops.pipelines.upgrades.store import get_plan, open_plans, plan_events

    engine = planned
    plan = open_plans(engine)["A004-cucm"]
    sent = len(list(smtp_sink.glob("*.eml")))
    dag = dagbag.get_dag("upgrade_reschedule")
    asked_at = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    asked = asked_at.isoformat()

    # run_after: the run happens when the partner asked (as_of may not be back-dated past 24 h)
    run = dag.test(
        run_after=asked_at,
        run_conf={"upgrade": "A004-cucm", "requested_window": "2026-06-19", "reason": "go-live week", "as_of": asked},
    )
    assert run.state == "success", _states(run)
    moved = get_plan(engine, plan["upgrade_id"])
    assert moved is not None and moved["window_start"] == datetime(2026, 6, 19, 19, 0, tzinfo=UTC)
    files = sorted(smtp_sink.glob("*.eml"))
    assert len(files) == sent + 1
    ics = next(
        p.get_payload(decode=True).decode()
        for p in message_from_bytes(files[-1].read_bytes()).walk()
        if p.get_filename() == "upgrade.ics"
    ).replace("\r\n ", "")
    assert f"UID:upgrade-{plan['upgrade_id']}@di-ops" in ics and "SEQUENCE:1" in ics

    again = dag.test(
        run_after=asked_at + timedelta(minutes=1),
        run_conf={"upgrade": plan["upgrade_id"], "requested_window": "2026-06-22", "reason": "again", "as_of": asked},
    )
    assert again.state == "failed"
    assert _states(again)["decide"] == "failed" and _states(again)["send_notice"] == "upstream_failed"

    late = dag.test(
        run_after=datetime(2026, 6, 9, 12, 0, tzinfo=UTC),
        run_conf={
            "upgrade": "A003-cucm",
            "requested_window": "2026-06-19",
            "reason": "too late",
            "as_of": datetime(2026, 6, 9, 12, 0, tzinfo=UTC).isoformat(),  # 6 days 23 hours before the window
        },
    )
    assert late.state == "failed"
    assert len(list(smtp_sink.glob("*.eml"))) == sent + 1
    refusals = [
        e["reason"]
        for upgrade_id in (plan["upgrade_id"], open_plans(engine)["A003-cucm"]["upgrade_id"])
        for e in plan_events(engine, upgrade_id)
        if e["action"] == "reschedule" and not e["accepted"]
    ]
    assert len(refusals) == 2
    assert "already rescheduled 1 time(s)" in refusals[0] and "at least 7 days" in refusals[1]


def test_a_back_dated_request_is_refused_without_an_alert(airflow_db, dagbag, planned, smtp_sink: Path) -> None:
    """as_of 8 days before the run would pass the 7-day rule for a window 7.5 days after the run:
    refused, naming the Param, nothing moved, no e-mail (no notice, no on-call alert)."""
    from di_ops.pipelines.upgrades.store import open_plans

    engine = planned
    before = open_plans(engine)["A004-cucm"]
    sent = len(list(smtp_sink.glob("*.eml")))
    run = dagbag.get_dag("upgrade_reschedule").test(
        run_after=datetime(2026, 6, 11, 12, 0, tzinfo=UTC),
        run_conf={
            "upgrade": "A004-cucm",
            "requested_window": "2026-06-19",
            "reason": "back-dated",
            "as_of": datetime(2026, 6, 3, 12, 0, tzinfo=UTC).isoformat(),
        },
    )
    assert run.state == "failed" and _states(run)["decide"] == "failed"
    assert open_plans(engine)["A004-cucm"]["window_start"] == before["window_start"]
    assert len(list(smtp_sink.glob("*.eml"))) == sent  # a refusal: no notice and no alert
