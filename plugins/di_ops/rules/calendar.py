"""Business-day arithmetic of a region's local calendar.

Source: DOMAIN.md §7 ("Default business-day arithmetic") and §0 (only business
days and maintenance windows follow a region's local calendar and clock).

Counted time: only whole local days (00:00-24:00 in the region's zone) that are
workdays (settings ``business_days.workdays``) and not holidays of the region
(settings ``business_days.holidays``: a country/subdivision of the ``holidays``
package and/or explicit dates). N business days are due at the first instant at
which N days of counted time have elapsed since the start.

Default that interprets the source (DOMAIN.md §0 says durations are elapsed,
§7 that business days follow the local calendar): "24 h of counted time" is
read as *one whole local calendar day*. A counted day contributes exactly one
business day whatever its elapsed length (23 h or 25 h on a DST night) and
the part of a day already used is measured on the local wall clock. So a
start at wall time ``t`` on a counted day is due on the N-th counted day after
it at wall time ``t``; a start at 00:00 or on an uncounted day is due at 00:00
of the calendar day after the last counted day (Friday 00:00 + 1 → Saturday
00:00, the first instant the total is reached). On a DST night the wall clock
is irregular, so two deterministic choices apply:

* a due wall time that falls in a DST gap maps to the first existing instant
  after it (the transition instant) - the first instant at which the counted
  wall clock reaches it;
* a due wall time that occurs twice maps to its first occurrence (fold=0); a
  start in the second pass of a repeated hour counts as the end of that hour
  (the wall clock already reached it), which keeps the function monotone.

With the default settings no DST change falls on a workday in any region
(they happen on Sundays), so these choices only matter for custom workdays.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any

import holidays as holidays_package

from di_ops.core.settings import RegionHolidays, regions_config
from di_ops.rules.common import normalise_region, region_zone, require_aware

_MIDNIGHT = time(0, 0)
_ONE_DAY = timedelta(days=1)
_RESOLUTION = timedelta(microseconds=1)


# --- holidays ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _holidays_in_year(spec: RegionHolidays, year: int) -> frozenset[date]:
    """Holidays of one year for one settings entry (keyed by value, so new settings never go stale)."""
    days: set[date] = {d for d in spec.dates if d.year == year}
    if spec.country:
        days.update(holidays_package.country_holidays(spec.country, subdiv=spec.subdiv, years=year).keys())
    return frozenset(days)


def _holiday_spec(region: str) -> RegionHolidays:
    return regions_config().business_days.holidays.get(region, RegionHolidays())


def holiday_dates(region: str, first_year: int, last_year: int) -> frozenset[date]:
    """The region's configured holidays in the years ``first_year..last_year`` (cached per year).

    Source: DOMAIN.md §7 ("minus the region's configured holidays (none by default)").
    """
    spec = _holiday_spec(normalise_region(region))
    found: set[date] = set()
    for year in range(first_year, last_year + 1):
        found |= _holidays_in_year(spec, year)
    return frozenset(found)


def clear_caches() -> None:
    """Forget the cached holiday sets (tests that swap settings call this with settings.clear_caches)."""
    _holidays_in_year.cache_clear()


def is_business_day(region: str, day: date) -> bool:
    """True when ``day`` is a workday of the region's calendar and not one of its holidays.

    Source: DOMAIN.md §7 (Monday-Friday, minus the region's configured holidays).
    """
    name = normalise_region(region)
    if day.weekday() not in regions_config().business_days.workday_numbers:
        return False
    return day not in _holidays_in_year(_holiday_spec(name), day.year)


def _business_day_after(region: str, day: date, count: int) -> date:
    """The ``count``-th business day after ``day`` (``count`` = 0 returns ``day``)."""
    if count > 0 and not regions_config().business_days.workday_numbers:
        raise ValueError("settings business_days.workdays is empty; no business day can ever be due")
    for _ in range(count):
        day += _ONE_DAY
        while not is_business_day(region, day):
            day += _ONE_DAY
    return day


# --- wall clock <-> instants ------------------------------------------------------------------


def _first_instant_with_offset(lower: datetime, upper: datetime, zone: tzinfo) -> datetime:
    """Binary search between ``lower`` (old UTC offset) and ``upper`` (new offset): the transition instant."""
    new_offset = upper.astimezone(zone).utcoffset()
    while upper - lower > _RESOLUTION:
        middle = lower + (upper - lower) // 2
        if middle.astimezone(zone).utcoffset() == new_offset:
            upper = middle
        else:
            lower = middle
    return upper.astimezone(zone)


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant at which the local wall clock of ``zone`` reads ``wall`` (or passes it).

    Source: DOMAIN.md §7 (the due time is the first instant the total is reached).
    A repeated wall time maps to its first occurrence; one in a DST gap to the
    transition instant (the first existing instant after it). The result is in
    ``zone``; compare it through UTC when it may be a repeated time (Python
    never calls such a time equal to a datetime of another zone).
    """
    naive = wall.replace(tzinfo=None)
    candidate = naive.replace(tzinfo=zone, fold=0)
    if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
        return candidate
    # In a gap: fold=1 reads it with the offset after the transition (an instant before it),
    # fold=0 with the offset before (an instant after it).
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _first_instant_with_offset(before, candidate.astimezone(UTC), zone)


def counted_wall_time(moment: datetime, zone: tzinfo) -> datetime:
    """The local wall time (naive) the counted clock shows at ``moment``.

    Source: DOMAIN.md §7 (whole local days); the second pass of a repeated hour
    counts as the end of that hour, so the counted clock never runs backwards.
    """
    local = moment.astimezone(zone)
    wall = local.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    if local.fold == 0 or first.utcoffset() == local.utcoffset():
        return wall
    transition = _first_instant_with_offset(first.astimezone(UTC), local.astimezone(UTC), zone)
    old_offset = first.utcoffset()
    assert old_offset is not None
    return transition.astimezone(UTC).replace(tzinfo=None) + old_offset


# --- scalar -----------------------------------------------------------------------------------


def _check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, got {days!r}")
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")


def add_business_days(region: str, start: datetime, days: int) -> datetime:
    """The first instant at which ``days`` business days of counted time have elapsed since ``start``.

    Source: DOMAIN.md §7 ("Default business-day arithmetic"): opened Friday
    15:00 + 1 → Monday 15:00; Saturday 10:00 + 1 → Tuesday 00:00; Friday 00:00
    + 1 → Saturday 00:00. One counted day is one whole local calendar day
    (see the module docstring for DST nights). ``days`` = 0 returns ``start``;
    a negative ``days`` raises ValueError. The result is in the region's zone.
    """
    require_aware(start, "start")
    name = normalise_region(region)
    _check_days(days)
    if days == 0:
        return start
    zone = region_zone(name)
    wall = counted_wall_time(start, zone)
    day = wall.date()
    used = wall - datetime.combine(day, _MIDNIGHT)
    if used and is_business_day(name, day):
        due = datetime.combine(_business_day_after(name, day, days), _MIDNIGHT) + used
    else:
        first = day if is_business_day(name, day) else _business_day_after(name, day, 1)
        due = datetime.combine(_business_day_after(name, first, days - 1) + _ONE_DAY, _MIDNIGHT)
    return wall_to_instant(due, zone)


# --- vectorised -------------------------------------------------------------------------------


def _weekmask() -> str:
    workdays = regions_config().business_days.workday_numbers
    if not workdays:
        raise ValueError("settings business_days.workdays is empty; no business day can ever be due")
    return "".join("1" if weekday in workdays else "0" for weekday in range(7))


def _as_utc_index(starts: Any) -> Any:
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]  # heavy: only for bulk work

    if isinstance(starts, np.ndarray) and np.issubdtype(starts.dtype, np.datetime64):
        return pd.DatetimeIndex(starts).tz_localize("UTC")  # numpy datetime64 carries no zone: read as UTC
    values = pd.Series(starts) if not isinstance(starts, pd.Series) else starts
    if values.dtype == object:
        for value in values.dropna():
            require_aware(value, "starts[...]")
        values = pd.to_datetime(values, utc=True)
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"starts must be timezone-aware (or a numpy datetime64 array in UTC), got {values.dtype}")
    return pd.DatetimeIndex(values).tz_convert("UTC")


