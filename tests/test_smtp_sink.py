"""The demo SMTP sink stores what a real SMTP client sends."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from include.demo.smtp_sink import start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_messages_become_eml_files(tmp_path: Path) -> None:
    port = _free_port()
    controller = start(tmp_path, port=port)
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "ops@di.example", "noc@partner.example", "Planned change"
        msg.set_content("Window 2026-12-01 21:00 CET")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(msg)
    finally:
        controller.stop()
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 1
    parsed = BytesParser().parsebytes(files[0].read_bytes())
    assert parsed["Subject"] == "Planned change"
    assert "2026-12-01 21:00 CET" in parsed.get_payload()
