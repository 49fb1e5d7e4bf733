"""Upgrade sweeps without Airflow's scheduler: the pure state machine and fleet assessment, then the task bodies
against a real ops DB (SQLite) and a real SMTP server on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from di_ops.core.settings import release_catalog
from di_ops.rules.upgrade_plans import TRANSITIONS, Plan, reschedule, transition
from di_ops.rules.upgrade_triggers import Advisory, PartnerRequest, assess_fleet, is_newer, version_key
from tests.pipelines.upgrades.fleet import ADVISORIES, AS_OF, REQUESTS, fleet_rows

WINDOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)  # EMEA: Mon 15 Jun 21:00 CEST


def _plan(state: str = "notified", reschedules: int = 0, emergency: bool = False) -> Plan:
    return Plan(
        upgrade_id="A004-cucm~15.0SU2~20260615",
        cluster_id="A004-cucm",
        window_region="EMEA",
        state=state,  # type: ignore[arg-type]
        window_start=WINDOW,
        window_end=WINDOW + timedelta(hours=9),
        reschedules=reschedules,
        emergency=emergency,
    )


# --- state machine ----------------------------------------------------------------------------

ALL_STATES = ("proposed", "notified", "scheduled", "done", "cancelled")


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("action", ["notify", "schedule", "complete", "cancel"])
def test_transitions_follow_the_table_and_refusals_name_the_state(state: str, action: str) -> None:
    outcome = transition(_plan(state), action)  # type: ignore[arg-type]
    allowed, target = TRANSITIONS[action]
    assert outcome.accepted is (state in allowed)
    if outcome.accepted:
        assert outcome.plan is not None and outcome.plan.state == target
    else:
        assert state in outcome.reason and outcome.to_state == state


def test_done_and_cancelled_are_final() -> None:
    for state in ("done", "cancelled"):
        for action in ("notify", "schedule", "complete", "cancel"):
            assert not transition(_plan(state), action).accepted  # type: ignore[arg-type]
        assert not reschedule(_plan(state), "2026-06-19", AS_OF).accepted


REQUESTED_AT = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("plan", "requested", "at", "accepted", "why"),
    [
        (_plan("notified"), "2026-06-19", REQUESTED_AT, True, "rescheduled from"),
        (_plan("scheduled"), "2026-06-20", REQUESTED_AT, True, "rescheduled from"),  # a Saturday: allowed by policy
        (_plan("scheduled", reschedules=1), "2026-06-19", REQUESTED_AT, False, "already rescheduled 1"),
        (_plan("notified", emergency=True), "2026-06-19", REQUESTED_AT, False, "emergency"),
        (_plan(), "2026-06-19", WINDOW - timedelta(days=7), True, "rescheduled"),  # exactly 7 days: in time
        (_plan(), "2026-06-19", WINDOW - timedelta(days=7) + timedelta(seconds=1), False, "at least 7 days"),
        (_plan(), "2026-06-19T12:00:00+02:00", REQUESTED_AT, False, "not an available operator window"),
        (_plan(), "2026-06-19T21:00:00+02:00", REQUESTED_AT, True, "2026-06-19T21:00:00+02:00"),
        (_plan(), "2026-06-19T05:59:59+02:00", REQUESTED_AT, True, "2026-06-18T21:00"),  # inside Thursday's window
        (_plan(), "2026-06-15", REQUESTED_AT, False, "already planned"),
        (_plan(), "2026-06-01", REQUESTED_AT, False, "already begun"),
        (_plan(), "19/06/2026", REQUESTED_AT, False, "cannot read"),
        (_plan("proposed"), "2026-06-19", REQUESTED_AT, False, "it is proposed"),
    ],
)
def test_reschedule_rules(plan: Plan, requested: str, at: datetime, accepted: bool, why: str) -> None:
    outcome = reschedule(plan, requested, at)
    assert outcome.accepted is accepted, outcome.reason
    assert why in outcome.reason
    if accepted:
        assert outcome.plan is not None
        assert outcome.plan.reschedules == plan.reschedules + 1 and outcome.plan.sequence == plan.sequence + 1
        assert outcome.plan.state == "scheduled"
        assert outcome.plan.window_start.astimezone(UTC).hour in (19, 20)  # 21:00 CEST/CET
        assert reschedule(outcome.plan, "2026-06-22", at).accepted is False  # never a second time


@given(st.sampled_from(["12.5 SU7a", "14.0 SU3", "14.0 SU4", "15.0 SU1", "15.0 SU2", "v15-su2", "15.0"]))
@settings(max_examples=30, deadline=None)
def test_version_order_is_strict_and_total(version: str) -> None:
    assert not is_newer(version, version)
    assert version_key(version) is not None
    assert is_newer("16.0 SU1", version) and not is_newer(version, "16.0 SU1")


def test_version_order_examples() -> None:
    assert is_newer("12.5 SU7a", "12.5 SU7") and is_newer("12.5 SU8", "12.5 SU7a") and is_newer("15.0 SU1", "15.0")
    assert version_key("X14.3") is None and is_newer("X14.4", "X14.3") and not is_newer("x14.3", "X14.3")


def _fleet(**kwargs):  # type: ignore[no-untyped-def]
    rows = fleet_rows()
    return {
        v.cluster_id: v
        for v in assess_fleet(
            rows["customers"],
            rows["clusters"],
            as_of=kwargs.pop("as_of", AS_OF),
            catalog=kwargs.pop("catalog", release_catalog()),
            move_together=(("CUCM", "IMP", "CUCxN"),),
            **kwargs,
        )
    }


def test_fleet_triggers_each_with_its_reason() -> None:
    verdicts = _fleet(
        advisories=[Advisory.model_validate(a) for a in ADVISORIES],
        requests=[PartnerRequest.model_validate(r) for r in REQUESTS],
    )
    assert {c for c, v in verdicts.items() if v.upgrade} == {
        "A003-cucm",
        "A003-imp",
        "A003-cucxn",
        "A003-sme",
        "A004-cucm",
        "A005-cucm",
        "A005-imp",
        "A006-imp",
    }
    kinds = {c: {t.kind for t in v.triggers} for c, v in verdicts.items()}
    assert kinds["A003-cucm"] == {"below_n1"}
    assert kinds["A003-cucxn"] == {"move_together"}
    assert kinds["A005-cucm"] == {"security"} and verdicts["A005-cucm"].emergency
    assert kinds["A006-imp"] == {"partner_request"}
    assert kinds["A002-imp"] == {"security_cop"} and not verdicts["A002-imp"].upgrade
    assert verdicts["A003-sme"].window_region == "APJC" and verdicts["A003-sme"].region == "AUS"
    assert verdicts["A002-cucm"].eligibility.train == "n-1" and not verdicts["A002-cucm"].upgrade


def test_nearing_eol_starts_an_upgrade_of_n_minus_1() -> None:
    # v14.0's EOL is 2027-05-01: within 180 days from 2026-11-02
    before = _fleet(as_of=datetime(2026, 11, 1, tzinfo=UTC))
    after = _fleet(as_of=datetime(2026, 11, 2, 0, 0, 1, tzinfo=UTC))
    assert not before["A002-cucm"].upgrade
    assert after["A002-cucm"].upgrade and {t.kind for t in after["A002-cucm"].triggers} == {"nearing_eol"}
    assert "nearing EOL" in after["A002-cucm"].triggers[0].reason


def test_a_fixed_version_and_a_later_publication_do_not_trigger() -> None:
    fixed = Advisory(
        advisory_id="ADV-9",
        application="CUCM",
        affected_versions=("15.0",),
        fixed_in="15.0 SU2",
        remedy="upgrade",
        published=AS_OF,
        severity="high",
    )
    verdicts = _fleet(advisories=[fixed])
    assert verdicts["A005-cucm"].upgrade and not verdicts["A005-cucm"].emergency  # 15.0 SU1 < fixed 15.0 SU2
    assert not verdicts["A001-cucm"].upgrade  # 15.0 SU2 is the fix
    late = _fleet(advisories=[fixed.model_copy(update={"published": AS_OF + timedelta(seconds=1)})])
    assert not late["A005-cucm"].upgrade


# --- task bodies on a real ops DB and SMTP server -------------------------------------------


@pytest.fixture
def ops_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The di_ops_db connection on a fresh SQLite file (as tests/dags/conftest.py's ops_sqlite)."""
    import json

    path = tmp_path / "ops.db"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return f"sqlite:///{path}"


