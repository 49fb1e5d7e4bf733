"""The COP change notice: rendered from its Jinja2 template (autoescaped, golden file), and sent or
refused on a real SMTP server on loopback (aiosmtpd) - a notice not sent fails the task and the run.

Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file), §5.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from di_ops.core.inventory import read_inventory
from di_ops.core.refusals import Refusal
from di_ops.db.schema import notices
from di_ops.integrations.opsdb import ops_engine, pin_snapshot, snapshot_rows, store_inventory
from di_ops.pipelines.cop.notices import cop_notice, send_notices
from include.demo.fleet import write_fleet
from include.demo.smtp_sink import EmlStore
from tests.conftest import free_port
from tests.markup_checks import assert_golden

GOLDEN = Path(__file__).parent / "golden" / "cop_notice_hostile.html"
GOLDEN_MISSED = Path(__file__).parent / "golden" / "cop_missed_hostile.html"
HOSTILE = "<img src=x onerror=alert(1)>"
MORNING = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LOCALE = "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn"


def _item(request_id: str, customer_id: str, region: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "customer_id": customer_id,
        "cop_file": LOCALE,
        "region": region,
        "window_start": "2026-12-11T20:00:00+00:00",
        "window_end": "2026-12-12T05:00:00+00:00",
    }


def test_the_notice_escapes_hostile_inventory_names_golden_file() -> None:
    customer = {"name": HOSTILE, "partner": 'Evil & "Partner" <script>x</script>'}
    notice = cop_notice(_item("r" * 32, "C001", "EMEA"), customer, ("a@example.com",), MORNING)
    if os.environ.get("DI_OPS_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(notice.html, encoding="utf-8")
    assert notice.html == GOLDEN.read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in notice.html
    assert "<img" not in notice.html and "<script" not in notice.html
    assert "&amp; &#34;Partner&#34; &lt;script&gt;" in notice.html


def test_a_name_with_a_line_break_cannot_add_a_mail_header() -> None:
    customer = {"name": "Acme\r\nBcc: attacker@example.com", "partner": "P"}
    notice = cop_notice(_item("r" * 32, "C001", "EMEA"), customer, ("a@example.com",), MORNING)
    assert "\n" not in notice.subject and "\r" not in notice.subject
    assert notice.subject.endswith("for Acme Bcc: attacker@example.com")


# --- sending: a notice not sent fails the task (fault or refusal) and the report ---------------


class RefusingStore(EmlStore):
    """The demo SMTP sink, refusing every recipient in ``refused`` (550 at RCPT TO)."""

    def __init__(self, folder: Path, refused: set[str]) -> None:
        super().__init__(folder)
        self.refused = refused

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802 - aiosmtpd API
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def notice_world(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    engine = ops_engine()
    write_fleet(data_dir / "inventory")
    store_inventory(engine, read_inventory(data_dir / "inventory"), created_at=MORNING)
    snapshot = pin_snapshot(engine, "cop_upload", "setup", MORNING, MORNING)
    customers = {c["customer_id"]: c for c in snapshot_rows(engine, snapshot)["customers"]}
    return engine, customers


def _smtp(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "di-ops@localhost", "retry_limit": 0},
            }
        ),
    )


def _statuses(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {r.dedupe_key: r.status for r in conn.execute(select(notices))}


def _send(run_id: str, items: list[dict[str, Any]]) -> dict[str, str]:
    return send_notices(items, dag_id="cop_upload", run_id=run_id, as_of=MORNING, started_at=MORNING, dry_run=False)


def test_recipients_refused_by_the_server_are_a_refusal_after_the_others_are_sent(  # type: ignore[no-untyped-def]
    notice_world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    engine, customers = notice_world
    refused = {c["email"] for c in customers["C002"]["contacts"] if c.get("email")}
    port = free_port()
    controller = Controller(RefusingStore(tmp_path / "outbox", refused), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _smtp(monkeypatch, port)
        items = [_item("a" * 32, "C002", "APJC"), _item("b" * 32, "C003", "AUS")]
        with pytest.raises(Exception, match="1 change notice.s. refused because of the contact data") as caught:
            _send("run-refused", items)
    finally:
        controller.stop()
    assert isinstance(caught.value, Refusal)  # no retries, no on-call alert
    assert _statuses(engine) == {f"cop:{'a' * 32}": "failed", f"cop:{'b' * 32}": "sent"}
    (mail,) = (tmp_path / "outbox").glob("*.eml")  # the other customer's notice went out
    assert LOCALE in message_from_bytes(mail.read_bytes())["Subject"]


def test_an_unreachable_mail_server_is_a_fault_and_the_report_keeps_the_run_from_being_green(  # type: ignore[no-untyped-def]
    notice_world, monkeypatch: pytest.MonkeyPatch
) -> None:
    from di_ops.pipelines.cop.transfer import write_report

    engine, _ = notice_world
    _smtp(monkeypatch, free_port())  # nothing listens there
    item = _item("c" * 32, "C002", "APJC")
    with pytest.raises(Exception, match="could not be sent") as caught:
        _send("run-down", [item])
    assert not isinstance(caught.value, Refusal)  # a fault: retried, then alerted
    assert _statuses(engine) == {f"cop:{'c' * 32}": "failed"}

    summary = {"due": [], "planned": [], "rejected": [], "missed": [], "notify": [item], "dry_run_plan": []}
    with pytest.raises(Exception, match="1 notice.s. or alert.s. not sent") as report_failure:
        write_report(summary, dag_id="cop_upload", run_id="run-down", dry_run=False)
    assert isinstance(report_failure.value, Refusal)  # the notices task alerted already


# --- a re-plan after a missed window: a new notice (SEQUENCE + 1) and one operator alert -----------


def test_a_replanned_notice_updates_the_same_event_and_names_the_missed_window() -> None:
    from di_ops.pipelines.cop.missed import notice_key

    item = _item("r" * 32, "C002", "APJC") | {
        "sequence": 2,
        "dedupe_key": notice_key("r" * 32, 2),
        "replaces": ["2026-11-27T12:00:00+00:00", "2026-11-27T21:00:00+00:00"],
    }
    first = cop_notice(_item("r" * 32, "C002", "APJC"), {"name": "Acme", "partner": "P"}, ("a@example.com",), MORNING)
    notice = cop_notice(item, {"name": "Acme", "partner": "P"}, ("a@example.com",), MORNING)
    assert (first.dedupe_key, notice.dedupe_key) == (f"cop:{'r' * 32}", f"cop:{'r' * 32}:2")
    assert notice.subject.startswith("Re-planned maintenance") and first.subject.startswith("Planned maintenance")
    assert "This replaces the window 2026-11-27 21:00 JST (2026-11-27 12:00 UTC)" in notice.html
    assert "This replaces" not in first.html
    ics, first_ics = notice.attachments["cop-upload.ics"], first.attachments["cop-upload.ics"]
    assert "SEQUENCE:2" in ics and "SEQUENCE:0" in first_ics
    assert f"UID:cop-{'r' * 32}@di-ops" in ics and f"UID:cop-{'r' * 32}@di-ops" in first_ics


def test_the_missed_window_alert_escapes_request_values_and_has_one_key_per_missed_plan() -> None:
    from di_ops.pipelines.cop.missed import alert_key, missed_alert

    miss = {
        "sequence": 0,
        "region": "EMEA",
        "window_start": "2026-12-11T20:00:00+00:00",
        "window_end": "2026-12-12T05:00:00+00:00",
        "reason": f"the last upload attempt failed: {HOSTILE}",
        "new_window_start": "2026-12-28T20:00:00+00:00",
        "new_window_end": "2026-12-29T05:00:00+00:00",
        "new_notice": True,
    }
    item = {"request_id": "q" * 32, "customer_id": "C001", "cop_file": f"{HOSTILE}.cop.sgn", "miss": miss}
    alert = missed_alert(item | {"dedupe_key": alert_key("q" * 32, 0)}, ("noc@example.com", "noc@example.com"))
    assert alert.to == ("noc@example.com",) and alert.dedupe_key == f"cop:{'q' * 32}:missed:0"
    assert alert_key("q" * 32, 1) != alert.dedupe_key  # a second miss of the re-planned window alerts again
    assert "<img" not in alert.html and "&lt;img src=x onerror=alert(1)&gt;" in alert.html
    assert "2026-12-28 21:00 CET (2026-12-28 20:00 UTC)" in alert.html and "new change notice" in alert.html
    assert alert.subject.startswith("MISSED COP upload window") and "\n" not in alert.subject
    assert_golden(GOLDEN_MISSED, alert.html)
