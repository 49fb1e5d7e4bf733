"""Notices that mail clients treat as real invitations, in words partners read right.

Every notice the project builds, with realistic inventory values: its text as the partner reads it
(golden files in ``golden/notices/``: subject and plain text), free of the planner's jargon, of
microseconds and of run-together sentences; every .ics parsed back with the ``icalendar`` package
(METHOD, UID, SEQUENCE, DTSTART/DTEND, DTSTAMP, ORGANIZER, ATTENDEE); and one invitation and one
cancellation sent through a real SMTP server on loopback and parsed with the stdlib ``email`` package.

Source: DOMAIN.md §2 (notices to the partner and the customer contacts on file, local time of the
region and UTC, one reschedule, re-plans with a new notice), §4, §5; iTIP (RFC 5546) and iMIP
(RFC 6047: the ``method`` of the text/calendar part equals the METHOD of its body).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from di_ops.core.notices import Notice
from tests.markup_checks import assert_golden, text_of

GOLDEN = Path(__file__).parent / "golden" / "notices"
AS_OF = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
AT = datetime(2026, 10, 12, 6, 0, tzinfo=UTC)
UPGRADE_START = datetime(2026, 10, 26, 20, 0, tzinfo=UTC)  # Mon 26 Oct 21:00 CET, the day after DST ended
CONTACTS = [{"email": "noc@polder.example", "role": "partner"}, {"email": "it@c001.example", "role": "customer"}]
CUSTOMER = {"customer_id": "C001", "name": "Customer 001", "partner": "Polder Telecom", "contacts": CONTACTS}
EOL = "v14 is nearing EOL: end of life 2027-04-01 is within 180 days"


# --- the notices, one builder per kind ---------------------------------------------------------


def _certificate(days_left: timedelta, *, revision: int = 0, status: str | None = None) -> Notice:
    from di_ops.pipelines.certificates.notices import plan_notice
    from di_ops.rules.certificates import sweep_plan

    not_after = AS_OF + days_left
    plan = sweep_plan(not_after, "EMEA", AS_OF)
    window = plan.window
    row = {
        "plan_id": f"C001-cucm-pub/4f2a/r{revision}",
        "node_id": "C001-cucm-pub",
        "serial": "4f2a",
        "revision": revision,
        "status": status or plan.status,
        "host": "cucm-pub.c001.example",
        "cluster_id": "C001-cucm",
        "customer_id": "C001",
        "region": "EMEA",
        "not_after": not_after,
        "window_start": window.start if window else None,
        "window_end": window.end if window else None,
        "reason": plan.reason,
        "sso_enabled": False,
        "short_notice": plan.short_notice,
    }
    return plan_notice(row, CONTACTS, AS_OF)


def _upgrade_plan(**values: Any) -> dict[str, Any]:
    plan = {
        "upgrade_id": "C001-cucm~15.0SU2~20261026",
        "customer_id": "C001",
        "cluster_id": "C001-cucm",
        "application": "CUCM",
        "window_region": "EMEA",
        "from_version": "14 SU3",
        "target": "15.0 SU2",
        "triggers": [{"kind": "eol", "reason": EOL}],
        "emergency": False,
        "window_start": UPGRADE_START,
        "window_end": UPGRADE_START + timedelta(hours=9),
        "sequence": 0,
    }
    return plan | values


def _upgrade(kind: str, note: str = "", **values: Any) -> Notice:
    from di_ops.pipelines.upgrades.notices import upgrade_notice

    answer_by = AT + timedelta(days=3) if kind in {"notice", "replan"} else None
    notice = upgrade_notice(
        _upgrade_plan(**values),
        CUSTOMER,
        kind,
        at=AT,
        organizer="changes@di-ops.example",
        answer_by=answer_by,
        note=note,
    )  # type: ignore[arg-type]
    assert notice is not None
    return notice


def _cop(**values: Any) -> Notice:
    from di_ops.pipelines.cop.notices import cop_notice

    item = {
        "request_id": "5b1e" * 8,
        "customer_id": "C001",
        "cop_file": "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn",
        "region": "EMEA",
        "window_start": "2026-12-11T20:00:00+00:00",
        "window_end": "2026-12-12T05:00:00+00:00",
    }
    return cop_notice(item | values, CUSTOMER, ("it@c001.example", "noc@polder.example"), AS_OF)


def _upgrade_missed() -> Notice:
    from di_ops.pipelines.upgrades.notices import missed_alert

    start = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
    return missed_alert(
        _upgrade_plan(),
        to=["ops@di-ops.example"],
        reason="the inventory shows 14 SU3",
        next_window=(start, start + timedelta(hours=9)),
    )


def _cop_missed() -> Notice:
    from di_ops.pipelines.cop.missed import missed_alert

    miss = {
        "sequence": 0,
        "region": "EMEA",
        "window_start": "2026-12-11T20:00:00+00:00",
        "window_end": "2026-12-12T05:00:00+00:00",
        "reason": "the upload did not finish in the window",
        "new_window_start": "2026-12-28T20:00:00+00:00",
        "new_window_end": "2026-12-29T05:00:00+00:00",
        "new_notice": True,
    }
    item = {"request_id": "5b1e" * 8, "customer_id": "C001", "cop_file": "x.cop.sgn", "miss": miss, "dedupe_key": "k"}
    return missed_alert(item, ("ops@di-ops.example",))


def _deadline() -> Notice:
    from di_ops.orchestration.deadlines import deadline_notice

    context = {
        "dag_run": {"dag_run_id": "scheduled__2026-11-26T18:00:00+00:00", "state": "running"},
        "deadline": {"id": "d-1", "deadline_time": datetime(2026, 11, 26, 19, 0, tzinfo=UTC)},
    }
    return deadline_notice(
        dag_id="sla_audit", rule="finished within 1:00:00 of being queued", to=["o@x"], context=context
    )


REPLAN_NOTE = "The upgrade was not carried out in its window."
NOTICES: dict[str, Callable[[], Notice]] = {
    "certificate_scheduled": lambda: _certificate(timedelta(days=30)),
    "certificate_short_notice": lambda: _certificate(timedelta(days=10)),
    "certificate_replanned": lambda: _certificate(timedelta(days=30), revision=1),
    "certificate_emergency": lambda: _certificate(timedelta(days=2, hours=23, minutes=58, seconds=58.661418)),
    "certificate_expired": lambda: _certificate(timedelta(hours=-5)),
    "upgrade_notice": lambda: _upgrade("notice"),
    "upgrade_emergency": lambda: _upgrade("notice", emergency=True),
    "upgrade_reschedule": lambda: _upgrade("reschedule", sequence=1, reschedules=1),
    "upgrade_replan": lambda: _upgrade("replan", REPLAN_NOTE, sequence=2),
    "upgrade_cancel": lambda: _upgrade("cancel", "no trigger needs the upgrade any more", sequence=3),
    "upgrade_done": lambda: _upgrade("done", "the inventory shows 15.0 SU2"),
    "cop_notice": lambda: _cop(),
    "cop_replan": lambda: _cop(sequence=1, replaces=["2026-11-27T20:00:00+00:00", "2026-11-28T05:00:00+00:00"]),
    "upgrade_missed": _upgrade_missed,
    "cop_missed": _cop_missed,
    "deadline_missed": _deadline,
}
TO_PARTNERS = [name for name in NOTICES if "missed" not in name]
# name -> (UID, SEQUENCE, METHOD, DTSTART, DTEND, ORGANIZER) of the invitation
INVITATIONS: dict[str, tuple[str, int, str, datetime, datetime, str]] = {
    "certificate_scheduled": (
        "certificate-C001-cucm-pub-4f2a@di-ops",
        0,
        "REQUEST",
        datetime(2026, 12, 23, 20, 0, tzinfo=UTC),
        datetime(2026, 12, 24, 5, 0, tzinfo=UTC),
        "di-ops@localhost",
    ),
    "certificate_short_notice": (
        "certificate-C001-cucm-pub-4f2a@di-ops",
        0,
        "REQUEST",
        datetime(2026, 12, 3, 20, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 5, 0, tzinfo=UTC),
        "di-ops@localhost",
    ),
    "certificate_replanned": (
        "certificate-C001-cucm-pub-4f2a@di-ops",
        1,
        "REQUEST",
        datetime(2026, 12, 23, 20, 0, tzinfo=UTC),
        datetime(2026, 12, 24, 5, 0, tzinfo=UTC),
        "di-ops@localhost",
    ),
    "certificate_emergency": (
        "certificate-C001-cucm-pub-4f2a@di-ops",
        0,
        "REQUEST",
        datetime(2026, 11, 30, 20, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
        "di-ops@localhost",
    ),
    **{
        name: (
            "upgrade-C001-cucm~15.0SU2~20261026@di-ops",
            sequence,
            method,
            UPGRADE_START,
            UPGRADE_START + timedelta(hours=9),
            "changes@di-ops.example",
        )
        for name, sequence, method in [
            ("upgrade_notice", 0, "REQUEST"),
            ("upgrade_emergency", 0, "REQUEST"),
            ("upgrade_reschedule", 1, "REQUEST"),
            ("upgrade_replan", 2, "REQUEST"),
            ("upgrade_cancel", 3, "CANCEL"),
        ]
    },
    **{
        name: (
            f"cop-{'5b1e' * 8}@di-ops",
            sequence,
            "REQUEST",
            datetime(2026, 12, 11, 20, 0, tzinfo=UTC),
            datetime(2026, 12, 12, 5, 0, tzinfo=UTC),
            "di-ops@localhost",
        )
        for name, sequence in [("cop_notice", 0), ("cop_replan", 1)]
    },
}
STAMPS = {"certificate": AS_OF, "upgrade": AT, "cop": AS_OF}


@pytest.fixture(autouse=True)
def _no_link_in_the_deadline_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)


# --- the words ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(NOTICES))
def test_each_notice_reads_as_its_golden_file(name: str) -> None:
    """Subject and plain text as the recipient reads them; the HTML says the same words."""
    notice = NOTICES[name]()
    assert_golden(GOLDEN / f"{name}.txt", f"Subject: {notice.subject}\nTo: {', '.join(notice.to)}\n\n{notice.text}")
    words = " ".join(text_of(notice.html).split()).lower()
    for line in notice.text.splitlines():
        if line.strip() and not line.startswith(("- ", "The run: ")):
            assert " ".join(line.replace(" -> ", " → ").split()).lower() in words, line


JARGON = [
    (re.compile(r"\d:\d\d:\d\d"), "a clock time with seconds, a timedelta or an ISO instant"),
    (re.compile(r"\.\d{6}\b"), "microseconds"),
    (re.compile(r"fallback|opening in \[|earliest weekday window|as of \d"), "the planner's reason"),
    (re.compile(r"DOMAIN\.md|§"), "a reference to the operator's rule book"),
    (re.compile(r"\b([A-Za-z]+) \1\b"), "a doubled word (Customer Customer 001)"),
    (re.compile(r"\w \.(\s|$)"), "a space before a full stop (to 15.0 SU2 .)"),
    (re.compile(r"[a-z0-9] (Please|The|This|Why)\b"), "two sentences run together (within 180 days Please answer)"),
]


@pytest.mark.parametrize("name", TO_PARTNERS)
def test_a_partner_reads_no_jargon_no_microseconds_and_no_run_together_sentences(name: str) -> None:
    notice = NOTICES[name]()
    for shown in [notice.subject, *notice.text.splitlines(), *text_of(notice.html).splitlines()]:
        for pattern, what in JARGON:
            assert not pattern.search(shown), f"{what}: {pattern.search(shown)!r} in {shown!r}"


def test_the_emergency_certificate_says_the_time_left_in_days_and_hours() -> None:
    notice = NOTICES["certificate_emergency"]()
    assert "The certificate expires in 2 days 23 hours: too late for a planned renewal" in notice.text
    assert "the next maintenance window, weekend included" in notice.text


def test_times_are_shown_in_the_region_and_in_utc() -> None:
    notice = NOTICES["upgrade_notice"]()
    assert "2026-10-26 21:00 CET (2026-10-26 20:00 UTC) to 2026-10-27 06:00 CET (2026-10-27 05:00 UTC), 9 hours" in (
        notice.text
    )
    assert "Please answer a conflict by 2026-10-15 08:00 CEST (2026-10-15 06:00 UTC)." in notice.text
    assert f"- {EOL}.\n" in notice.text and "For Customer 001 (C001), partner Polder Telecom." in notice.text


# --- the invitations, parsed back with icalendar -----------------------------------------------


@pytest.mark.parametrize("name", list(INVITATIONS))
def test_every_invitation_parses_with_icalendar_and_says_what_the_plan_says(name: str) -> None:
    from icalendar import Calendar

    uid, sequence, method, start, end, organizer = INVITATIONS[name]
    notice = NOTICES[name]()
    assert notice.calendar is not None and notice.calendar.method == method
    calendar = Calendar.from_ical(notice.calendar.ics)
    assert str(calendar["METHOD"]) == method and str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == sequence
    assert event.decoded("DTSTART") == start and event.decoded("DTEND") == end
    assert event.decoded("DTSTAMP") == STAMPS[name.split("_")[0]]  # the notice's instant, not the clock
    assert str(event["ORGANIZER"]) == f"mailto:{organizer}"
    attendees = event["ATTENDEE"] if isinstance(event["ATTENDEE"], list) else [event["ATTENDEE"]]
    assert sorted(str(a).removeprefix("mailto:") for a in attendees) == sorted(notice.to)
    assert {a.params["RSVP"] for a in attendees} == {"TRUE" if method == "REQUEST" else "FALSE"}
    assert str(event["STATUS"]) == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
    assert all(len(line.encode()) <= 75 for line in notice.calendar.ics.split("\r\n"))  # RFC 5545 §3.1
    assert NOTICES[name]().calendar == notice.calendar  # a retry writes the same bytes


@pytest.mark.parametrize("name", [n for n in NOTICES if n not in INVITATIONS])
def test_completions_expired_certificates_and_alerts_carry_no_invitation(name: str) -> None:
    notice = NOTICES[name]()
    assert notice.calendar is None and not any(f.endswith(".ics") for f in notice.attachments)


# --- through a real SMTP server ----------------------------------------------------------------


def _parts(message: Message) -> dict[str, Message]:
    return {p.get_content_type(): p for p in message.walk()}


@pytest.mark.parametrize(("name", "method"), [("upgrade_notice", "REQUEST"), ("upgrade_cancel", "CANCEL")])
def test_an_invitation_sent_through_smtp_is_an_imip_message(
    name: str, method: str, smtp_sink: Path, tmp_path: Path
) -> None:
    from icalendar import Calendar
    from sqlalchemy import select

    from di_ops.db.engine import make_engine, upgrade
    from di_ops.db.schema import notices
    from di_ops.integrations.mail import message_id, send_notice

    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    notice = NOTICES[name]()
    assert send_notice(engine, notice, dag_id="d", run_id="r", now=AT, dry_run=False) == "sent"
    with engine.connect() as conn:
        assert conn.execute(select(notices.c.status)).scalar_one() == "sent"
    (path,) = smtp_sink.glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=default)
    assert message["Message-ID"] == message_id(notice.dedupe_key) and message["Subject"] == notice.subject
    assert message.get_content_type() == "multipart/mixed"
    (alternative,) = [p for p in message.walk() if p.get_content_type() == "multipart/alternative"]
    inner = [p.get_content_type() for p in alternative.get_payload()]  # type: ignore[union-attr]
    assert inner == ["text/plain", "text/html", "text/calendar"]
    parts = _parts(message)
    calendar = parts["text/calendar"]
    assert calendar.get_param("method") == method and calendar.get_content_charset() == "utf-8"
    body = calendar.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert str(Calendar.from_ical(body)["METHOD"]) == method  # RFC 6047 §2.4: the part and the body agree
    attached = parts["application/ics"]
    assert attached.get_filename() == "upgrade.ics" and attached.get_payload(decode=True) == body
    for kind, sent in (("text/plain", notice.text), ("text/html", notice.html)):
        assert parts[kind].get_content_charset() == "utf-8"
        shown = parts[kind].get_payload(decode=True)
        assert isinstance(shown, bytes) and shown.decode("utf-8").replace("\r\n", "\n") == sent
