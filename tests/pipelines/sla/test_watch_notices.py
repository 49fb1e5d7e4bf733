"""The e-mails of incident_watch rendered from their Jinja2 templates (autoescaped): golden files with
hostile export values, the markup independent of the data, subjects kept to one header line.

Source: DOMAIN.md §7a (proactive notice, escalation), §2 (data gap); the house rule that every e-mail
comes from an autoescaped template (tests/core/test_notice_templates.py does the same for the others).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from di_ops.pipelines.sla.watch_notices import (
    digest_notice,
    digest_rows,
    escalation_alert,
    gap_alert,
    partner_emails,
    proactive_notice,
)
from tests.conftest import REPO
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

GOLDEN = REPO / "tests" / "core" / "golden"
OPENED = datetime(2026, 12, 5, 23, 55, tzinfo=UTC)
TEXT = st.text(min_size=1, max_size=40)


def _case(**values: Any) -> dict[str, Any]:
    details = {
        "impact": "Widespread",
        "urgency": "Critical",
        "contract_number": "SVC-004004",
        "caller_account": "partner",
        "contact_name": "Polder Telecom NOC",
        "contact_phone": "+31 20 555 0004",
        "contact_email": "noc@polder-telecom.example",
    }
    details |= values.pop("details", {})
    row = {"case_id": "TAC-1", "customer_id": "C004", "region": "EMEA", "severity": "S1", "opened_at": OPENED}
    row |= {"details": details, "candidate_state": "no_first_response", "candidate_since": OPENED}
    return row | values


def _escaped(html: str, *values: str) -> None:
    assert_no_markup_from_data(html)
    escaped = {IMG: IMG_ESCAPED, SCRIPT: SCRIPT_ESCAPED, QUOTE: QUOTE_ESCAPED, APOS: APOS_ESCAPED}
    for value in values:
        assert escaped[value] in html, value


def test_the_proactive_notice_escapes_hostile_export_values_golden_file() -> None:
    case = _case(case_id=QUOTE, customer_id=APOS, details={"impact": IMG, "urgency": SCRIPT})
    notice = proactive_notice(case, SCRIPT, ("noc@x",), next_update=OPENED + timedelta(minutes=15), raised_from="S2")
    assert_golden(GOLDEN / "incident_notice_hostile.html", notice.html)
    _escaped(notice.html, IMG, SCRIPT, QUOTE, APOS)
    assert "raised from S2" in notice.html and "2026-12-06 01:10 CET (2026-12-06 00:10 UTC)" in notice.html
    assert notice.dedupe_key == f"incident:{QUOTE}:S1"


def test_the_escalation_and_data_gap_alerts_escape_hostile_values_golden_files() -> None:
    case = _case(case_id=SCRIPT, details={"contact_name": IMG, "contract_number": QUOTE, "contact_phone": None})
    alert = escalation_alert(case, "no_first_response", OPENED, OPENED + timedelta(minutes=15), ("oncall@x",))
    assert_golden(GOLDEN / "incident_alert_hostile.html", alert.html)
    _escaped(alert.html, IMG, SCRIPT, QUOTE)
    assert "(missing)" in alert.html  # an escalation field the partner did not give is shown as missing
    gap = gap_alert(_case(customer_id=APOS, case_id=IMG), ("oncall@x",), SCRIPT)
    assert_golden(GOLDEN / "incident_gap_hostile.html", gap.html)
    _escaped(gap.html, IMG, SCRIPT, APOS)
    assert "DOMAIN.md §2" in gap.html


def test_the_digest_escapes_hostile_values_golden_file() -> None:
    rows = digest_rows([_case(case_id=IMG, severity="S3", details={"contact_email": SCRIPT})])
    deviations = [{"case_id": QUOTE, "customer_id": "C001", "channel": APOS, "channel_deviation": "S3 by phone"}]
    notice = digest_notice(date(2026, 12, 7), rows, deviations, ("oncall@x",))
    assert_golden(GOLDEN / "incident_digest_hostile.html", notice.html)
    _escaped(notice.html, IMG, SCRIPT, QUOTE, APOS)
    assert notice.dedupe_key == "incident-digest:2026-12-07"


@pytest.mark.parametrize("field", ["case_id", "customer_id"])
def test_a_value_with_a_line_break_cannot_add_a_mail_header(field: str) -> None:
    case = _case(**{field: CRLF})
    for notice in (
        proactive_notice(case, CRLF, ("n@x",), next_update=OPENED, raised_from=None),
        escalation_alert(case, "no_status_update", OPENED, OPENED, ("o@x",)),
        gap_alert(case, ("o@x",), None),
    ):
        assert "\r" not in notice.subject and "\n" not in notice.subject
        assert "Acme Bcc: attacker@example.com" in notice.subject


@settings(max_examples=40, deadline=None)
@given(case_id=TEXT, name=TEXT, impact=TEXT)
def test_the_notice_markup_does_not_depend_on_the_data(case_id: str, name: str, impact: str) -> None:
    def html(case_id: str, name: str, impact: str) -> str:
        case = _case(case_id=case_id, details={"impact": impact})
        return proactive_notice(case, name, ("n@x",), next_update=OPENED, raised_from=None).html

    hostile = html(case_id, name, impact)
    assert structure(hostile) == structure(html("c", "n", "i"))
    assert all(value in text_of(hostile) for value in (case_id, name, impact))


def test_only_partner_contacts_with_an_address_are_told() -> None:
    contacts = [
        {"role": "partner", "email": "noc@p.example"},
        {"role": "customer", "email": "it@c.example"},
        {"role": "partner", "email": " "},
        {"role": "partner", "email": "noc@p.example"},
    ]
    assert partner_emails(contacts) == ("noc@p.example",)
