"""The audit of the accepted cases: the period, the cases in scope and their due times and statuses.

Source: DOMAIN.md §7; docs/pipelines/sla.md (Figures). A case's opening day and month are those of
its region's zone (from the zone's offset changes over the cases' span, not per row); due times and
statuses come from :func:`di_ops.rules.sla_bulk.response_due_and_status_ns` (the rules in bulk form).
The figures from the judged cases are in :mod:`di_ops.pipelines.sla.figures`. pandas/numpy are
imported inside functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Final

from di_ops.pipelines.sla.instants import NAT, utc_series
from di_ops.pipelines.sla.labels import label_codes, sorted_categorical
from di_ops.rules.common import normalise_region, region_zone


def default_period(as_of: datetime, months: int) -> tuple[date, date]:
    """The ``months`` calendar months up to and including the month of ``as_of`` (UTC date)."""
    end = as_of.date()
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1), end


def _utc_ns(values: Any) -> Any:
    import numpy as np

    return np.asarray(values.dt.tz_convert(None).dt.as_unit("ns").to_numpy().view(np.int64), dtype=np.int64)


_DAY_NS: Final = 86_400 * 10**9
_HOUR_NS: Final = 3600 * 10**9


def _utc_offsets(zone: Any, first_ns: int, last_ns: int) -> tuple[Any, Any]:
    """(transition instants, offsets) of ``zone`` between two instants, exact to the second (int64 ns).

    ``offsets[i]`` applies from ``transitions[i - 1]`` (inclusive) to ``transitions[i]``; ``offsets[0]``
    before the first. Found on an hourly grid, each change then pinned to its second; tzdata has
    no two changes within an hour, nor a change at a fraction of a second.
    """
    import numpy as np
    import pandas as pd

    def offsets_at(instants: Any) -> Any:
        utc = pd.DatetimeIndex(instants.view("datetime64[ns]")).tz_localize("UTC")
        return np.asarray(utc.tz_convert(zone).tz_localize(None).asi8, dtype=np.int64) - instants

    grid = np.arange(first_ns - first_ns % _HOUR_NS - _DAY_NS, last_ns + 2 * _DAY_NS, _HOUR_NS, dtype=np.int64)
    offsets = offsets_at(grid)
    transitions = []
    for hour in np.flatnonzero(np.diff(offsets)):
        seconds = grid[hour] + np.arange(1, 3601, dtype=np.int64) * 10**9
        transitions.append(int(seconds[np.argmax(offsets_at(seconds) != offsets[hour])]))
    starts = np.concatenate(([0], np.flatnonzero(np.diff(offsets)) + 1))
    return np.array(transitions, dtype=np.int64), offsets[starts]


def _local_opening(opened_ns: Any, region_codes: Any, regions: list[str]) -> tuple[Any, Any]:
    """(opening day number, month number = year·12 + month − 1) in the region's zone; -1 where unknown.

    Local wall time = UTC + the zone's offset at that instant, from the zone's transitions over
    the cases' span (:func:`_utc_offsets`), not per row through pandas' time-zone machinery.
    """
    import numpy as np

    day = np.full(len(opened_ns), -1, dtype=np.int64)
    month = np.full(len(opened_ns), -1, dtype=np.int64)
    known = opened_ns != NAT
    if not known.any():
        return day, month
    first_ns, last_ns = int(opened_ns[known].min()), int(opened_ns.max())
    located = np.zeros(len(opened_ns), dtype=bool)
    for code, region in enumerate(regions):
        rows = np.flatnonzero((region_codes == code) & known)
        if not rows.size:
            continue
        transitions, offsets = _utc_offsets(region_zone(region), first_ns, last_ns)
        instants = opened_ns[rows]
        day[rows] = (instants + offsets[np.searchsorted(transitions, instants, side="right")]) // _DAY_NS
        located[rows] = True
    if located.any():  # the month of each day number, through a table over the span of days
        days = day[located]
        first_day = int(days.min())
        span = np.arange(first_day, int(days.max()) + 1, dtype=np.int64)
        months = span.view("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
        month[located] = months[days - first_day]
    return day, month


def select_cases(
    prepared: Any,
    as_of: datetime,
    period: tuple[date, date],
    regions: Iterable[str] | None = None,
    customers: Iterable[str] | None = None,
) -> tuple[Any, dict[str, int]]:
    """The accepted cases in scope, in the rules' column names, plus the counts left out and why.

    ``region``, ``customer_id``, ``severity``, ``severity_matrix`` and ``month`` ("YYYY-MM", the
    opening month in the region's zone) are Categoricals; the audit groups by their codes.
    """
    import numpy as np
    import pandas as pd

    cases = pd.DataFrame(
        {
            "case_id": prepared["case_id"],
            "customer_id": sorted_categorical(prepared["customer_id"]),
            "region": sorted_categorical(prepared["region_norm"]),
            "severity": sorted_categorical(prepared["severity_filed"]),
            "severity_matrix": sorted_categorical(prepared["severity_matrix"]),
            "opened_at": prepared["opened_at_utc"],
            "first_response_at": prepared["first_response_at_utc"],
            "closed_at": prepared["closed_at_utc"],
        },
        copy=False,
    )
    left_out: dict[str, int] = {}
    opened = _utc_ns(cases["opened_at"])
    as_of_ns = int(pd.Timestamp(as_of).as_unit("ns").value)
    keep = ~(opened > as_of_ns)  # NaT is the smallest int64: never after as_of
    left_out["opened_after_as_of"] = int(len(keep) - keep.sum())
    region_codes, region_names = label_codes(cases["region"])
    if regions:
        wanted = {normalise_region(r) for r in regions}
        chosen = np.isin(region_codes, [i for i, name in enumerate(region_names) if name in wanted])
        left_out["other_regions"] = int((keep & ~chosen).sum())
        keep &= chosen
    if customers:
        customer_codes, customer_names = label_codes(cases["customer_id"])
        wanted_customers = set(customers)
        chosen = np.isin(customer_codes, [i for i, name in enumerate(customer_names) if name in wanted_customers])
        left_out["other_customers"] = int((keep & ~chosen).sum())
        keep &= chosen
    day, month = _local_opening(opened, region_codes, region_names)
    first, last = (int(np.datetime64(d, "D").astype(np.int64)) for d in period)
    inside = (day >= first) & (day <= last)
    left_out["outside_period"] = int((keep & ~inside).sum())
    chosen_rows = keep & inside
    rows = np.flatnonzero(chosen_rows)
    if rows.size < len(cases):  # usually every case is in scope: no copy then
        cases = cases.take(rows)
        month = month[rows]
    base = int(month.min()) if rows.size else 0
    present = np.flatnonzero(np.bincount(month - base, minlength=1)) if rows.size else np.zeros(0, dtype=np.intp)
    lookup = np.full(int(present[-1]) + 1 if len(present) else 1, -1, dtype=np.int16)  # few months: small codes
    lookup[present] = np.arange(len(present))
    names = [f"{(base + int(m)) // 12:04d}-{(base + int(m)) % 12 + 1:02d}" for m in present]
    month_codes = lookup[month - base] if rows.size else np.zeros(0, dtype=np.int16)
    cases["month"] = pd.Categorical.from_codes(month_codes, categories=names)
    return cases, left_out


def judge_cases(cases: Any, as_of: datetime, horizon: timedelta) -> Any:
    """Add ``response_due``, ``status`` (met/breached/pending, a Categorical) and ``at_risk``.

    ``at_risk``: pending and due within ``horizon`` of ``as_of``. Due times and statuses come from
    one call of :func:`di_ops.rules.sla_bulk.response_due_and_status_ns` (due times computed once).
    """
    import pandas as pd

    from di_ops.rules.sla_bulk import STATUS_NAMES, response_due_and_status_ns

    judged = cases.copy(deep=False)
    statuses = [str(name) for name in STATUS_NAMES]
    if judged.empty:
        judged["response_due"] = pd.Series(dtype="datetime64[ns, UTC]")
        judged["status"] = pd.Categorical([], categories=statuses)
        judged["at_risk"] = pd.Series(dtype=bool)
        return judged
    due, status = response_due_and_status_ns(judged, as_of)
    judged["response_due"] = utc_series(due, judged.index)
    judged["status"] = pd.Categorical.from_codes(status, categories=statuses)
    limit = int((pd.Timestamp(as_of) + horizon).as_unit("ns").value)
    judged["at_risk"] = (status == 2) & (due <= limit)
    return judged