def add_business_days_bulk(region: str, starts: Any, days: Any) -> Any:
    """Vectorised :func:`add_business_days` over many starts: returns a pandas Series, datetime64[ns, UTC].

    Source: DOMAIN.md §7 (same arithmetic as the scalar form, which it agrees
    with exactly; a vectorised form for bulk work, see README, "The rules library").
    ``starts``: a pandas Series/Index/array of aware timestamps (any zone), or a
    numpy datetime64 array read as UTC; NaT stays NaT. ``days``: an int or an
    array of ints (>= 0) of the same length. A Series input keeps its index.
    """
    import numpy as np
    import pandas as pd

    name = normalise_region(region)
    zone_name = regions_config().regions[name].zone
    index = starts.index if isinstance(starts, pd.Series) else None
    utc = _as_utc_index(starts)
    count = np.broadcast_to(np.asarray(days), (len(utc),))
    if count.size and not np.issubdtype(count.dtype, np.integer):
        raise TypeError(f"days must be integers, got dtype {count.dtype}")
    count = count.astype(np.int64)
    if (count < 0).any():
        raise ValueError(f"days must be >= 0, got {int(count.min())}")
    utc_ns = np.asarray(utc.as_unit("ns").asi8, dtype=np.int64)
    result = _business_days_ns(name, zone_name, utc_ns, count)
    out = pd.Series(pd.DatetimeIndex(result.view("datetime64[ns]")).tz_localize("UTC"), index=index)
    return out.astype("datetime64[ns, UTC]")


