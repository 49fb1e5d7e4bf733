"""Notices go out once through Airflow's SMTP connection to a real SMTP server on loopback, as
calendar invitations (docs/pipelines/upgrades.md, "The notices"; iMIP, RFC 6047)."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest

from di_ops.core.notices import CalendarEvent, Notice, calendar_part, duration_text, ics_text, local_and_utc
from di_ops.db.engine import make_engine, upgrade
from di_ops.integrations.mail import build_message, message_id, send_notice

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _notice(key: str = "upgrade:C001-cucm:1") -> Notice:
    event = CalendarEvent(
        uid="upgrade-C001-cucm@di-ops",
        sequence=0,
        start=NOW + timedelta(days=14),
        end=NOW + timedelta(days=14, hours=9),
        summary="CUCM upgrade, C001",
        description="Upgrade to 15.0 SU2; answer by 2026-11-30",
        attendees=("noc@p.example",),
    )
    return Notice(
        dedupe_key=key,
        kind="upgrade",
        entity="C001-cucm",
        to=("noc@p.example", "it@c.example"),
        subject="Planned upgrade of C001-cucm",
        html="<p>Window: 2026-12-11 21:00 CET</p>",
        text="Window: 2026-12-11 21:00 CET\n",
        calendar=calendar_part(event, method="REQUEST", dtstamp=NOW, filename="change.ics"),
    )


def test_a_notice_is_sent_once_with_its_calendar_event(smtp_sink: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    assert send_notice(engine, _notice(), dag_id="d", run_id="r1", now=NOW, dry_run=False) == "sent"
    assert send_notice(engine, _notice(), dag_id="d", run_id="r2", now=NOW, dry_run=False) == "already_sent"
    files = sorted(smtp_sink.glob("*.eml"))
    assert len(files) == 1
    msg = message_from_bytes(files[0].read_bytes())
    assert msg["Subject"] == "Planned upgrade of C001-cucm"
    assert msg["Message-ID"] == message_id("upgrade:C001-cucm:1")
    parts = {p.get_filename(): p.get_payload(decode=True) for p in msg.walk() if p.get_filename()}
    ics = parts["change.ics"].decode()
    assert "UID:upgrade-C001-cucm@di-ops" in ics and "METHOD:REQUEST" in ics
    assert "DTSTART:20261211T080000Z" in ics
    types = [p.get_content_type() for p in msg.walk()]
    assert types == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"] + [
        "application/ics"
    ]


def test_dry_run_records_and_sends_nothing_then_a_real_run_sends(smtp_sink: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    assert send_notice(engine, _notice(), dag_id="d", run_id="r1", now=NOW, dry_run=True) == "dry_run"
    assert list(smtp_sink.glob("*.eml")) == []
    assert send_notice(engine, _notice(), dag_id="d", run_id="r2", now=NOW, dry_run=False) == "sent"
    assert len(list(smtp_sink.glob("*.eml"))) == 1


def test_a_failed_send_is_recorded_and_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {
                    "disable_tls": True,
                    "disable_ssl": True,
                    "from_email": "x@localhost",
                    "retry_limit": 0,
                    "timeout": 2,
                },
            }
        ),
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    with pytest.raises(OSError):
        send_notice(engine, _notice(), dag_id="d", run_id="r1", now=NOW, dry_run=False)
    from sqlalchemy import select

    from di_ops.db.schema import notices

    with engine.connect() as conn:
        assert conn.execute(select(notices.c.status)).scalar_one() == "failed"


def test_ics_folds_long_lines_and_escapes_text() -> None:
    event = CalendarEvent(
        uid="u", sequence=2, start=NOW, end=NOW + timedelta(hours=9), summary="a;b,c", description="x" * 200
    )
    text = ics_text(event, method="CANCEL", dtstamp=NOW)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert "SUMMARY:a\\;b\\,c" in text and "STATUS:CANCELLED" in text and "SEQUENCE:2" in text
    unfolded = text.replace("\r\n ", "")
    assert "DESCRIPTION:" + "x" * 200 in unfolded


def test_local_and_utc() -> None:
    assert local_and_utc(datetime(2026, 12, 1, 20, 0, tzinfo=UTC), "Europe/Amsterdam") == (
        "2026-12-01 21:00 CET (2026-12-01 20:00 UTC)"
    )
    with pytest.raises(ValueError, match="naive"):
        local_and_utc(datetime(2026, 12, 1, 20, 0), "Europe/Amsterdam")


def test_a_notice_without_text_or_calendar_is_the_html_alone_and_other_files_keep_their_type() -> None:
    """The construction other pipelines use (html only; a CSV file attached) stays valid."""
    plain = Notice(dedupe_key="k", kind="incident", entity="e", to=("o@x",), subject="s", html="<p>h</p>")
    message = build_message(plain, "di-ops@localhost")
    assert message.get_content_type() == "text/html" and message["Message-ID"] == message_id("k")
    with_file = plain.model_copy(update={"attachments": {"rows.csv": "a,b\n"}})
    parts = [(p.get_content_type(), p.get_filename()) for p in build_message(with_file, "x@y").walk()]
    assert parts == [("multipart/mixed", None), ("text/html", None), ("text/csv", "rows.csv")]


def test_an_invitation_without_text_is_still_a_multipart_alternative() -> None:
    event = CalendarEvent(uid="u@x", sequence=3, start=NOW, end=NOW + timedelta(hours=9), summary="s")
    notice = Notice(
        dedupe_key="k",
        kind="k",
        entity="e",
        to=("a@x",),
        subject="s",
        html="<p>h</p>",
        calendar=calendar_part(event, method="CANCEL", dtstamp=NOW),
    )
    message = build_message(notice, "di-ops@localhost")
    types = [p.get_content_type() for p in message.walk()]
    assert types == ["multipart/mixed", "multipart/alternative", "text/html", "text/calendar", "application/ics"]
    (calendar,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert calendar.get_param("method") == "CANCEL" and calendar.get_content_charset() == "utf-8"
    assert notice.attachments == {"invite.ics": notice.calendar.ics}  # type: ignore[union-attr]


def test_a_calendar_part_whose_method_differs_from_its_body_is_refused() -> None:
    from pydantic import ValidationError

    from di_ops.core.notices import CalendarPart

    event = CalendarEvent(uid="u@x", sequence=0, start=NOW, end=NOW + timedelta(hours=1), summary="s")
    with pytest.raises(ValidationError, match="METHOD:REQUEST"):
        CalendarPart(method="CANCEL", ics=ics_text(event, method="REQUEST", dtstamp=NOW))


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (timedelta(days=2, hours=23, minutes=58, seconds=58, microseconds=661418), "2 days 23 hours"),
        (timedelta(hours=23, minutes=58, seconds=58, microseconds=661418), "23 hours"),
        (timedelta(hours=9), "9 hours"),
        (timedelta(days=1, hours=1), "1 day 1 hour"),
        (timedelta(days=3), "3 days"),
        (timedelta(minutes=59, seconds=59), "59 minutes"),
        (timedelta(seconds=30), "0 minutes"),
    ],
)
def test_durations_read_in_days_and_hours_never_microseconds(length: timedelta, shown: str) -> None:
    assert duration_text(length) == shown


def test_a_connection_without_a_sender_fails_at_once_and_is_recorded(
    smtp_sink: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import select

    from di_ops.core.refusals import PermanentFailure
    from di_ops.db.schema import notices

    connection = json.loads(os.environ["AIRFLOW_CONN_SMTP_DEFAULT"])
    connection["extra"].pop("from_email")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    with pytest.raises(PermanentFailure, match="no from_email"):
        send_notice(engine, _notice(), dag_id="d", run_id="r1", now=NOW, dry_run=False)
    with engine.connect() as conn:
        assert conn.execute(select(notices.c.status)).scalar_one() == "failed"
    assert list(smtp_sink.glob("*.eml")) == []
