"""Maintenance windows of a region, in local civil time.

Source: DOMAIN.md §1 and §0. Every region: a window opens at settings
``maintenance_window.opens`` (21:00) local and closes at ``closes`` (06:00)
local the next morning. Windows follow local civil time through DST: a window
is 9 h of wall-clock time and 8 h or 10 h of elapsed time on a DST night. A
window belongs to the day on which it opens; it is a *weekend* window when that
weekday is not one of ``maintenance_window.change_days`` (Monday-Friday):
weekend windows are for the operator's own infrastructure only. A window
contains its opening instant and not its closing one.

Deterministic reading of wall times (a choice; with the default 21:00/06:00 no
region's DST change ever hits them): a wall time that occurs twice is its first
occurrence (fold=0); one that does not exist (a DST gap) is read with the UTC
offset in force before the gap, as zoneinfo does, i.e. shifted forward by the
gap's length (02:30 on a spring-forward night with a 1 h gap becomes 03:30).

All comparisons are between instants (UTC): two datetimes of the same zone
would otherwise be compared by wall time, which is wrong in a repeated hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel

from di_ops.core.settings import regions_config
from di_ops.rules.common import normalise_region, region_zone, require_aware

_ONE_DAY = timedelta(days=1)


class Window(BaseModel, frozen=True, extra="forbid"):
    """One maintenance window: ``start`` <= instant < ``end``, both aware, in the region's zone.

    Source: DOMAIN.md §1 (``weekend`` = the window opens on a Saturday or Sunday).
    """

    region: str
    start: datetime
    end: datetime
    weekend: bool

    def contains(self, moment: datetime) -> bool:
        """True when ``start <= moment < end`` (compared as instants). Source: DOMAIN.md §0."""
        instant = require_aware(moment, "moment").astimezone(UTC)
        return self.start.astimezone(UTC) <= instant < self.end.astimezone(UTC)

    @property
    def opens_on(self) -> date:
        """The local day the window belongs to (the day it opens). Source: DOMAIN.md §1."""
        return self.start.date()


def effective_region(region: str, sme_publishing_region: str | None = None) -> str:
    """The region whose windows apply: the SME's publishing region when given, else ``region``.

    Source: DOMAIN.md §1 ("The SME cluster's window follows the SME's publishing region").
    Both names are validated (unknown → ValueError naming the known regions).
    """
    own = normalise_region(region)
    return normalise_region(sme_publishing_region) if sme_publishing_region is not None else own


def _local_instant(day: date, wall: datetime, region: str) -> datetime:
    zone = region_zone(region)
    naive = datetime.combine(day, wall.time())
    # fold=0: first occurrence of a repeated time; a gap time is read with the offset before
    # the gap (zoneinfo's behaviour); normalising through UTC shows the real wall time.
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def window_opening_on(region: str, day: date) -> Window:
    """The window that opens on local ``day`` in ``region`` (every day has one).

    Source: DOMAIN.md §1 (opens 21:00 local, closes 06:00 local the next morning;
    a window belongs to the day on which it opens).
    """
    name = normalise_region(region)
    settings = regions_config().maintenance_window
    opens = datetime.combine(day, settings.opens)
    close_day = day + _ONE_DAY if settings.closes <= settings.opens else day
    closes = datetime.combine(close_day, settings.closes)
    return Window(
        region=name,
        start=_local_instant(day, opens, name),
        end=_local_instant(close_day, closes, name),
        weekend=day.weekday() not in settings.change_weekdays,
    )


def _local_day(region: str, moment: datetime) -> date:
    return moment.astimezone(region_zone(region)).date()


def window_at(region: str, moment: datetime) -> Window | None:
    """The window (weekday or weekend) with ``start <= moment < end``, or None outside every window.

    Source: DOMAIN.md §1 and §0 (a window contains its opening instant, not its closing one).
    """
    require_aware(moment, "moment")
    name = normalise_region(region)
    today = _local_day(name, moment)
    # A window lasts less than a day, so only the ones opening today or yesterday can hold moment.
    for day in (today - _ONE_DAY, today):
        window = window_opening_on(name, day)
        if window.contains(moment):
            return window
    return None


def _check_some_day_allowed(allow_weekend: bool) -> None:
    if not allow_weekend and not regions_config().maintenance_window.change_days:
        raise ValueError("settings maintenance_window.change_days is empty; no weekday window exists")


def next_window(region: str, after: datetime, *, allow_weekend: bool = False) -> Window:
    """The first window whose start is at or after ``after``; weekday-opening ones unless ``allow_weekend``.

    Source: DOMAIN.md §1 (Monday-Friday windows for planned changes; weekend
    windows for the operator's own maintenance and emergencies).
    """
    require_aware(after, "after")
    name = normalise_region(region)
    _check_some_day_allowed(allow_weekend)
    threshold = after.astimezone(UTC)
    day = _local_day(name, after) - _ONE_DAY
    while True:
        window = window_opening_on(name, day)
        if window.start.astimezone(UTC) >= threshold and (allow_weekend or not window.weekend):
            return window
        day += _ONE_DAY


def windows_between(region: str, start: datetime, end: datetime, *, allow_weekend: bool = False) -> list[Window]:
    """Every window whose start lies in ``[start, end]`` (both inclusive), ascending.

    Source: DOMAIN.md §1; inclusive bounds as DOMAIN.md §4 needs them. Weekday-
    opening windows only unless ``allow_weekend``. Empty when ``end < start``.
    """
    require_aware(start, "start")
    require_aware(end, "end")
    name = normalise_region(region)
    low, high = start.astimezone(UTC), end.astimezone(UTC)
    found: list[Window] = []
    day = _local_day(name, start) - _ONE_DAY
    last_day = _local_day(name, end)
    while day <= last_day:
        window = window_opening_on(name, day)
        opening = window.start.astimezone(UTC)
        if low <= opening <= high and (allow_weekend or not window.weekend):
            found.append(window)
        day += _ONE_DAY
    return found


def window_length(window: Window) -> tuple[timedelta, timedelta]:
    """``(wall_clock, elapsed)`` length of ``window``: 9 h wall-clock; 8, 9 or 10 h elapsed.

    Source: DOMAIN.md §1 (windows follow local civil time through DST changes).
    """
    wall = window.end.replace(tzinfo=None) - window.start.replace(tzinfo=None)
    elapsed = window.end.astimezone(UTC) - window.start.astimezone(UTC)
    return wall, elapsed
