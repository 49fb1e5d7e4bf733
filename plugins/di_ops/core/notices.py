"""Change notices as data: the calendar event (.ics, RFC 5545) and the e-mail they travel in.

Pure: every instant is passed in. Sending lives in ``di_ops.integrations.mail``.
Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from di_ops.rules.common import require_aware

Method = Literal["REQUEST", "CANCEL", "PUBLISH"]


class CalendarEvent(BaseModel):
    """One change window as a calendar event; the same ``uid`` across updates, ``sequence`` rising."""

    model_config = ConfigDict(frozen=True)
    uid: str = Field(min_length=1)
    sequence: int = Field(ge=0)
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    organizer: str = "di-ops@localhost"
    attendees: tuple[str, ...] = ()


class Notice(BaseModel):
    """An e-mail to send once: ``dedupe_key`` makes a second send of the same notice a no-op."""

    model_config = ConfigDict(frozen=True)
    dedupe_key: str = Field(min_length=1, max_length=250)
    kind: str
    entity: str
    to: tuple[str, ...] = Field(min_length=1)
    subject: str
    html: str
    attachments: dict[str, str] = Field(default_factory=dict)  # file name -> text content


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets are folded with CRLF + space."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, chunk = [], b""
    for ch in line:
        b = ch.encode()
        if len(chunk) + len(b) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += b
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def _stamp(value: datetime, name: str) -> str:
    return require_aware(value, name).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics_text(event: CalendarEvent, *, method: Method, dtstamp: datetime) -> str:
    """The event as an iCalendar file; CANCEL marks it cancelled (same UID, higher SEQUENCE)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//di-ops//change notices//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTAMP:{_stamp(dtstamp, 'dtstamp')}",
        f"DTSTART:{_stamp(event.start, 'start')}",
        f"DTEND:{_stamp(event.end, 'end')}",
        f"SUMMARY:{_escape(event.summary)}",
        f"DESCRIPTION:{_escape(event.description)}",
        f"ORGANIZER:mailto:{event.organizer}",
        *(f"ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:{a}" for a in event.attendees),
        *([f"LOCATION:{_escape(event.location)}"] if event.location else []),
        f"STATUS:{'CANCELLED' if method == 'CANCEL' else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


def local_and_utc(moment: datetime, zone_name: str) -> str:
    """'2026-12-01 21:00 CET (20:00 UTC)': notices show the region's local time and UTC."""
    from zoneinfo import ZoneInfo

    instant = require_aware(moment, "moment")
    local = instant.astimezone(ZoneInfo(zone_name))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
