"""The change calendar as an iCalendar file (RFC 5545) that Outlook and Google Calendar import.

One VEVENT per change; its UID is the change's own (``<kind>-<id>@di-ops``), so importing the file
again updates the events instead of adding copies, and SEQUENCE is the change's plan number. A
published calendar (METHOD:PUBLISH), not an invitation: nobody is asked to accept it. Built with
the ``icalendar`` package.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from di_ops.orchestration.console.changes import Change

PRODID = "-//di-ops//change calendar//EN"
UID_DOMAIN = "di-ops"


def calendar_ics(changes: Iterable[Change], *, dtstamp: datetime, name: str = "di-ops change calendar") -> bytes:
    """The changes as one VCALENDAR; changes without a window are left out (nothing to place)."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for change in changes:
        if change.window_start is None or change.window_end is None:
            continue
        event = Event()
        event.add("uid", f"{change.uid}@{UID_DOMAIN}")
        event.add("sequence", change.sequence)
        event.add("dtstamp", dtstamp.astimezone(UTC))
        event.add("dtstart", change.window_start.astimezone(UTC))
        event.add("dtend", change.window_end.astimezone(UTC))
        event.add("summary", f"{change.title} - {change.customer_id}")
        lines = [
            f"Kind: {change.kind}",
            f"Customer: {change.customer_id}",
            f"Cluster: {change.cluster_id or '-'}",
            f"Region: {change.region}",
            f"State: {change.state} ({change.detail_state})",
            "Notice sent: "
            + (change.notice_sent_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if change.notice_sent_at else "no"),
        ]
        if change.reason:
            lines.append(f"Note: {change.reason}")
        event.add("description", "\n".join(lines))
        event.add("location", f"{change.region} maintenance window")
        event.add("status", "CANCELLED" if change.state == "cancelled" else "CONFIRMED")
        event.add("categories", [change.kind, change.state])
        cal.add_component(event)
    return cal.to_ical()
