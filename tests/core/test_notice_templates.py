"""The e-mails of the certificate, upgrade and COP pipelines and the missed-deadline mail, rendered
from their Jinja2 templates (di_ops.core.templating, autoescaped HTML and its plain-text twin): golden
files with hostile inventory values (the HTML escapes them, the text/plain part shows them as they
are), the markup independent of the data (hypothesis), and subjects kept to one header line.

Source: DOMAIN.md §2 (notices to the partner and customer contacts on file; a missed window is
flagged), §4 (certificate alerts); the house rule that every e-mail comes from an autoescaped template.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.markup_checks import (
    APOS,
    APOS_ESCAPED,
    CRLF,
    IMG,
    IMG_ESCAPED,
    QUOTE,
    QUOTE_ESCAPED,
    SCRIPT,
    SCRIPT_ESCAPED,
    assert_golden,
    assert_no_markup_from_data,
    structure,
    text_of,
)

GOLDEN = Path(__file__).parent / "golden"
AS_OF = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
AT = datetime(2026, 10, 12, 6, 0, tzinfo=UTC)
CONTACTS = [{"email": "noc@partner.example", "role": "partner"}]
TEXT = st.text(min_size=1, max_size=40)


def _certificate_plan(**values: Any) -> dict[str, Any]:
    from di_ops.rules.certificates import sweep_plan

    not_after = AS_OF + timedelta(days=10)
    plan = sweep_plan(not_after, "EMEA", AS_OF)
    assert plan.window is not None
    row = {
        "plan_id": "E1-cucm-pub/abc/r0",
        "node_id": "E1-cucm-pub",
        "serial": "abc",
        "revision": 0,
        "status": plan.status,
        "host": "cucm-1.e1.example",
        "cluster_id": "E1-cucm",
        "customer_id": "E1",
        "region": "EMEA",
        "not_after": not_after,
        "window_start": plan.window.start,
        "window_end": plan.window.end,
        "reason": plan.reason,
        "sso_enabled": True,
        "short_notice": True,
    }
    return row | values


def _upgrade_plan(**values: Any) -> dict[str, Any]:
    start = datetime(2026, 10, 26, 20, 0, tzinfo=UTC)
    plan = {
        "upgrade_id": "A004-cucm~15.0SU2~20261026",
        "customer_id": "A004",
        "cluster_id": "A004-cucm",
        "application": "CUCM",
        "window_region": "EMEA",
        "from_version": "11.5 SU9",
        "target": "15.0 SU2",
        "triggers": [{"kind": "below_n1", "reason": "11.5 SU9 is unsupported"}],
        "emergency": False,
        "window_start": start,
        "window_end": start + timedelta(hours=9),
        "sequence": 0,
    }
    return plan | values


def _customer(name: str = "Customer A004", partner: str = "Polder Telecom") -> dict[str, Any]:
    return {"customer_id": "A004", "name": name, "partner": partner, "contacts": [{"email": "it@a004.example"}]}


def _assert_hostile_escaped(html: str, *values: str) -> None:
    assert_no_markup_from_data(html)
    escaped = {IMG: IMG_ESCAPED, SCRIPT: SCRIPT_ESCAPED, QUOTE: QUOTE_ESCAPED, APOS: APOS_ESCAPED}
    for value in values:
        assert escaped[value] in html, value


# --- certificates ------------------------------------------------------------------------------


def test_the_certificate_notice_escapes_hostile_inventory_values_golden_file() -> None:
    from di_ops.pipelines.certificates.notices import plan_notice

    plan = _certificate_plan(
        host=IMG, cluster_id=SCRIPT, customer_id=QUOTE, serial=APOS, region="EMEA", revision=1, reason="planner"
    )
    notice = plan_notice(plan, CONTACTS, AS_OF)
    assert_golden(GOLDEN / "certificate_notice_hostile.html", notice.html)
    assert_golden(GOLDEN / "certificate_notice_hostile.txt", notice.text)
    _assert_hostile_escaped(notice.html, IMG, SCRIPT, QUOTE, APOS)
    assert "<strong>Short notice</strong>" in notice.html and "disable SSO" in notice.html  # every branch shown
    assert "replaces an earlier one" in notice.html and "replaces an earlier one" in notice.text
    assert all(value in notice.text for value in (IMG, SCRIPT, QUOTE, APOS))  # text/plain: shown as they are
    assert "planner" not in notice.html + notice.text  # the planner's reason is the operator's, not the partner's


@pytest.mark.parametrize(
    ("status", "subject"),
    [("scheduled", "SHORT NOTICE: Planned certificate renewal"), ("emergency", "EMERGENCY"), ("expired", "INCIDENT")],
)
def test_a_host_name_with_a_line_break_cannot_add_a_mail_header(status: str, subject: str) -> None:
    from di_ops.pipelines.certificates.notices import plan_notice

    notice = plan_notice(_certificate_plan(status=status, host=CRLF), CONTACTS, AS_OF)
    assert notice.subject.startswith(subject)
    assert "\r" not in notice.subject and "\n" not in notice.subject
    assert "Acme Bcc: attacker@example.com" in notice.subject


@settings(max_examples=60, deadline=None)
@given(host=TEXT, customer=TEXT, sso=st.booleans(), short=st.booleans())
def test_the_certificate_notice_markup_does_not_depend_on_the_data(
    host: str, customer: str, sso: bool, short: bool
) -> None:
    from di_ops.pipelines.certificates.notices import plan_notice

    def html(**values: Any) -> str:
        far = {} if short else {"not_after": AS_OF + timedelta(days=40), "short_notice": False}
        far |= {"window_start": AS_OF + timedelta(days=20), "window_end": AS_OF + timedelta(days=20, hours=9)}
        return str(plan_notice(_certificate_plan(sso_enabled=sso, **far, **values), CONTACTS, AS_OF).html)

    hostile = html(host=host, customer_id=customer)
    assert structure(hostile) == structure(html(host="h", customer_id="c"))
    assert host in text_of(hostile) and customer in text_of(hostile)


def test_the_certificate_alerts_escape_hostile_ids_and_error_texts_golden_files() -> None:
    from di_ops.pipelines.certificates.renewal import alert_notice, renewal_failed_html
    from di_ops.pipelines.certificates.sso import sso_flagged_html

    failed = renewal_failed_html(QUOTE, "2026-12-03T20:00:00+00:00", RuntimeError(f"admin API said {IMG}"))
    assert_golden(GOLDEN / "certificate_renewal_failed_hostile.html", failed)
    _assert_hostile_escaped(failed, IMG, QUOTE)
    flagged = sso_flagged_html(SCRIPT, "reimport_metadata", ValueError(f"IdP metadata {APOS}"))
    assert_golden(GOLDEN / "certificate_sso_flagged_hostile.html", flagged)
    _assert_hostile_escaped(flagged, SCRIPT, APOS)
    assert "<b>reimport_metadata</b>" in flagged and "SSO is not reported as done" in flagged

    alert = alert_notice(
        "certificate_alert", "n", f"ALERT: certificate renewal of {CRLF} failed", failed, ("o@x",), "k"
    )
    assert alert.subject == "ALERT: certificate renewal of Acme Bcc: attacker@example.com failed"


# --- upgrades ----------------------------------------------------------------------------------


def test_the_upgrade_notice_escapes_hostile_inventory_values_golden_file() -> None:
    from di_ops.pipelines.upgrades.notices import upgrade_notice

    plan = _upgrade_plan(
        cluster_id=SCRIPT, target=QUOTE, from_version=APOS, triggers=[{"kind": "psirt", "reason": IMG}]
    )
    notice = upgrade_notice(
        plan, _customer(IMG, SCRIPT), "notice", at=AT, organizer="o@x", answer_by=AT + timedelta(days=3), note=APOS
    )
    assert notice is not None
    assert_golden(GOLDEN / "upgrade_notice_hostile.html", notice.html)
    assert_golden(GOLDEN / "upgrade_notice_hostile.txt", notice.text)
    _assert_hostile_escaped(notice.html, IMG, SCRIPT, QUOTE, APOS)
    assert f"<li>{IMG_ESCAPED}.</li>" in notice.html and "rescheduled once" in notice.html
    assert f"- {IMG}.\n" in notice.text and all(value in notice.text for value in (IMG, SCRIPT, QUOTE, APOS))


@pytest.mark.parametrize("kind", ["notice", "reschedule", "replan", "cancel", "done"])
def test_an_upgrade_subject_stays_one_header_line(kind: str) -> None:
    from di_ops.pipelines.upgrades.notices import missed_alert, upgrade_notice

    plan = _upgrade_plan(cluster_id=CRLF, sequence=1)
    notice = upgrade_notice(plan, _customer(), kind, at=AT, organizer="o@x")  # type: ignore[arg-type]
    assert notice is not None and "\r" not in notice.subject and "\n" not in notice.subject
    assert "CUCM Acme Bcc: attacker@example.com to 15.0 SU2" in notice.subject
    alert = missed_alert(plan, to=["ops@x"], reason="r", next_window=None, pending="p")
    assert "\r" not in alert.subject and "\n" not in alert.subject


@settings(max_examples=60, deadline=None)
@given(
    name=TEXT,
    partner=TEXT,
    reason=TEXT,
    note=TEXT,
    kind=st.sampled_from(["notice", "reschedule", "replan", "cancel", "done"]),
    emergency=st.booleans(),
)
def test_the_upgrade_notice_markup_does_not_depend_on_the_data(
    name: str, partner: str, reason: str, note: str, kind: str, emergency: bool
) -> None:
    from di_ops.pipelines.upgrades.notices import upgrade_notice

    def html(name: str, partner: str, reason: str, note: str) -> str:
        plan = _upgrade_plan(emergency=emergency, triggers=[{"kind": "k", "reason": reason}])
        notice = upgrade_notice(plan, _customer(name, partner), kind, at=AT, organizer="o@x", answer_by=AT, note=note)  # type: ignore[arg-type]
        assert notice is not None
        return notice.html

    hostile = html(name, partner, reason, note)
    assert structure(hostile) == structure(html("n", "p", "r", "x"))
    shown = text_of(hostile)
    assert all(value in shown for value in (name, partner, note.strip()))


def test_the_no_contacts_alert_escapes_hostile_values_golden_file() -> None:
    from di_ops.pipelines.upgrades.notices import no_contacts_alert

    plan = _upgrade_plan(customer_id=QUOTE, upgrade_id=APOS, cluster_id=IMG, state="proposed")
    alert = no_contacts_alert(plan, "notice", to=["ops@x"])
    assert_golden(GOLDEN / "upgrade_no_contacts_hostile.html", alert.html)
    assert_golden(GOLDEN / "upgrade_no_contacts_hostile.txt", alert.text)
    _assert_hostile_escaped(alert.html, IMG, QUOTE, APOS)
    assert "\n" not in alert.subject and alert.dedupe_key.startswith("upgrade:")


def test_the_missed_window_alert_escapes_hostile_values_golden_file() -> None:
    from di_ops.pipelines.upgrades.notices import missed_alert

    plan = _upgrade_plan(customer_id=QUOTE, upgrade_id=APOS, emergency=True)
    start = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
    alert = missed_alert(plan, to=["ops@x"], reason=f"shows {IMG}", next_window=(start, start + timedelta(hours=9)))
    assert_golden(GOLDEN / "upgrade_missed_hostile.html", alert.html)
    assert_golden(GOLDEN / "upgrade_missed_hostile.txt", alert.text)
    _assert_hostile_escaped(alert.html, IMG, QUOTE, APOS)
    pending = missed_alert(plan, to=["ops@x"], reason="r", next_window=None, pending=SCRIPT)
    _assert_hostile_escaped(pending.html, SCRIPT)
    assert f"Not re-planned yet: {SCRIPT_ESCAPED}." in pending.html and f"Not re-planned yet: {SCRIPT}." in pending.text


# --- missed deadline ---------------------------------------------------------------------------


def _deadline_context(run_id: str, state: str = "running") -> dict[str, Any]:
    return {
        "dag_run": {"dag_run_id": run_id, "state": state},
        "deadline": {"id": "d-1", "deadline_time": datetime(2026, 11, 26, 19, 0, tzinfo=UTC)},
    }


def test_the_deadline_mail_escapes_hostile_ids_also_in_the_link_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from di_ops.orchestration.deadlines import deadline_notice

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://localhost:8080/")
    notice = deadline_notice(dag_id=SCRIPT, rule=IMG, to=["o@x"], context=_deadline_context(QUOTE, state=APOS))
    assert_golden(GOLDEN / "deadline_missed_hostile.html", notice.html)
    assert_golden(GOLDEN / "deadline_missed_hostile.txt", notice.text)
    _assert_hostile_escaped(notice.html, IMG, SCRIPT, QUOTE, APOS)
    assert f'href="http://localhost:8080/dags/{SCRIPT_ESCAPED}/runs/{QUOTE_ESCAPED}"' in notice.html


def test_a_run_id_with_a_line_break_cannot_add_a_mail_header(monkeypatch: pytest.MonkeyPatch) -> None:
    from di_ops.orchestration.deadlines import deadline_notice

    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    notice = deadline_notice(dag_id="sla_audit", rule="r", to=["o@x"], context=_deadline_context(CRLF))
    assert notice.subject == (
        "[di-ops] deadline missed: sla_audit Acme Bcc: attacker@example.com not finished by 2026-11-26T19:00:00+00:00"
    )
    assert "<a " not in notice.html  # no base URL configured: no link


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dag_id=TEXT, run_id=TEXT, rule=TEXT)
def test_the_deadline_mail_markup_does_not_depend_on_the_data(
    dag_id: str, run_id: str, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from di_ops.orchestration.deadlines import deadline_notice

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://localhost:8080")
    hostile = deadline_notice(dag_id=dag_id, rule=rule, to=["o@x"], context=_deadline_context(run_id)).html
    plain = deadline_notice(dag_id="d", rule="r", to=["o@x"], context=_deadline_context("r")).html
    assert structure(hostile) == structure(plain)
    assert all(value in text_of(hostile) for value in (dag_id, run_id, rule))


# --- COP uploads (the HTML goldens are tests/pipelines/cop/golden/) ------------------------------


def _cop_item(**values: Any) -> dict[str, Any]:
    item = {
        "request_id": "r" * 32,
        "customer_id": "C001",
        "cop_file": "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn",
        "region": "EMEA",
        "window_start": "2026-12-11T20:00:00+00:00",
        "window_end": "2026-12-12T05:00:00+00:00",
    }
    return item | values


def test_the_cop_notice_text_shows_hostile_names_as_they_are_golden_file() -> None:
    from di_ops.pipelines.cop.notices import cop_notice

    item = _cop_item(cop_file=f"{IMG}.cop.sgn", replaces=["2026-11-27T20:00:00+00:00", "2026-11-28T05:00:00+00:00"])
    notice = cop_notice(item, {"name": SCRIPT, "partner": QUOTE}, ("a@example.com",), AT)
    assert_golden(GOLDEN / "cop_notice_hostile.txt", notice.text)
    _assert_hostile_escaped(notice.html, IMG, SCRIPT, QUOTE)
    assert all(value in notice.text for value in (IMG, SCRIPT, QUOTE))
    assert "This replaces the window 2026-11-27 21:00 CET (2026-11-27 20:00 UTC)" in notice.text


def test_the_cop_missed_alert_text_golden_file() -> None:
    from di_ops.pipelines.cop.missed import missed_alert

    miss = {
        "sequence": 0,
        "region": "EMEA",
        "window_start": "2026-12-11T20:00:00+00:00",
        "window_end": "2026-12-12T05:00:00+00:00",
        "reason": f"the last upload attempt failed: {IMG}",
        "new_window_start": "2026-12-28T20:00:00+00:00",
        "new_window_end": "2026-12-29T05:00:00+00:00",
        "new_notice": False,
    }
    alert = missed_alert(_cop_item(miss=miss, dedupe_key="k", customer_id=APOS), ("noc@example.com",))
    assert_golden(GOLDEN / "cop_missed_hostile.txt", alert.text)
    _assert_hostile_escaped(alert.html, IMG, APOS)
    assert "(emergency: the next maintenance window, weekend included)." in alert.text
