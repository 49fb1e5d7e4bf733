"""Change notices as data: the calendar invitation (.ics, RFC 5545 / iTIP RFC 5546) and the e-mail
it travels in (a plain-text and an HTML alternative, iMIP RFC 6047).

Pure: every instant is passed in (DTSTAMP is the notice's ``now``, never the clock). The .ics is
written by the ``icalendar`` library (folding, escaping, UTC times); sending lives in
``di_ops.integrations.mail`` (docs/pipelines/upgrades.md, "The notices").
Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file; an update of a
planned change is a new notice of the same event).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from di_ops.rules.common import require_aware

Method = Literal["REQUEST", "CANCEL", "PUBLISH"]
PRODID = "-//di-ops//change notices//EN"


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


class CalendarPart(BaseModel):
    """The invitation of a notice: the .ics text, its iTIP method and the file name it is attached as.

    iMIP (RFC 6047 §2.4) wants the ``method`` of the MIME part equal to the METHOD in the body;
    :func:`calendar_part` builds both from one value and this model checks it.
    """

    model_config = ConfigDict(frozen=True)
    method: Method
    ics: str = Field(min_length=1)
    filename: str = Field(default="invite.ics", pattern=r"^[\w.-]+\.ics$")

    @model_validator(mode="after")
    def _method_matches_the_body(self) -> CalendarPart:
        from icalendar import Calendar

        body = str(Calendar.from_ical(self.ics).get("METHOD", ""))
        if body != self.method:
            raise ValueError(f"the .ics says METHOD:{body or '(none)'}, the part says method={self.method}")
        return self


class Notice(BaseModel):
    """An e-mail to send once: ``dedupe_key`` makes a second send of the same notice a no-op.

    ``html`` is the HTML body; ``text`` the plain-text alternative (empty: the mail carries the
    HTML alone); ``calendar`` the invitation, sent as the ``text/calendar`` alternative and also
    attached under its file name - so ``attachments`` (file name -> text) lists it beside any
    other file.
    """

    model_config = ConfigDict(frozen=True)
    dedupe_key: str = Field(min_length=1, max_length=250)
    kind: str
    entity: str
    to: tuple[str, ...] = Field(min_length=1)
    subject: str
    html: str
    text: str = ""
    calendar: CalendarPart | None = None
    attachments: dict[str, str] = Field(default_factory=dict)  # file name -> text content

    @model_validator(mode="before")
    @classmethod
    def _the_calendar_is_attached(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("calendar") is not None:
            calendar = CalendarPart.model_validate(data["calendar"])
            attachments = {**(data.get("attachments") or {}), calendar.filename: calendar.ics}
            data = {**data, "calendar": calendar, "attachments": attachments}
        return data


def ics_text(event: CalendarEvent, *, method: Method, dtstamp: datetime) -> str:
    """The event as an iCalendar object (written by ``icalendar``): METHOD, UID, SEQUENCE, DTSTAMP,
    DTSTART/DTEND in UTC, ORGANIZER, one ATTENDEE per recipient (RSVP asked for a REQUEST);
    CANCEL marks it cancelled (same UID, higher SEQUENCE; RFC 5546 §3.2.5)."""
    from icalendar import Calendar, Event, vCalAddress

    def utc(value: datetime, name: str) -> datetime:
        return require_aware(value, name).astimezone(UTC)

    attendees = [
        vCalAddress.new(address, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=method == "REQUEST")
        for address in event.attendees
    ]
    vevent = Event.new(
        uid=event.uid,
        sequence=event.sequence,
        stamp=utc(dtstamp, "dtstamp"),
        start=utc(event.start, "start"),
        end=utc(event.end, "end"),
        summary=event.summary,
        description=event.description or None,
        location=event.location or None,
        organizer=f"mailto:{event.organizer}",
        attendees=attendees,
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
    )
    calendar = Calendar()  # not Calendar.new(): that adds a random calendar UID
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(vevent)
    return calendar.to_ical().decode("utf-8")


def calendar_part(
    event: CalendarEvent, *, method: Method, dtstamp: datetime, filename: str = "invite.ics"
) -> CalendarPart:
    """The invitation of ``event`` for a :class:`Notice` (``text/calendar; method=<method>``)."""
    return CalendarPart(method=method, ics=ics_text(event, method=method, dtstamp=dtstamp), filename=filename)


def local_and_utc(moment: datetime, zone_name: str) -> str:
    """'2026-12-01 21:00 CET (2026-12-01 20:00 UTC)': notices show the region's local time and UTC."""
    from zoneinfo import ZoneInfo

    instant = require_aware(moment, "moment")
    local = instant.astimezone(ZoneInfo(zone_name))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def window_text(start: datetime, end: datetime, zone_name: str, *, length: bool = True) -> str:
    """A window as notices show it: both ends in the region's local time and UTC, and its length
    (``length=False``: without it, for a window named inside a sentence)."""
    span = f"{local_and_utc(start, zone_name)} to {local_and_utc(end, zone_name)}"
    if not length:
        return span
    elapsed = require_aware(end, "end").astimezone(UTC) - require_aware(start, "start").astimezone(UTC)
    return f"{span}, {duration_text(elapsed)}"


def duration_text(length: timedelta) -> str:
    """'2 days 23 hours', '9 hours', '45 minutes': days and hours, minutes only under an hour,
    rounded down (never more time than there is); no seconds or microseconds."""
    if length < timedelta(0):
        raise ValueError(f"a negative duration: {length}")
    minutes = int(length.total_seconds() // 60)
    days, hours = divmod(minutes // 60, 24)
    if days == 0 and hours == 0:
        return _plural(minutes % 60, "minute")
    return " ".join(_plural(n, unit) for n, unit in ((days, "day"), (hours, "hour")) if n)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"
