"""The e-mails of a planned upgrade: who gets them, local time and UTC, one UID with rising SEQUENCE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from di_ops.pipelines.upgrades.notices import calendar_uid, dedupe_key, recipients, upgrade_notice

AT = datetime(2026, 10, 12, 6, 0, tzinfo=UTC)
CUSTOMER = {
    "customer_id": "A004",
    "name": "Customer A004",
    "partner": "Polder <Telecom>",
    "contacts": [
        {"email": "NOC@partner.example", "role": "partner"},
        {"email": "noc@partner.example", "role": "partner"},
        {"email": "it@a004.example", "role": "customer"},
    ],
}


def _plan(**changes: object) -> dict[str, object]:
    start = datetime(2026, 10, 26, 20, 0, tzinfo=UTC)  # Mon 26 Oct 21:00 CET, the day after DST ended
    plan: dict[str, object] = {
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
    plan.update(changes)
    return plan


def _ics(notice) -> str:  # type: ignore[no-untyped-def]
    return notice.attachments["upgrade.ics"].replace("\r\n ", "")


def test_recipients_are_every_contact_once() -> None:
    assert recipients(CUSTOMER["contacts"]) == ("it@a004.example", "noc@partner.example")  # type: ignore[arg-type]
    assert upgrade_notice(_plan(), {**CUSTOMER, "contacts": []}, "notice", at=AT, organizer="o@x") is None


def test_the_first_notice_shows_local_time_utc_and_the_answer_deadline() -> None:
    notice = upgrade_notice(
        _plan(), CUSTOMER, "notice", at=AT, organizer="ops@di.example", answer_by=AT + timedelta(days=3)
    )
    assert notice is not None
    assert notice.dedupe_key == dedupe_key("A004-cucm~15.0SU2~20261026", "notice", 0)
    assert "2026-10-26 21:00 CET (2026-10-26 20:00 UTC)" in notice.html
    assert "2026-10-15 08:00 CEST (2026-10-15 06:00 UTC)" in notice.html  # the deadline, before DST ended
    assert "Polder &lt;Telecom&gt;" in notice.html and "rescheduled once" in notice.html
    ics = _ics(notice)
    assert f"UID:{calendar_uid('A004-cucm~15.0SU2~20261026')}" in ics
    assert "METHOD:REQUEST" in ics and "SEQUENCE:0" in ics and "DTSTART:20261026T200000Z" in ics
    assert "ORGANIZER:mailto:ops@di.example" in ics


@pytest.mark.parametrize(
    ("kind", "sequence", "method", "subject"),
    [("reschedule", 1, "REQUEST", "Rescheduled upgrade"), ("cancel", 2, "CANCEL", "Cancelled upgrade")],
)
def test_updates_keep_the_uid_and_raise_the_sequence(kind: str, sequence: int, method: str, subject: str) -> None:
    notice = upgrade_notice(_plan(sequence=sequence), CUSTOMER, kind, at=AT, organizer="o@x")  # type: ignore[arg-type]
    assert notice is not None and notice.subject.startswith(subject)
    ics = _ics(notice)
    assert f"METHOD:{method}" in ics and f"SEQUENCE:{sequence}" in ics
    assert f"UID:{calendar_uid('A004-cucm~15.0SU2~20261026')}" in ics
    assert notice.dedupe_key.endswith(f":{kind}:{sequence}")


def test_completion_and_emergency() -> None:
    done = upgrade_notice(_plan(), CUSTOMER, "done", at=AT, organizer="o@x", note="the inventory shows 15.0 SU2")
    assert done is not None and done.attachments == {} and done.subject.startswith("Completed upgrade")
    assert "the inventory shows 15.0 SU2" in done.html
    urgent = upgrade_notice(_plan(emergency=True), CUSTOMER, "notice", at=AT, organizer="o@x")
    assert urgent is not None and urgent.subject.startswith("Emergency upgrade")
    assert "cannot be rescheduled" in urgent.html


def test_a_replan_updates_the_same_event_and_says_the_reschedule_is_used() -> None:
    notice = upgrade_notice(
        _plan(sequence=1, reschedules=1),
        CUSTOMER,
        "replan",
        at=AT,
        organizer="o@x",
        answer_by=AT + timedelta(days=3),
        note="The upgrade was not carried out in its window.",
    )
    assert notice is not None and notice.subject.startswith("Re-planned upgrade")
    assert notice.dedupe_key == dedupe_key("A004-cucm~15.0SU2~20261026", "replan", 1)
    ics = _ics(notice)
    assert "METHOD:REQUEST" in ics and "SEQUENCE:1" in ics
    assert f"UID:{calendar_uid('A004-cucm~15.0SU2~20261026')}" in ics
    assert "has been used" in notice.html and "not carried out" in notice.html
    fresh = upgrade_notice(_plan(sequence=1), CUSTOMER, "replan", at=AT, organizer="o@x", answer_by=AT)
    assert fresh is not None and "may be rescheduled once" in fresh.html
    urgent = upgrade_notice(_plan(sequence=1, emergency=True), CUSTOMER, "replan", at=AT, organizer="o@x")
    assert urgent is not None and urgent.subject.startswith("Re-planned emergency upgrade")


def test_the_missed_alert_goes_to_the_operator_once_per_miss_and_escapes_what_it_shows() -> None:
    from di_ops.pipelines.upgrades.notices import missed_alert

    plan = _plan(customer_id="<b>A004</b>", sequence=2)
    alert = missed_alert(
        plan, to=["ops@x", "ops@x"], reason="<script>alert(1)</script>", next_window=None, pending="no contacts"
    )
    assert alert.to == ("ops@x",) and alert.kind == "upgrade_missed" and alert.attachments == {}
    assert alert.dedupe_key == "upgrade:A004-cucm~15.0SU2~20261026:missed:2"
    assert "<script>" not in alert.html and "&lt;script&gt;" in alert.html and "&lt;b&gt;A004" in alert.html
    assert "Not re-planned yet: no contacts" in alert.html
    assert alert.subject.startswith("MISSED upgrade window: CUCM A004-cucm")
    start = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
    replanned = missed_alert(plan, to=["ops@x"], reason="r", next_window=(start, start + timedelta(hours=9)))
    assert "Re-planned for 2026-11-09 21:00 CET (2026-11-09 20:00 UTC)" in replanned.html