@pytest.fixture
def swept(ops_url: str, data_dir: Path, smtp_sink: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.pipelines.upgrades.sweep import apply_plans, sweep
    from tests.pipelines.upgrades.fleet import load_inventory, write_feeds, write_inventory

    engine = make_engine(ops_url)
    upgrade(engine)
    load_inventory(engine, write_inventory(tmp_path / "inv"), AS_OF)
    write_feeds(data_dir)
    result = sweep(
        dag_id="upgrade_eligibility", run_id="w1", as_of=AS_OF, started_at=AS_OF, customers=None, announce=None
    )
    apply_plans(dag_id="upgrade_eligibility", run_id="w1", as_of=AS_OF, folder=result["folder"], dry_run=False)
    return engine


def _reschedule(ref: str, requested: str, at: datetime, run_id: str) -> dict:
    from di_ops.pipelines.upgrades.sweep import reschedule_upgrade

    return reschedule_upgrade(
        dag_id="upgrade_reschedule",
        run_id=run_id,
        ref=ref,
        requested=requested,
        reason="customer go-live that week",
        requested_at=at,
        run_started_at=at,
        dry_run=False,
        actor="tester",
    )


def test_reschedule_refusals_are_recorded_with_their_reasons(swept, smtp_sink: Path) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.pipelines.upgrades.store import open_plans, plan_events

    plans = open_plans(swept)
    cases = [
        ("A005-cucm", "2026-06-10", AS_OF, "emergency changes cannot be rescheduled"),
        ("A003-cucm", "2026-06-19", datetime(2026, 6, 9, 12, 0, tzinfo=UTC), "at least 7 days"),  # 6 d 23 h before
        ("A004-cucm", "2026-06-19T12:00:00+02:00", AS_OF, "not an available operator window"),
        ("A001-cucm", "2026-06-19", AS_OF, "no open upgrade"),
    ]
    for n, (ref, requested, at, why) in enumerate(cases):
        with pytest.raises(AirflowFailException, match=why):
            _reschedule(ref, requested, at, f"r{n}")
    for ref in ("A005-cucm", "A003-cucm", "A004-cucm"):
        events = plan_events(swept, plans[ref]["upgrade_id"])
        refused = [e for e in events if e["action"] == "reschedule"]
        assert len(refused) == 1 and not refused[0]["accepted"] and refused[0]["actor"] == "tester"
        assert refused[0]["detail"]["partner_reason"] == "customer go-live that week"
    assert open_plans(swept)["A004-cucm"]["window_start"] == plans["A004-cucm"]["window_start"]
    # a retry of a refused run refuses again without a second record
    with pytest.raises(AirflowFailException, match="emergency"):
        _reschedule("A005-cucm", "2026-06-10", AS_OF, "r0")
    assert len([e for e in plan_events(swept, plans["A005-cucm"]["upgrade_id"]) if e["action"] == "reschedule"]) == 1


def test_accepted_reschedule_sends_the_same_uid_with_a_higher_sequence(swept, smtp_sink: Path) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.pipelines.upgrades.store import get_plan
    from di_ops.pipelines.upgrades.sweep import send_reschedule_notice

    before = len(list(smtp_sink.glob("*.eml")))
    at = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    decision = _reschedule("A004-cucm", "2026-06-19", at, "ok1")
    assert decision["accepted"]
    assert _reschedule("A004-cucm", "2026-06-19", at, "ok1") == decision  # a retry: the same decision
    for _ in range(2):  # sent once, however often the task runs
        send_reschedule_notice(
            dag_id="upgrade_reschedule",
            run_id="ok1",
            upgrade_id=decision["upgrade_id"],
            as_of=at,
            started_at=at,
            dry_run=False,
        )
    plan = get_plan(swept, decision["upgrade_id"])
    assert plan is not None and plan["state"] == "scheduled" and plan["reschedules"] == 1 and plan["sequence"] == 1
    assert plan["window_start"] == datetime(2026, 6, 19, 19, 0, tzinfo=UTC)
    files = sorted(smtp_sink.glob("*.eml"))
    assert len(files) == before + 1
    msg = message_from_bytes(files[-1].read_bytes())
    assert msg["Subject"].startswith("Rescheduled upgrade: CUCM A004-cucm to 15.0 SU2")
    ics = next(p.get_payload(decode=True).decode() for p in msg.walk() if p.get_filename() == "upgrade.ics")
    assert f"UID:upgrade-{decision['upgrade_id']}@di-ops" in ics.replace("\r\n ", "")
    assert "SEQUENCE:1" in ics and "DTSTART:20260619T190000Z" in ics and "METHOD:REQUEST" in ics
    with pytest.raises(AirflowFailException, match="already rescheduled 1"):
        _reschedule("A004-cucm", "2026-06-22", at, "ok2")


def test_the_demo_sweeps_the_demo_fleet(ops_url: str, data_dir: Path, smtp_sink: Path) -> None:
    from di_ops.core.inventory import read_inventory
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.integrations.opsdb import store_inventory
    from di_ops.pipelines.upgrades.sweep import apply_plans, sweep, write_report
    from include.demo.fleet import write_fleet
    from include.demo.pipelines.upgrades import prepare

    engine = make_engine(ops_url)
    upgrade(engine)
    write_fleet(data_dir / "inventory")
    prepare(data_dir)

    store_inventory(engine, read_inventory(data_dir / "inventory"), AS_OF)  # the demo fleet has one bad row
    as_of = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    result = sweep(
        dag_id="upgrade_eligibility", run_id="demo", as_of=as_of, started_at=as_of, customers=None, announce=None
    )
    apply_plans(dag_id="upgrade_eligibility", run_id="demo", as_of=as_of, folder=result["folder"], dry_run=False)
    report = write_report(result["folder"])
    assert set(report["by_region"]) == {"AMER", "APJC", "AUS", "EMEA"}
    assert {"n", "n-1", "n-2", "unsupported", "not assessed"} <= set(report["by_train"])
    assert report["upgrades"] > 0 and len(list(smtp_sink.glob("*.eml"))) == report["upgrades"]
    html = Path(report["html"]).read_text()
    assert "DEMO-SA-2026-01" in html and "TAC-700123" in html and "move_together" in html


def test_memoised_verdicts_equal_per_cluster_ones() -> None:
    from include.demo.fleet import fleet_rows as demo_rows

    rows = demo_rows(customers=40, seed=3)
    clusters = [c for c in rows["clusters"] if c["application"] != "FaxServer"]
    for c in clusters:
        c["sme_publishing_region"] = c["sme_publishing_region"] or None
    kwargs = {
        "advisories": [Advisory.model_validate(a) for a in ADVISORIES],
        "as_of": datetime(2026, 11, 27, tzinfo=UTC),
        "catalog": release_catalog(),
        "move_together": (("CUCM", "IMP", "CUCxN"),),
    }
    fast = assess_fleet(rows["customers"], clusters, **kwargs)  # type: ignore[arg-type]
    slow = assess_fleet(rows["customers"], clusters, memoise=False, **kwargs)  # type: ignore[arg-type]
    assert fast == slow and len(fast) == len(clusters) and any(v.upgrade for v in fast)


def test_without_weekend_reschedules_a_saturday_is_no_window(config_copy: Path) -> None:
    path = config_copy / "policy.yaml"
    path.write_text(path.read_text().replace("reschedule_allow_weekend: true", "reschedule_allow_weekend: false"))
    from di_ops.core.settings import clear_caches

    clear_caches()
    saturday = reschedule(_plan(), "2026-06-20", REQUESTED_AT)
    assert not saturday.accepted and "not an available operator window" in saturday.reason
    assert reschedule(_plan(), "2026-06-19", REQUESTED_AT).accepted


ACTIONS = st.sampled_from(["notify", "schedule", "complete", "cancel", "reschedule"])


@given(st.lists(st.tuples(ACTIONS, st.integers(min_value=0, max_value=30)), max_size=12))
@settings(max_examples=200, deadline=None)
def test_no_sequence_of_requests_leaves_the_graph(steps: list[tuple[str, int]]) -> None:
    plan = _plan("proposed")
    for action, days in steps:
        at = AS_OF + timedelta(days=days)
        if action == "reschedule":
            outcome = reschedule(plan, (WINDOW + timedelta(days=days % 5 + 1)).date().isoformat(), at)
        else:
            outcome = transition(plan, action)  # type: ignore[arg-type]
        if outcome.accepted:
            assert outcome.plan is not None
            allowed, target = TRANSITIONS[action]
            assert plan.state in allowed and outcome.plan.state == target
            assert outcome.plan.sequence >= plan.sequence
            plan = outcome.plan
        else:
            assert outcome.plan == plan and outcome.reason
        assert plan.reschedules <= 1
        assert plan.state != "proposed" or plan.reschedules == 0


_RUN = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
_NOTICE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("requested_at", "why"),
    [
        (_RUN, None),
        (_RUN - timedelta(hours=24), None),  # exactly the allowed back-dating
        (_RUN - timedelta(hours=24, seconds=1), "more than 1 day"),
        (_RUN + timedelta(minutes=5), None),  # inside the clock skew
        (_RUN + timedelta(minutes=5, seconds=1), "after the run"),
        (_NOTICE, "more than 1 day"),
    ],
)
def test_requested_at_cannot_be_back_dated(requested_at: datetime, why: str | None) -> None:
    from di_ops.rules.upgrade_plans import requested_at_refusal

    reason = requested_at_refusal(
        requested_at, _RUN, _NOTICE, max_backdate=timedelta(hours=24), clock_skew=timedelta(minutes=5)
    )
    assert (reason is None) is (why is None)
    if why:
        assert why in reason and "as_of (Requested at)" in reason


def test_requested_at_cannot_precede_the_notice() -> None:
    from di_ops.rules.upgrade_plans import requested_at_refusal

    run = _NOTICE + timedelta(hours=2)
    limits = {"max_backdate": timedelta(hours=24), "clock_skew": timedelta(minutes=5)}
    assert "before the notice" in (requested_at_refusal(_NOTICE - timedelta(seconds=1), run, _NOTICE, **limits) or "")
    assert requested_at_refusal(_NOTICE, run, _NOTICE, **limits) is None


def test_the_requested_window_must_open_after_the_run() -> None:
    plan = _plan("notified")
    requested_at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert reschedule(plan, "2026-06-19", requested_at).accepted
    late_run = datetime(2026, 6, 19, 20, 0, tzinfo=UTC)  # the 19 June window (19:00 UTC) has begun by then
    outcome = reschedule(plan, "2026-06-19", requested_at, not_before=late_run)
    assert not outcome.accepted and "already begun" in outcome.reason