_NAT = -(2**63)  # numpy's NaT as int64


def add_business_days_ns(region: str, starts_ns: Any, days: Any) -> Any:
    """Vectorised :func:`add_business_days` on int64 nanoseconds since the epoch (UTC), in and out.

    Source: DOMAIN.md §7 (same arithmetic as the scalar form, which it agrees with exactly).
    The form for bulk work that keeps instants as integers (no timezone-aware pandas
    objects): ``starts_ns`` an int64 array (NaT = int64 min stays NaT), ``days`` an int or an
    int array (>= 0) of the same length; returns a new int64 array.
    """
    import numpy as np

    name = normalise_region(region)
    zone_name = regions_config().regions[name].zone
    starts = np.asarray(starts_ns)
    if not np.issubdtype(starts.dtype, np.integer):
        raise TypeError(f"starts_ns must be int64 nanoseconds, got dtype {starts.dtype}")
    count = np.broadcast_to(np.asarray(days), starts.shape)
    if count.size and not np.issubdtype(count.dtype, np.integer):
        raise TypeError(f"days must be integers, got dtype {count.dtype}")
    count = count.astype(np.int64)
    if (count < 0).any():
        raise ValueError(f"days must be >= 0, got {int(count.min())}")
    return _business_days_ns(name, zone_name, starts.astype(np.int64), count)


def _business_days_ns(name: str, zone_name: str, utc_ns: Any, count: Any) -> Any:

    result = utc_ns.copy()
    todo = (utc_ns != _NAT) & (count > 0)
    if todo.size and todo.all():  # the common case: no gathering
        result = _bulk_due(name, zone_name, utc_ns, count)
    elif todo.any():
        result[todo] = _bulk_due(name, zone_name, utc_ns[todo], count[todo])
    return result


def _bulk_due(name: str, zone_name: str, utc_ns: Any, count: Any) -> Any:
    """UTC int64 ns due times for int64 ns UTC starts (no NaT) and positive ``count``."""
    import numpy as np
    import pandas as pd

    utc = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC")
    wall_index = utc.tz_convert(zone_name).tz_localize(None)
    wall = np.asarray(wall_index.as_unit("ns").asi8, dtype=np.int64).view("datetime64[ns]")
    day = wall.astype("datetime64[D]")
    used = wall - day.astype("datetime64[ns]")
    weekmask = _weekmask()
    first_year = int(str(day.min())[:4]) - 1
    span_years = math.ceil(2 * int(count.max()) * 7 / (len(regions_config().business_days.workdays) * 365)) + 2
    last_year = int(str(day.max())[:4]) + span_years
    calendar = np.busdaycalendar(
        weekmask=weekmask,
        holidays=np.array(sorted(holiday_dates(name, first_year, last_year)), dtype="datetime64[D]"),
    )
    business = np.is_busday(day, busdaycal=calendar)
    partial = business & (used > np.timedelta64(0, "ns"))
    first = np.busday_offset(day, 0, roll="forward", busdaycal=calendar)
    after_partial = np.busday_offset(day, count, roll="forward", busdaycal=calendar)
    after_whole = np.busday_offset(first, count - 1, roll="forward", busdaycal=calendar) + np.timedelta64(1, "D")
    due_day = np.where(partial, after_partial, after_whole)
    due_wall = due_day.astype("datetime64[ns]") + np.where(partial, used, np.timedelta64(0, "ns"))
    ambiguous_first = np.ones(len(due_wall), dtype=bool)  # True = the DST reading = the first occurrence
    due = pd.DatetimeIndex(due_wall).tz_localize(zone_name, ambiguous=ambiguous_first, nonexistent="shift_forward")
    due_utc = np.asarray(due.as_unit("ns").asi8, dtype=np.int64).copy()
    # Starts in the second pass of a repeated hour on a counted day: the counted clock stands
    # still there (module docstring); rare, so the scalar form handles them.
    reread = wall_index.tz_localize(zone_name, ambiguous=ambiguous_first, nonexistent="shift_forward")
    second_pass = (np.asarray(reread.as_unit("ns").asi8) != utc_ns) & business
    for position in np.flatnonzero(second_pass):
        start = pd.Timestamp(int(utc_ns[position]), tz="UTC").to_pydatetime()
        fixed = add_business_days(name, start, int(count[position]))
        due_utc[position] = int(pd.Timestamp(fixed.astimezone(UTC)).as_unit("ns").value)
    return due_utc
