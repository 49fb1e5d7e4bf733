"""backup_health's report and alert mail come from autoescaped templates: golden files with hostile
store names (the HTML escapes them, the text/plain part shows them as they are), markup independent of
the data, and a subject that stays one header line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from di_ops.pipelines.backup_health.alerts import alert_notice
from di_ops.pipelines.backup_health.report import render_report
from di_ops.pipelines.backup_health.settings import backup_health_settings
from tests.markup_checks import (
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
AS_OF = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
INFO = {"as_of": AS_OF.isoformat(), "run_id": "manual__2026-11-27", "store": f"fs:/b/{QUOTE}"}
TREND = [
    {
        "night": "2026-11-26",
        "series": 2,
        "fresh": 1,
        "missed": 1,
        "overdue": 0,
        "at_risk": 0,
        "dr_ready": 1,
        "dr_share": "50 %",
        "fresh_share": "50 %",
        "fresh_px": 60,
        "gap_px": 60,
    },
]


def _row(**values: Any) -> dict[str, Any]:
    row = {
        "customer_id": "C001",
        "cluster_id": "C001-cucxn",
        "application": "CUCxN",
        "region": "EMEA",
        "freshness": "overdue",
        "at_risk": True,
        "good_backups": 2,
        "latest_good_at": "2026-11-24T23:30:00+01:00",
        "latest_backup_id": "C001-cucxn-20261124T2230",
        "restore_ready": False,
        "missing_components": ["voicemail"],
        "checksums_verified": True,
        "archive_readable": True,
        "dr_ready": False,
        "checksum_failures": 0,
        "backups": 3,
        "reasons": ["no good backup for two nights", "not restore-ready: lacks voicemail"],
    }
    return row | values


HOSTILE = [
    _row(customer_id=SCRIPT, cluster_id=IMG, reasons=[f"{QUOTE}: sha256 mismatch"]),
    _row(
        customer_id="C002",
        cluster_id="C002-cucm",
        application="CUCM",
        region="AMER",
        freshness="fresh",
        at_risk=False,
        dr_ready=True,
        restore_ready=True,
        missing_components=[],
        reasons=[],
    ),
]


def test_the_report_escapes_hostile_store_names_golden_file() -> None:
    html = render_report(HOSTILE, info=INFO, trend_rows=TREND, settings=backup_health_settings(), notes=[IMG])
    assert_golden(GOLDEN / "backup_health_report_hostile.html", html)
    assert_no_markup_from_data(html)
    for escaped in (SCRIPT_ESCAPED, IMG_ESCAPED, QUOTE_ESCAPED):
        assert escaped in html
    assert "Every series fresh, not at risk and DR-ready." in html  # AMER's only series is healthy


def test_the_alert_escapes_hostile_names_and_its_subject_is_one_line_golden_files() -> None:
    row = _row(customer_id=CRLF, cluster_id=IMG, reasons=[SCRIPT])
    notice = alert_notice(
        "not_dr_ready", row, since=AS_OF, as_of=AS_OF.isoformat(), report="/r/report.html", to=["ops@x"]
    )
    assert_golden(GOLDEN / "backup_health_alert_hostile.html", notice.html)
    assert_golden(GOLDEN / "backup_health_alert_hostile.txt", notice.text)
    assert_no_markup_from_data(notice.html)
    assert SCRIPT_ESCAPED in notice.html and SCRIPT in notice.text and IMG in notice.text
    assert "\r" not in notice.subject and "\n" not in notice.subject
    assert notice.dedupe_key == f"backup_health:not_dr_ready:{CRLF}/{IMG}/CUCxN:{AS_OF.isoformat()}"


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_the_markup_does_not_depend_on_the_data(customer: str, reason: str) -> None:
    plain = render_report([_row()], info=INFO, trend_rows=TREND, settings=backup_health_settings())
    data = render_report(
        [_row(customer_id=customer, reasons=[reason])], info=INFO, trend_rows=TREND, settings=backup_health_settings()
    )
    assert structure(data) == structure(plain)
    mail = alert_notice(
        "overdue", _row(cluster_id=customer, reasons=[reason, reason]), since=AS_OF, as_of="x", report="r", to=["o@x"]
    )
    assert structure(mail.html) == structure(
        alert_notice("overdue", _row(), since=AS_OF, as_of="x", report="r", to=["o@x"]).html
    )
