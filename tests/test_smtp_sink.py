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


def test_a_port_in_use_stops_the_sink_naming_it(tmp_path: Path) -> None:
    """Run as make demo runs it: a port another server holds is refused at once, with the port named."""
    import subprocess
    import sys

    from include.demo.runs import REPO

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "include.demo.smtp_sink", "--dir", str(tmp_path), "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"SMTP sink: cannot listen on 127.0.0.1:{port} (--port)" in done.stderr
