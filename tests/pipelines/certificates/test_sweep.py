"""Task bodies of the certificate pipelines without Airflow: planning decisions, targets, notices, PEM fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError
from di_ops.pipelines.certificates.notices import plan_notice, recipients
from di_ops.pipelines.certificates.probing import probe_targets
from di_ops.pipelines.certificates.sweep import build_targets, decide
from di_ops.rules.certificates import plan_renewal, sweep_plan
from tests.conftest import free_port

AS_OF = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
NOT_AFTER = AS_OF + timedelta(days=10)


def _stored(plan, status: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    w = plan.window
    return {
        "plan_id": "n/1/r0",
        "status": status or plan.status,
        "window_start": w.start.astimezone(UTC) if w else None,
        "window_end": w.end.astimezone(UTC) if w else None,
    }


def test_a_new_certificate_gets_the_sweep_plan() -> None:
    action, plan = decide([], NOT_AFTER, "EMEA", AS_OF)
    assert action == "new" and plan == sweep_plan(NOT_AFTER, "EMEA", AS_OF)
    assert plan.short_notice  # seen 10 days before expiry: no window is 10 business days away


def test_a_new_amer_certificate_seen_by_the_0500_utc_sweep_skips_the_open_window() -> None:
    from di_ops.rules.maintenance import window_at

    as_of = datetime(2026, 12, 1, 5, tzinfo=UTC)  # the scheduled sweep: inside the Monday-night AMER window
    open_now = window_at("AMER", as_of)
    assert open_now is not None
    not_after = open_now.start.astimezone(UTC) + timedelta(days=7)
    action, plan = decide([], not_after, "AMER", as_of)
    assert action == "new" and plan is not None and plan.window is not None
    assert plan.window.start.astimezone(UTC) > as_of and plan.window != open_now


def test_the_same_serial_keeps_its_plan_while_the_window_is_ahead_or_open() -> None:
    first = plan_renewal(NOT_AFTER, "EMEA", AS_OF)
    assert first.window is not None
    later = first.window.start.astimezone(UTC) + timedelta(hours=1)  # inside the window
    assert decide([_stored(first)], NOT_AFTER, "EMEA", AS_OF + timedelta(hours=5)) == ("keep", None)
    assert decide([_stored(first)], NOT_AFTER, "EMEA", later) == ("keep", None)


def test_a_missed_window_is_replanned_to_the_next_valid_window() -> None:
    first = plan_renewal(NOT_AFTER, "EMEA", AS_OF)
    assert first.window is not None and first.fallbacks
    after = first.window.end.astimezone(UTC)  # the window closed (its end is not inside it)
    action, plan = decide([_stored(first)], NOT_AFTER, "EMEA", after)
    assert action == "replan" and plan is not None
    assert plan.status == "scheduled" and plan.window == first.fallbacks[0]
    assert plan.short_notice  # a re-plan's new notice cannot come 10 business days ahead


def test_a_missed_window_with_under_three_days_left_becomes_an_emergency() -> None:
    first = plan_renewal(NOT_AFTER, "EMEA", AS_OF)
    late = NOT_AFTER - timedelta(days=2, hours=23)
    action, plan = decide([_stored(first)], NOT_AFTER, "EMEA", late)
    assert action == "replan" and plan is not None and plan.status == "emergency"
    assert plan.window is not None and (plan.window.contains(late) or plan.window.start >= late)


def test_expiry_turns_an_open_plan_into_an_incident_and_renewed_or_expired_plans_stay() -> None:
    first = plan_renewal(NOT_AFTER, "EMEA", AS_OF)
    action, plan = decide([_stored(first)], NOT_AFTER, "EMEA", NOT_AFTER)
    assert action == "replan" and plan is not None and plan.status == "expired"
    assert decide([_stored(first, "renewed")], NOT_AFTER, "EMEA", NOT_AFTER + timedelta(days=1)) == ("keep", None)
    assert decide([_stored(plan, "expired")], NOT_AFTER, "EMEA", NOT_AFTER + timedelta(days=1)) == ("keep", None)


def test_targets_use_the_sme_publishing_region_and_the_customer_filter() -> None:
    rows = {
        "customers": [
            {"customer_id": "A", "region": "AMER", "contacts": []},
            {"customer_id": "B", "region": "EMEA", "contacts": []},
        ],
        "clusters": [
            {
                "cluster_id": "A-sme",
                "customer_id": "A",
                "application": "SME",
                "sso_enabled": False,
                "sme_publishing_region": "APJC",
            },
            {
                "cluster_id": "A-cucm",
                "customer_id": "A",
                "application": "CUCM",
                "sso_enabled": True,
                "sme_publishing_region": None,
            },
            {
                "cluster_id": "B-cucm",
                "customer_id": "B",
                "application": "CUCM",
                "sso_enabled": False,
                "sme_publishing_region": None,
            },
        ],
        "nodes": [
            {"node_id": "A-sme-1", "cluster_id": "A-sme", "host": "sme.a", "port": 8443},
            {"node_id": "A-cucm-1", "cluster_id": "A-cucm", "host": "cucm.a", "port": 8443},
            {"node_id": "B-cucm-1", "cluster_id": "B-cucm", "host": "cucm.b", "port": 443},
        ],
    }
    targets = {t["node_id"]: t for t in build_targets(rows)}
    assert targets["A-sme-1"]["region"] == "APJC"
    assert targets["A-cucm-1"]["region"] == "AMER" and targets["A-cucm-1"]["sso_enabled"] is True
    assert [t["node_id"] for t in build_targets(rows, ["B"])] == ["B-cucm-1"]


CONTACTS = [
    {"email": "noc@partner.example", "role": "partner"},
    {"email": "it@customer.example", "role": "customer"},
]


def test_notices_go_to_partner_and_customer_and_alerts_also_to_the_operator() -> None:
    assert recipients(CONTACTS, alert=False) == ("noc@partner.example", "it@customer.example")
    assert recipients(CONTACTS, alert=True)[-1] == "noc@di-ops.example"
    assert recipients([], alert=False) == ("noc@di-ops.example",)  # nobody on file: the operator hears of it


def _plan_row(status: str, revision: int = 0, not_after: datetime = NOT_AFTER) -> dict:
    plan = sweep_plan(not_after if status != "expired" else AS_OF, "EMEA", AS_OF)
    w = plan.window
    return {
        "plan_id": f"E1-cucm-pub/abc/r{revision}",
        "node_id": "E1-cucm-pub",
        "serial": "abc",
        "revision": revision,
        "status": plan.status,
        "host": "cucm-1.e1.example",
        "cluster_id": "E1-cucm",
        "customer_id": "E1",
        "region": "EMEA",
        "not_after": not_after,
        "window_start": w.start if w else None,
        "window_end": w.end if w else None,
        "reason": plan.reason,
        "sso_enabled": True,
        "short_notice": plan.short_notice,
    }


def test_a_scheduled_plan_notice_carries_a_calendar_event_whose_sequence_is_the_revision() -> None:
    notice = plan_notice(_plan_row("scheduled", revision=2, not_after=AS_OF + timedelta(days=30)), CONTACTS, AS_OF)
    assert notice.dedupe_key == "certificate:E1-cucm-pub/abc/r2" and notice.kind == "certificate_scheduled"
    # revision 2 replaces two missed windows: the subject says so and the operator is told too
    assert notice.subject.startswith("RE-PLANNED after a missed window: Planned certificate renewal")
    assert "hort notice" not in notice.html
    ics = notice.attachments["certificate-renewal.ics"]
    assert "SEQUENCE:2" in ics and "UID:certificate-E1-cucm-pub-abc@di-ops" in ics
    assert "disable SSO" in notice.html
    assert "noc@di-ops.example" in notice.to
    first = plan_notice(_plan_row("scheduled", revision=0, not_after=AS_OF + timedelta(days=30)), CONTACTS, AS_OF)
    assert first.subject.startswith("Planned certificate renewal") and "noc@di-ops.example" not in first.to


@pytest.mark.parametrize(
    ("flagged", "not_after", "short"),
    [
        (True, NOT_AFTER, True),  # planned short (first seen too late)
        (False, NOT_AFTER, True),  # not flagged, but sent at AS_OF the period runs past the window
        (False, AS_OF + timedelta(days=30), False),
        (True, AS_OF + timedelta(days=30), True),  # the plan's flag stands
    ],
)
def test_a_short_notice_says_so_in_subject_and_text(flagged: bool, not_after: datetime, short: bool) -> None:
    row = {**_plan_row("scheduled", not_after=not_after), "short_notice": flagged}
    notice = plan_notice(row, CONTACTS, AS_OF)
    assert notice.subject.startswith("SHORT NOTICE: Planned certificate renewal") is short
    assert ("<strong>Short notice</strong>" in notice.html) is short
    assert notice.kind == ("certificate_scheduled_short_notice" if short else "certificate_scheduled")


def test_an_expired_certificate_alerts_without_a_window() -> None:
    notice = plan_notice(_plan_row("expired"), CONTACTS, AS_OF)
    assert notice.subject.startswith("INCIDENT") and notice.attachments == {}
    assert "noc@di-ops.example" in notice.to


def test_an_unreachable_node_falls_back_to_its_pem_file(tmp_path: Path) -> None:
    from include.lab.pki import issue_leaf, make_ca

    ca = make_ca("ca", AS_OF - timedelta(days=1), AS_OF + timedelta(days=400))
    leaf = issue_leaf("n1.example", AS_OF - timedelta(days=1), NOT_AFTER, ca)
    (tmp_path / "n1.pem").write_bytes(leaf.cert_pem + ca.cert_pem)
    port = free_port()
    targets = [
        {"node_id": "n1", "host": "n1.example", "port": 8443},
        {"node_id": "n2", "host": "n2.example", "port": 8443},
    ]
    results = probe_targets(
        targets,
        tls_address=lambda h, p: ("127.0.0.1", port),
        trust_store=[ca.cert],
        pem_folder=tmp_path,
        timeout=1,
        workers=2,
    )
    assert results[0].source == "pem" and results[0].leaf is not None and results[0].leaf.not_after == NOT_AFTER
    assert "unreachable" in (results[0].error or "") and results[0].trust == "trusted"
    assert results[1].status == "unreachable" and results[1].leaf is None


def test_a_bad_settings_file_names_the_file_and_field(config_copy: Path) -> None:
    from di_ops.pipelines.certificates.settings import certificates_config

    path = config_copy / "certificates.yaml"
    path.write_text(path.read_text().replace("lookahead_days: null", "lookahead_days: 0"))
    certificates_config.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"certificates.yaml: sweep.lookahead_days"):
            certificates_config()
    finally:
        certificates_config.cache_clear()


def _observation(node_id: str, not_after: datetime) -> dict:
    return {
        "node_id": node_id,
        "snapshot_id": "s1",
        "customer_id": "E1",
        "cluster_id": "E1-cucm",
        "region": "EMEA",
        "host": f"{node_id}.example",
        "port": 8443,
        "observed_at": AS_OF,
        "source": "tls",
        "status": "ok",
        "error": None,
        "trust": "trusted",
        "subject": "CN=x",
        "sans": ["x"],
        "issuer": "CN=ca",
        "serial": f"{node_id}-serial",
        "not_before": AS_OF - timedelta(days=300),
        "not_after": not_after,
        "chain_earliest_not_after": not_after,
        "chain_length": 2,
    }


def test_plans_persist_idempotently_and_a_missed_window_gets_a_new_revision_and_notice(tmp_path: Path) -> None:
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.pipelines.certificates.notices import send_plan_notices
    from di_ops.pipelines.certificates.store import all_plans, save_observations
    from di_ops.pipelines.certificates.sweep import plan_and_record

    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    save_observations(
        engine, "sweep", "r1", [_observation("n1", NOT_AFTER), _observation("n2", AS_OF + timedelta(days=60))]
    )
    first = plan_and_record(engine, "sweep", "r1", AS_OF, 21, {"E1-cucm": True})
    assert first["new"] == ["n1/n1-serial/r0"] and first["not_due"] == 1
    again = plan_and_record(engine, "sweep", "r1", AS_OF, 21, {"E1-cucm": True})  # a retry of the task
    assert again["new"] == [] and again["unchanged"] == 1
    contacts = {"E1": CONTACTS}
    assert send_plan_notices(engine, "sweep", "r1", contacts, AS_OF, dry_run=True) == {"dry_run": 1}

    window_end = all_plans(engine)[0]["window_end"]
    later = window_end + timedelta(minutes=1)
    save_observations(engine, "sweep", "r2", [_observation("n1", NOT_AFTER)])
    replanned = plan_and_record(engine, "sweep", "r2", later, 21, {"E1-cucm": True})
    assert replanned["new"] == ["n1/n1-serial/r1"]
    assert [m["plan_id"] for m in replanned["missed"]] == ["n1/n1-serial/r0"]  # a row in the sweep's report
    plans = {p["plan_id"]: p for p in all_plans(engine)}
    assert plans["n1/n1-serial/r0"]["status"] == "missed"
    # the re-plan's notice tells the operator too, and says why
    from di_ops.pipelines.certificates.notices import plan_notice
    from di_ops.pipelines.certificates.settings import certificates_config

    notice = plan_notice(plans["n1/n1-serial/r1"], CONTACTS, later)
    assert notice.subject.startswith("RE-PLANNED after a missed window")
    assert set(certificates_config().notices.operator_alerts) <= set(notice.to)
    first_notice = plan_notice(plans["n1/n1-serial/r0"] | {"status": "scheduled"}, CONTACTS, AS_OF)
    assert not set(certificates_config().notices.operator_alerts) & set(first_notice.to)
    expected = sweep_plan(NOT_AFTER, "EMEA", later)
    assert plans["n1/n1-serial/r1"]["status"] == expected.status
    assert expected.window is not None and plans["n1/n1-serial/r1"]["window_start"] == expected.window.start
    assert send_plan_notices(engine, "sweep", "r2", contacts, later, dry_run=True) == {"dry_run": 1}
    assert replanned["short_notice_count"] == 1 and replanned["short_notice"][0]["plan_id"] == "n1/n1-serial/r1"
    assert plans["n1/n1-serial/r1"]["short_notice"] is True


def test_the_derived_horizon_plans_exactly_what_the_next_sweep_could_not_announce_in_full(tmp_path: Path) -> None:
    """Derived lead time (DOMAIN.md §2, §4): notAfter ≤ planning_horizon(region, next sweep) is planned now."""
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.pipelines.certificates.settings import next_sweep
    from di_ops.pipelines.certificates.store import all_plans, save_observations
    from di_ops.pipelines.certificates.sweep import plan_and_record
    from di_ops.rules.certificates import planning_horizon

    as_of = datetime(2026, 12, 1, 5, tzinfo=UTC)
    following = next_sweep(as_of)
    assert following == as_of + timedelta(days=1)  # sweep.schedule "0 5 * * *"
    edge = planning_horizon("EMEA", following)
    assert edge - as_of > timedelta(days=21)  # 10 business days + 7 days + the next sweep: not the old 21
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    rows = [_observation("at-edge", edge), _observation("beyond", edge + timedelta(microseconds=1))]
    save_observations(engine, "sweep", "r1", rows)
    result = plan_and_record(engine, "sweep", "r1", as_of, None, {})
    assert result["new"] == ["at-edge/at-edge-serial/r0"] and result["not_due"] == 1
    assert result["short_notice_count"] == 0 and result["short_notice"] == []
    assert [p["short_notice"] for p in all_plans(engine)] == [False]
    # the deprecated override still works: a fixed horizon of that many days
    fixed = plan_and_record(engine, "sweep", "r1", as_of, 3650, {})
    assert fixed["new"] == ["beyond/beyond-serial/r0"]


def test_the_sweep_schedule_must_be_cron(config_copy: Path) -> None:
    from di_ops.pipelines.certificates.settings import certificates_config

    path = config_copy / "certificates.yaml"
    path.write_text(path.read_text().replace('schedule: "0 5 * * *"', 'schedule: "daily"'))
    certificates_config.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"certificates.yaml: sweep.schedule"):
            certificates_config()
    finally:
        certificates_config.cache_clear()
