"""When a run must be finished: the deadlines behind the project's Airflow Deadline Alerts.

Source: docs/interfaces.md, "Deadline Alerts" (a nightly run not finished by 06:00 in the earliest region
is overrunning) and DOMAIN.md §1 (maintenance windows in local civil time).

Two kinds, both computed from the instant the run is *for* (its logical date, else when it was
due to run), never from ``now()``:

- :func:`earliest_local_time`: the first instant at or after ``start`` at which the wall clock of
  one of ``regions`` reads ``at`` - "finished by 06:00 in the earliest region". A wall time that
  occurs twice is its first occurrence; one inside a DST gap is read with the offset before the
  gap (shifted forward by the gap), as in :mod:`di_ops.rules.maintenance`.
- :func:`window_close`: the closing instant of the region's maintenance window that holds
  ``start``, else of the next one (weekend windows included) - a renewal run must be done
  before its window closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from di_ops.rules.common import known_regions, normalise_region, region_zone, require_aware
from di_ops.rules.maintenance import next_window, window_at

_ONE_DAY = timedelta(days=1)


def next_local_time(start: datetime, at: time, region: str) -> datetime:
    """The first instant ``>= start`` whose wall clock in ``region`` reads ``at`` (UTC-aware result).

    Source: DOMAIN.md §0 (instants compared in UTC) and §1 (local civil time through DST).
    """
    require_aware(start, "start")
    zone = region_zone(normalise_region(region))
    threshold = start.astimezone(UTC)
    day = threshold.astimezone(zone).date() - _ONE_DAY
    while True:  # at most three iterations: yesterday, today, tomorrow in local days
        candidate = datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)
        if candidate >= threshold:
            return candidate
        day += _ONE_DAY


def earliest_local_time(start: datetime, at: time, regions: Sequence[str] = ()) -> tuple[str, datetime]:
    """``(region, instant)``: the region whose wall clock reads ``at`` first at or after ``start``.

    ``regions`` empty means every known region. Ties go to the region named first (alphabetical
    order when ``regions`` is empty), so the answer is deterministic.
    """
    names = [normalise_region(r) for r in regions] if regions else list(known_regions())
    best: tuple[str, datetime] | None = None
    for name in names:
        instant = next_local_time(start, at, name)
        if best is None or instant < best[1]:
            best = (name, instant)
    assert best is not None  # known_regions() is never empty (settings validate it)
    return best


def window_close(region: str, start: datetime) -> datetime:
    """Closing instant (UTC) of the maintenance window of ``region`` holding ``start``, else of the next.

    Source: DOMAIN.md §1 (every day has a window; weekend windows count here: a run planned into
    one must still finish before it closes).
    """
    require_aware(start, "start")
    window = window_at(region, start) or next_window(region, start, allow_weekend=True)
    return window.end.astimezone(UTC)
