"""The change calendar: per region, the past and coming maintenance windows with the changes in each.

Pure over its inputs (the changes and the instant passed in): the app reads the ops DB and the
clock, this module only arranges. Windows come from ``rules.maintenance`` (DOMAIN.md §1), weekend
windows included (emergencies may use them); a change whose window is not one of the region's
(an emergency "at once", a row written before a settings change) is listed under *outside any
window* of its region, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from di_ops.orchestration.console.changes import KINDS, STATES, Change


@dataclass(frozen=True)
class Filters:
    """What the calendar shows: empty tuples mean every value."""

    regions: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    past_days: int = 14
    coming_days: int = 42

    def keeps(self, change: Change) -> bool:
        return (
            (not self.regions or change.region in self.regions)
            and (not self.customers or change.customer_id in self.customers)
            and (not self.kinds or change.kind in self.kinds)
            and (not self.states or change.state in self.states)
        )


def parse_filters(query: dict[str, list[str]], known_regions: Sequence[str]) -> Filters:
    """Filters from a query string (``region=AMER&region=EMEA&kind=upgrade&past_days=7``).

    Unknown values raise ValueError naming the field and the allowed values (the app answers 400).
    """

    def values(name: str, allowed: Sequence[str] | None) -> tuple[str, ...]:
        found = tuple(dict.fromkeys(v.strip() for raw in query.get(name, []) for v in raw.split(",") if v.strip()))
        if allowed is not None:
            wrong = [v for v in found if v not in allowed]
            if wrong:
                raise ValueError(f"{name}: {', '.join(wrong)} not one of {', '.join(allowed)}")
        return found

    def days(name: str, default: int) -> int:
        raw = (query.get(name) or [str(default)])[-1]
        if not raw.isdigit() or not 0 <= int(raw) <= 366:
            raise ValueError(f"{name}: {raw!r} is not a number of days from 0 to 366")
        return int(raw)

    return Filters(
        regions=values("region", list(known_regions)),
        customers=values("customer", None),
        kinds=values("kind", KINDS),
        states=values("state", STATES),
        past_days=days("past_days", 14),
        coming_days=days("coming_days", 42),
    )


@dataclass
class WindowRow:
    region: str
    start: datetime  # aware, region's zone
    end: datetime
    weekend: bool
    past: bool
    open_now: bool
    changes: list[Change] = field(default_factory=list)


@dataclass
class RegionCalendar:
    region: str
    zone: str
    windows: list[WindowRow]
    outside: list[Change]  # changes in the range that are in none of the region's windows


def build_calendar(
    changes: Iterable[Change], filters: Filters, *, as_of: datetime, regions: Sequence[str]
) -> list[RegionCalendar]:
    """Per region (filtered), every window opening in [as_of − past_days, as_of + coming_days] with
    its changes; a window without changes is listed too (the calendar shows the free windows)."""
    from di_ops.rules.common import region_zone
    from di_ops.rules.maintenance import windows_between

    low = as_of - timedelta(days=filters.past_days)
    high = as_of + timedelta(days=filters.coming_days)
    kept = [c for c in changes if filters.keeps(c)]
    result = []
    for region in regions:
        if filters.regions and region not in filters.regions:
            continue
        rows = {
            w.start.astimezone(UTC): WindowRow(
                region=region,
                start=w.start,
                end=w.end,
                weekend=w.weekend,
                past=w.end <= as_of,
                open_now=w.contains(as_of),
            )
            for w in windows_between(region, low, high, allow_weekend=True)
        }
        outside = []
        for change in kept:
            if change.region != region or change.window_start is None:
                continue
            row = rows.get(change.window_start.astimezone(UTC))
            if row is not None:
                row.changes.append(change)
            elif low <= change.window_start <= high:
                outside.append(change)
        result.append(
            RegionCalendar(region=region, zone=str(region_zone(region)), windows=list(rows.values()), outside=outside)
        )
    return result


def unplaced(changes: Iterable[Change], filters: Filters) -> list[Change]:
    """Changes (filtered) that have no window at all yet: shown in their own list."""
    return [c for c in changes if filters.keeps(c) and c.window_start is None]


def in_range(changes: Iterable[Change], filters: Filters, *, as_of: datetime) -> list[Change]:
    """The filtered changes whose window opens in the calendar's range (the JSON and .ics exports)."""
    low = as_of - timedelta(days=filters.past_days)
    high = as_of + timedelta(days=filters.coming_days)
    return [
        c
        for c in changes
        if filters.keeps(c)
        and c.window_start is not None
        and low <= c.window_start <= high
        and (not filters.regions or c.region in filters.regions)
    ]


def as_json(calendars: list[RegionCalendar], *, as_of: datetime, filters: Filters) -> dict[str, Any]:
    """The calendar as the documented JSON of ``/di-ops/calendar.json`` (docs/console.md)."""
    return {
        "as_of": as_of.astimezone(UTC).isoformat(),
        "filters": {
            "region": list(filters.regions),
            "customer": list(filters.customers),
            "kind": list(filters.kinds),
            "state": list(filters.states),
            "past_days": filters.past_days,
            "coming_days": filters.coming_days,
        },
        "regions": [
            {
                "region": cal.region,
                "zone": cal.zone,
                "windows": [
                    {
                        "start": w.start.isoformat(),
                        "end": w.end.isoformat(),
                        "start_utc": w.start.astimezone(UTC).isoformat(),
                        "end_utc": w.end.astimezone(UTC).isoformat(),
                        "weekend": w.weekend,
                        "past": w.past,
                        "open_now": w.open_now,
                        "changes": [c.as_json() for c in w.changes],
                    }
                    for w in cal.windows
                ],
                "outside_windows": [c.as_json() for c in cal.outside],
            }
            for cal in calendars
        ],
    }
