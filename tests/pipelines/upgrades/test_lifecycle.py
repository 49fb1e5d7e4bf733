"""The life of a planned upgrade when the sweeps run unattended, day after day (DOMAIN.md §1, §2, §6):
emergencies within a day, notices counted from their sending, missed windows flagged and re-planned.

Real task bodies (sweep, apply_plans, write_report) on a real ops DB (SQLite) and a real SMTP server
on loopback; the clock is the sweeps' ``as_of``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from di_ops.rules.upgrade_plans import window_state
from tests.pipelines.upgrades.lifecycle_fixtures import body, ics, load, mails, run_sweep, to_of, write_advisories

MONDAY = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # the weekly sweep
WEDNESDAY = datetime(2026, 6, 3, 7, 0, tzinfo=UTC)  # daily checks at 07:00 UTC
THURSDAY = datetime(2026, 6, 4, 7, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 6, 5, 7, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 6, 8, 6, 0, tzinfo=UTC)
OPS_ALERTS = "di-ops-oncall@localhost"  # pipelines.yaml: alerts.to


def _critical(advisory_id: str, affected: str, published: datetime) -> dict[str, Any]:
    return {
        "advisory_id": advisory_id,
        "application": "CUCM",
        "affected_versions": [affected],
        "fixed_in": "15.0 SU2",
        "remedy": "upgrade",
        "published": published.isoformat(),
        "severity": "critical",
    }


TAC_WEDNESDAY = {
    "request_id": "TAC-9",
    "customer_id": "A006",
    "application": "IMP",
    "reason": "wants the 15.0 SU2 feature set",
    "requested_at": "2026-06-03T09:00:00Z",
}


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, smtp_sink: Path):  # type: ignore[no-untyped-def]
    """A migrated ops DB on SQLite behind the di_ops_db connection; the SMTP sink and data folder set up."""
    from di_ops.db.engine import make_engine, upgrade

    path = tmp_path / "ops.db"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    yield eng
    eng.dispose()


def _plans(engine: Any) -> dict[str, dict[str, Any]]:
    from di_ops.pipelines.upgrades.store import open_plans

    return open_plans(engine)


def _no_announced_window_in_the_past(engine: Any, at: datetime) -> None:
    """DOMAIN.md §2: after a sweep judged the windows, no notified/scheduled upgrade has a closed window."""
    stale = {
        c: p for c, p in _plans(engine).items() if p["state"] in {"notified", "scheduled"} and p["window_end"] <= at
    }
    assert stale == {}


# --- (1) a critical advisory is acted on within a day -------------------------------------------


def test_a_critical_advisory_of_wednesday_is_planned_and_noticed_on_thursday(
    engine: Any, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    from di_ops.integrations.opsdb import count_rows
    from di_ops.pipelines.upgrades.store import latest_plans

    load(engine, tmp_path / "inv1", MONDAY)
    advisory = _critical("ADV-C", "15.0 SU1", datetime(2026, 6, 3, 10, 0, tzinfo=UTC))
    write_advisories(data_dir, [advisory], [TAC_WEDNESDAY])
    run_sweep(MONDAY, "w1")
    weekly = set(_plans(engine))
    assert weekly == {"A003-cucm", "A003-imp", "A003-cucxn", "A003-sme", "A004-cucm"}
    sent = len(mails(smtp_sink))
    assert sent == len(weekly)

    # Wednesday 07:00: the advisory (10:00) is not published yet
    run_sweep(WEDNESDAY, "d-wed", daily=True)
    assert set(_plans(engine)) == weekly and len(mails(smtp_sink)) == sent

    # Thursday 07:00: the emergency is planned in the next window (Thursday night), noticed at once;
    # the partner's Wednesday request is no emergency: it waits for Monday
    result = run_sweep(THURSDAY, "d-thu", daily=True)
    plans = _plans(engine)
    assert set(plans) == weekly | {"A005-cucm", "A005-imp"}
    for cid in ("A005-cucm", "A005-imp"):
        assert plans[cid]["emergency"] and plans[cid]["state"] == "notified"
        assert plans[cid]["window_start"] == datetime(2026, 6, 4, 19, 0, tzinfo=UTC)  # Thu 21:00 CEST
        assert plans[cid]["window_start"] < NEXT_MONDAY
    new = mails(smtp_sink)[sent:]
    assert sorted(m["Subject"].split(":")[0] for m in new) == ["Emergency upgrade", "Emergency upgrade"]
    assert all(to_of(m) == {"noc@a005.partner.example", "it@a005.example"} for m in new)
    assert all("DTSTART:20260604T190000Z" in ics(m) for m in new)
    assert "Emergency change" in body(new[0]) and "ADV-C" in body(new[0])
    assert result["actions"]["propose"] == 2 and "A006-imp" not in plans

    # Thursday again and Friday: nothing twice; Friday's inventory shows the fix: done
    run_sweep(THURSDAY + timedelta(hours=1), "d-thu-2", daily=True)
    assert len(mails(smtp_sink)) == sent + 2
    load(
        engine,
        tmp_path / "inv2",
        FRIDAY - timedelta(hours=2),
        versions={"A005-cucm": "15.0 SU2", "A005-imp": "15.0 SU2"},
    )
    run_sweep(FRIDAY, "d-fri", daily=True)
    done = latest_plans(engine, ["A005-cucm", "A005-imp"])
    assert {p["state"] for p in done.values()} == {"done"}
    assert [m["Subject"].split(":")[0] for m in mails(smtp_sink)[sent + 2 :]] == ["Completed upgrade"] * 2

    # next Monday: the weekly sweep plans the partner request; the emergency is not planned again
    run_sweep(NEXT_MONDAY, "w2")
    assert "A006-imp" in _plans(engine)
    assert count_rows(engine, "upgrade_plans") == len(weekly) + 3
    assert len(mails(smtp_sink)) == sent + 2 + 2 + 1


@pytest.mark.parametrize(("delay", "planned"), [(timedelta(0), True), (timedelta(seconds=1), False)])
def test_the_daily_check_sees_an_advisory_published_up_to_its_instant(
    engine: Any, data_dir: Path, smtp_sink: Path, tmp_path: Path, delay: timedelta, planned: bool
) -> None:
    load(engine, tmp_path / "inv", MONDAY)
    write_advisories(data_dir, [_critical("ADV-C", "15.0 SU1", THURSDAY + delay)], [])
    run_sweep(THURSDAY, "d-thu", daily=True)
    assert ("A005-cucm" in _plans(engine)) is planned
    # the daily check starts emergencies only: the n-2 and unsupported clusters wait for Monday
    assert not {"A003-cucm", "A004-cucm"} & set(_plans(engine))
    assert len(mails(smtp_sink)) == (2 if planned else 0)


def test_an_emergency_supersedes_a_planned_upgrade_of_the_same_cluster(
    engine: Any, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    from di_ops.pipelines.upgrades.store import get_plan

    load(engine, tmp_path / "inv", MONDAY)
    write_advisories(data_dir, [_critical("ADV-D", "12.5", datetime(2026, 6, 3, 10, 0, tzinfo=UTC))], [])
    run_sweep(MONDAY, "w1")
    before = _plans(engine)
    sent = len(mails(smtp_sink))
    run_sweep(THURSDAY, "d-thu", daily=True)
    after = _plans(engine)
    group = ("A003-cucm", "A003-imp", "A003-cucxn")  # must move together: one emergency window (AUS)
    for cid in group:
        old = get_plan(engine, before[cid]["upgrade_id"])
        assert old is not None and old["state"] == "cancelled" and old["sequence"] == 1
        assert after[cid]["emergency"] and after[cid]["state"] == "notified"
        assert after[cid]["window_start"] == datetime(2026, 6, 4, 11, 0, tzinfo=UTC)  # Thu 21:00 AEST
    assert after["A003-sme"]["upgrade_id"] == before["A003-sme"]["upgrade_id"]  # SME is not affected
    assert after["A004-cucm"]["upgrade_id"] == before["A004-cucm"]["upgrade_id"]
    new = mails(smtp_sink)[sent:]
    kinds = sorted(m["Subject"].split(":")[0] for m in new)
    assert kinds == ["Cancelled upgrade"] * 3 + ["Emergency upgrade"] * 3
    cancel = next(m for m in new if m["Subject"].startswith("Cancelled") and "A003-cucm " in m["Subject"])
    assert "METHOD:CANCEL" in ics(cancel) and "superseded by an emergency change" in body(cancel)


# --- (2) a notice counts from when it is sent ---------------------------------------------------


@pytest.mark.parametrize(
    ("days_later", "window_start"),
    [
        (0, datetime(2026, 6, 15, 19, 0, tzinfo=UTC)),  # Monday's sweep: Mon 15 Jun 21:00 CEST
        (8, datetime(2026, 6, 23, 19, 0, tzinfo=UTC)),  # Tue 9 Jun: the proposal's 15 Jun is too close now
        (13, datetime(2026, 6, 29, 19, 0, tzinfo=UTC)),  # Sun 14 Jun: business days start on Monday
        (16, datetime(2026, 7, 1, 19, 0, tzinfo=UTC)),  # Wed 17 Jun: the proposed window is already past
    ],
)
def test_a_notice_names_a_window_at_least_10_business_days_after_its_sending(
    engine: Any, data_dir: Path, smtp_sink: Path, tmp_path: Path, days_later: int, window_start: datetime
) -> None:
    from di_ops.pipelines.upgrades.store import plan_events
    from di_ops.rules.calendar import add_business_days

    sent_at = MONDAY + timedelta(days=days_later, hours=1 if days_later else 0)
    write_advisories(data_dir, [], [])
    load(engine, tmp_path / "inv1", MONDAY - timedelta(hours=1), without_contacts=() if days_later == 0 else ["A004"])
    run_sweep(MONDAY, "w1")
    proposed = _plans(engine)["A004-cucm"]
    if days_later:
        assert proposed["state"] == "proposed" and proposed["window_start"] == datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
        run_sweep(MONDAY + timedelta(days=4, hours=1), "d-fri", daily=True)  # still no contacts: still proposed
        assert _plans(engine)["A004-cucm"]["state"] == "proposed"
        # nothing to the partner; the operator is told once, over both sweeps, that the notice has nobody
        about = [m for m in mails(smtp_sink) if "A004-cucm" in m["Subject"]]
        assert [(to_of(m), m["Subject"]) for m in about] == [
            ({OPS_ALERTS}, "[di-ops] DATA GAP: no contact for A004, upgrade notice of A004-cucm not sent")
        ]
        load(engine, tmp_path / "inv2", sent_at - timedelta(hours=1))  # the contacts arrive
        run_sweep(sent_at, "d-send", daily=True)
    plan = _plans(engine)["A004-cucm"]
    assert plan["state"] == "notified" and plan["notified_at"] == sent_at
    assert plan["window_start"] == window_start  # the stored window is the one sent
    assert window_start >= add_business_days("EMEA", sent_at, 10) and window_start > sent_at
    notice = [m for m in mails(smtp_sink) if "A004-cucm" in m["Subject"] and to_of(m) != {OPS_ALERTS}]
    assert len(notice) == 1 and notice[0]["Subject"].startswith("Planned upgrade")
    assert f"DTSTART:{window_start:%Y%m%dT%H%M%SZ}" in ics(notice[0]) and "SEQUENCE:0" in ics(notice[0])
    notify = next(e for e in plan_events(engine, plan["upgrade_id"]) if e["action"] == "notify")
    assert notify["detail"]["proposed_window_start"] == "2026-06-15T19:00:00+00:00"
    assert notify["detail"]["window_start"] == window_start.isoformat()


# --- (3) a window that passed: done, or missed and re-planned --------------------------------

END = datetime(2026, 6, 16, 4, 0, tzinfo=UTC)  # A004-cucm's window closes Tue 16 Jun 06:00 CEST
SECOND = timedelta(seconds=1)
GRACE = timedelta(hours=2)  # upgrades.yaml: missed_grace_hours
REPLANNED = datetime(2026, 6, 30, 19, 0, tzinfo=UTC)  # Tue 30 Jun 21:00 CEST: 10 business days after Tue 16 Jun


def _scheduled_a004(engine: Any, data_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """A004-cucm announced on Monday 1 June for 15/16 June, scheduled after the answer deadline."""
    write_advisories(data_dir, [], [])
    load(engine, tmp_path / "inv0", MONDAY - timedelta(hours=1))
    from di_ops.pipelines.upgrades.sweep import apply_plans, sweep

    for run_id, at, dag_id in (
        ("setup-w", MONDAY, "upgrade_eligibility"),
        ("setup-d", THURSDAY, "upgrade_emergency_check"),
    ):
        found = sweep(dag_id=dag_id, run_id=run_id, as_of=at, started_at=at, customers=["A004"], announce=None)
        apply_plans(dag_id=dag_id, run_id=run_id, as_of=at, folder=found["folder"], dry_run=False)
    plan = _plans(engine)["A004-cucm"]
    assert plan["state"] == "scheduled" and plan["window_end"] == END
    return plan


def _daily(at: datetime, run_id: str) -> dict[str, Any]:
    from di_ops.pipelines.upgrades.sweep import apply_plans, sweep, write_report

    found = sweep(
        dag_id="upgrade_emergency_check",
        run_id=run_id,
        as_of=at,
        started_at=at,
        customers=["A004"],
        announce=None,
        emergency_only=True,
    )
    apply_plans(dag_id="upgrade_emergency_check", run_id=run_id, as_of=at, folder=found["folder"], dry_run=False)
    return write_report(found["folder"])


@pytest.mark.parametrize(
    ("snapshot_at", "target_shown", "sweep_at", "expected"),
    [
        (END - SECOND, False, END + timedelta(hours=1), "awaiting"),  # snapshot inside the window: not judged yet
        (END, False, END + timedelta(hours=1), "missed"),  # snapshot at the closing instant: after the window
        (END - SECOND, False, END + GRACE - SECOND, "awaiting"),
        (END - SECOND, False, END + GRACE, "missed"),  # the grace is over: the old snapshot stands
        (None, False, END + GRACE, "missed"),  # nothing changed in the exports: no new snapshot at all
        (END - SECOND, True, END + timedelta(hours=1), "done"),  # upgraded in the window's last second
        (END, True, END + timedelta(hours=1), "done"),
    ],
)
def test_a_closed_window_is_done_or_missed_on_the_inventory_after_it(
    engine: Any,
    data_dir: Path,
    smtp_sink: Path,
    tmp_path: Path,
    snapshot_at: datetime | None,
    target_shown: bool,
    sweep_at: datetime,
    expected: str,
) -> None:
    from di_ops.pipelines.upgrades.store import get_plan, plan_events

    planned = _scheduled_a004(engine, data_dir, tmp_path)
    uid = f"UID:upgrade-{planned['upgrade_id']}@di-ops"
    sent = len(mails(smtp_sink))
    if snapshot_at is not None:  # a change elsewhere in the fleet makes a new snapshot
        versions = {"A001-expressway": "X14.4", **({"A004-cucm": "15.0 SU2"} if target_shown else {})}
        load(engine, tmp_path / "inv1", snapshot_at, versions=versions)
    report = _daily(sweep_at, "d-after")
    plan = get_plan(engine, planned["upgrade_id"])
    assert plan is not None
    new = mails(smtp_sink)[sent:]
    actions = [e["action"] for e in plan_events(engine, planned["upgrade_id"])]
    csv_note = Path(report["csv"]).read_text(encoding="utf-8")
    if expected == "awaiting":
        assert plan["state"] == "scheduled" and plan["window_end"] == END and new == []
        assert report["awaiting_inventory"] == 1 and "awaiting an inventory snapshot" in csv_note
        return
    if expected == "done":
        assert plan["state"] == "done" and actions[-1] == "complete"
        assert [m["Subject"].split(":")[0] for m in new] == ["Completed upgrade"]
        assert report["missed"] == 0
        return
    # missed: one event with the reason, one alert to the operator, re-planned with a new notice
    assert actions[-2:] == ["miss", "replan"]
    miss = [e for e in plan_events(engine, planned["upgrade_id"]) if e["action"] == "miss"][0]
    assert "shows 11.5 SU9, not 15.0 SU2" in miss["reason"] and miss["to_state"] == "missed"
    assert plan["state"] == "notified" and plan["sequence"] == 1 and plan["window_start"] == REPLANNED
    assert plan["notified_at"] == sweep_at and plan["answer_by"] == sweep_at + timedelta(days=3)
    alert = [m for m in new if to_of(m) == {OPS_ALERTS}]
    assert len(alert) == 1 and alert[0]["Subject"].startswith("MISSED upgrade window: CUCM A004-cucm")
    assert "Re-planned for 2026-06-30 21:00 CEST" in body(alert[0])
    notice = [m for m in new if to_of(m) == {"noc@a004.partner.example", "it@a004.example"}]
    assert len(notice) == 1 and notice[0]["Subject"].startswith("Re-planned upgrade")
    # the partner reads the missed window in local time and UTC, not as ISO instants
    partner_text = body(notice[0])
    assert "not carried out in its window of 2026-06-15 21:00 CEST (2026-06-15 19:00 UTC)" in partner_text
    assert "+00:00" not in partner_text
    text = ics(notice[0])
    assert uid in text and "SEQUENCE:1" in text and "METHOD:REQUEST" in text
    assert f"DTSTART:{REPLANNED:%Y%m%dT%H%M%SZ}" in text and REPLANNED >= sweep_at + timedelta(days=14)
    assert report["missed"] == 1 and "missed window 2026-06-15T19:00:00+00:00" in csv_note
    assert "Missed windows" in Path(report["html"]).read_text(encoding="utf-8")
    _no_announced_window_in_the_past(engine, sweep_at)
    # later the same day and the next day: nothing twice
    _daily(sweep_at + timedelta(hours=3), "d-again")
    _daily(sweep_at + timedelta(days=1), "d-next")
    assert len(mails(smtp_sink)) == sent + 2
    assert [e["action"] for e in plan_events(engine, planned["upgrade_id"])].count("miss") == 1


def test_a_missed_upgrade_without_contacts_stays_missed_until_a_notice_can_go(
    engine: Any, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    planned = _scheduled_a004(engine, data_dir, tmp_path)
    sent = len(mails(smtp_sink))
    load(engine, tmp_path / "inv1", END, without_contacts=["A004"])
    report = _daily(END + timedelta(hours=3), "d1")
    plan = _plans(engine)["A004-cucm"]
    assert plan["state"] == "missed" and plan["window_end"] == END and plan["sequence"] == 0
    new = mails(smtp_sink)[sent:]
    assert len(new) == 1 and to_of(new[0]) == {OPS_ALERTS} and "Not re-planned yet" in body(new[0])
    assert report["missed"] == 1 and "not re-planned yet" in Path(report["csv"]).read_text(encoding="utf-8")
    # the contacts arrive: the next check re-plans it from that day, without a second alert
    at = datetime(2026, 6, 18, 7, 0, tzinfo=UTC)
    # (a fleet back to an earlier content would find the earlier snapshot, not a new one: change something)
    load(engine, tmp_path / "inv2", at - timedelta(hours=1), versions={"A001-expressway": "X14.5"})
    _daily(at, "d2")
    plan = _plans(engine)["A004-cucm"]
    assert plan["upgrade_id"] == planned["upgrade_id"] and plan["state"] == "notified" and plan["sequence"] == 1
    assert plan["window_start"] == datetime(2026, 7, 2, 19, 0, tzinfo=UTC)  # Thu 18 Jun + 10 business days
    new = mails(smtp_sink)[sent + 1 :]
    assert [m["Subject"].split(":")[0] for m in new] == ["Re-planned upgrade"]


# --- the judgement of a window, as a property -----------------------------------------------------

_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_instants = st.integers(min_value=0, max_value=90 * 24 * 3600).map(lambda s: _T0 + timedelta(seconds=s))


@given(end=_instants, as_of=_instants, inventory_at=_instants, grace_h=st.integers(min_value=0, max_value=48))
@settings(max_examples=300, deadline=None)
def test_a_window_is_judged_only_after_it_closed_and_always_once_the_grace_is_over(
    end: datetime, as_of: datetime, inventory_at: datetime, grace_h: int
) -> None:
    grace = timedelta(hours=grace_h)
    state = window_state(end, as_of, inventory_at, grace)
    assert (state == "open") is (as_of < end)
    if as_of >= end + grace or (as_of >= end and inventory_at >= end):
        assert state == "closed"
    if state == "closed":  # and it stays closed for every later sweep
        assert window_state(end, as_of + timedelta(hours=1), inventory_at, grace) == "closed"
