"""The capacity e-mail and report come from their autoescaped templates: golden files with hostile
inventory values (the HTML escapes them, the plain-text part shows them as they are), markup that does
not depend on the data, a subject kept to one header line. Source: DOMAIN.md §8."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from di_ops.pipelines.capacity.alerts import breach_alert
from di_ops.pipelines.capacity.report import write_report
from di_ops.rules.capacity import judge_customer
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
)

GOLDEN = Path(__file__).parent / "golden"
AS_OF = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


def _customer(customer_id: str, name: str, partner: str, region: str, devices: int = 104) -> dict[str, Any]:
    judged = judge_customer(
        customer_id,
        {"knowledge_workers": 200, "workspace_devices": 100},
        {"knowledge_workers": 150, "workspace_devices": devices},
        [],
        AS_OF,
    )
    return {
        "customer_id": customer_id,
        "name": name,
        "partner": partner,
        "region": region,
        "verdict": judged.verdict,
        "figures": [f.model_dump() for f in judged.figures],
    }


def _audit(customers: list[dict[str, Any]], problem: str) -> dict[str, Any]:
    return {
        "dag_id": "capacity_audit",
        "run_id": "scheduled__2026-11-30T05:00:00+00:00",
        "as_of": AS_OF.isoformat(),
        "snapshot_id": "abc123",
        "warning_percent": "90",
        "expansions_file": "/data/capacity/expansions.csv",
        "expansions_used": [],
        "expansion_problems": [{"line": 2, "reason": f"unknown customer {problem!r}", "raw": problem}],
        "counts": {"breach": 1, "warning": 0, "within": 0, "not_measured": 0, "not_declared": 0},
        "customers": customers,
    }


def test_the_breach_alert_escapes_hostile_inventory_values_golden_files() -> None:
    customer = _customer("C-1", IMG, QUOTE, "EMEA")
    notice = breach_alert(customer, as_of=AS_OF.isoformat(), run_id="r1", report=f"/reports/{APOS}", to=("oncall@x",))
    assert_golden(GOLDEN / "capacity_breach_hostile.html", notice.html)
    assert_golden(GOLDEN / "capacity_breach_hostile.txt", notice.text)
    assert_no_markup_from_data(notice.html)
    for raw, escaped in ((IMG, IMG_ESCAPED), (QUOTE, QUOTE_ESCAPED), (APOS, APOS_ESCAPED)):
        assert raw not in notice.html and escaped in notice.html
        assert raw in notice.text
    assert "104 devices configured of 100 allowed" in notice.text
    assert notice.dedupe_key == "capacity-breach:C-1:r1" and notice.to == ("oncall@x",)


def test_a_customer_name_with_a_line_break_cannot_add_a_mail_header() -> None:
    notice = breach_alert(_customer("C-1", CRLF, "P", "EMEA"), as_of="t", run_id="r", report="x", to=("o@x",))
    assert "\r" not in notice.subject and "\n" not in notice.subject
    assert notice.subject == "[di-ops] Capacity breach: C-1 (Acme Bcc: attacker@example.com) above its declared numbers"


def test_the_report_escapes_hostile_values_and_its_markup_does_not_depend_on_the_data(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile"
    plain = tmp_path / "plain"
    for folder in (hostile, plain):
        folder.mkdir()
    alerts = {"sent": [SCRIPT], "already_sent": [], "state_changes": [], "stale": False}
    write_report(hostile, _audit([_customer(SCRIPT, IMG, QUOTE, APOS)], SCRIPT), alerts)
    write_report(plain, _audit([_customer("C1", "One", "P", "EMEA")], "C9"), {**alerts, "sent": ["C1"]})
    html = (hostile / "report.html").read_text()
    assert_golden(GOLDEN / "capacity_report_hostile.html", html)
    assert_no_markup_from_data(html)
    assert SCRIPT_ESCAPED in html and IMG_ESCAPED in html and QUOTE_ESCAPED in html
    assert structure(html) == structure((plain / "report.html").read_text())
    csv_text = (hostile / "capacity.csv").read_text()
    assert "<script>" in csv_text  # CSV is data, not markup; a formula start would get a quote
