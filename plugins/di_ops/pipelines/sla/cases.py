"""TAC cases as a frame: typed columns for the quality checks, and the SLA audit of the accepted cases
(scope, due times, statuses; the figures from them are in :mod:`di_ops.pipelines.sla.figures`).

Source: DOMAIN.md §7. Everything is vectorised (per column, or per *distinct* label, never
per row) so a year of a large fleet's cases is audited in seconds; the rules themselves
come from :mod:`di_ops.rules` (severity matrix, response due/status, Wilson interval,
compliance), applied in their bulk forms. pandas/numpy are imported inside functions.

Interpretations (defaults chosen here, documented in docs/pipelines/sla.md):

* A timestamp is valid when it is ISO-8601 with a zone (``Z`` or ``±hh:mm``) and names a
  real instant; a naive one is refused rather than guessed.
* ``impact`` may be a label (English or Dutch) or, when empty, ``affected_share`` (0–1).
* Misclassification compares the severity as filed with the impact × urgency matrix:
  *downgraded* = filed less severe than the matrix (a triage downgrade, allowed), *raised* =
  filed more severe; both are reported, separately.
* The audit covers cases opened at or before ``as_of`` whose opening day (in the region's
  zone) lies in the period; a case's month is its opening month in the region's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Final

from di_ops.rules.common import known_regions, normalise_region, region_zone
from di_ops.rules.severity import (
    IMPACTS,
    URGENCIES,
    impact_for_share,
    normalise_impact,
    normalise_severity,
    normalise_urgency,
    severity_for,
)

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "case_id",
    "customer_id",
    "region",
    "opened_at",
    "first_response_at",
    "impact",
    "urgency",
    "severity",
    "closed_at",
)
ESCALATION_COLUMNS: Final[tuple[str, ...]] = (
    "contract_number",
    "caller_account",
    "contact_name",
    "contact_phone",
    "contact_email",
)
TIMESTAMP_COLUMNS: Final[tuple[str, ...]] = ("opened_at", "first_response_at", "closed_at")
SEVERITY_LEVELS: Final[tuple[str, ...]] = ("S1", "S2", "S3", "S4")
# DOMAIN.md §7: the caller must be the partner's support team (partner or resold customer account);
# Dutch "klant" = customer.
_CALLER_ACCOUNTS: Final[dict[str, str]] = {
    "partner": "partner",
    "customer": "customer",
    "resold customer": "customer",
    "klant": "customer",
}


class _Distinct:
    """A text column factorised once: row codes and its distinct values, stripped (blank → None).

    Labels, customer ids and contact fields have few distinct values, so every conversion is
    done once per distinct value and taken back to the rows by code (a small lookup table).
    """

    def __init__(self, values: Any) -> None:
        import numpy as np
        import pandas as pd

        from di_ops.pipelines.sla.arrow_text import arrow_strings, dictionary_codes

        text = arrow_strings(values)
        uniques: list[Any]
        if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):  # dictionary-encoded when read
            series = values
            self.row_codes = np.asarray(values.array.codes, dtype=np.intp)  # widened once for every lookup
            uniques = [*values.array.categories, None]
            missing = self.row_codes < 0
            used = [True] * (len(uniques) - 1) + [bool(missing.any())]
            if used[-1]:
                self.row_codes[missing] = len(uniques) - 1
        elif text is not None:  # read with Arrow: factorised in C++, no Python string per row
            series = values
            self.row_codes, uniques = dictionary_codes(text)  # a null is a value of its own (None)
            used = [True] * len(uniques)
        else:
            series = pd.Series(values, dtype=object)  # a Series stays itself (copy on write), no copy
            codes, found = pd.factorize(series.to_numpy(dtype=object))
            uniques = [*found, None]  # code -1 (missing) reads the table's last entry
            self.row_codes = np.where(codes < 0, len(found), codes)
            used = [True] * len(found) + [bool((codes < 0).any())]
        self.series = series
        self.index = series.index
        self.values = [None if u is None else str(u).strip() or None for u in uniques]
        # Nothing to strip, no blanks, no missing values: the column is its own text (no copy).
        self.clean = all(
            (type(u) is str and u == v) or not use for u, v, use in zip(uniques, self.values, used, strict=True)
        )

    def text(self) -> Any:
        """The stripped text (blank → missing): the column itself when clean; a Categorical stays one."""
        import pandas as pd

        if self.clean:
            return self.series
        if isinstance(self.series.dtype, pd.CategoricalDtype):
            return self.categorical(self.values)
        return self.take(self.values)

    def categorical(self, table: list[Any]) -> Any:
        """The per-distinct ``table`` taken back to the rows as a Categorical (None → missing), no string per row."""
        import numpy as np
        import pandas as pd

        names = sorted({str(v) for v in table if v is not None})
        lookup = np.array([names.index(str(v)) if v is not None else -1 for v in table], dtype=np.int32)
        codes = lookup[self.row_codes]
        return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=self.index, copy=False)

    def present(self) -> Any:
        """Per row: True where the value is not blank."""
        import numpy as np

        return np.array([v is not None for v in self.values], dtype=bool)[self.row_codes]

    def convert(self, convert: Callable[[Any], Any]) -> list[Any]:
        """``convert`` per distinct non-blank value (None when it raises ValueError/KeyError/TypeError)."""
        mapped: list[Any] = []
        for value in self.values:
            try:
                mapped.append(None if value is None else convert(value))
            except (ValueError, TypeError, KeyError):
                mapped.append(None)
        return mapped

    def take(self, table: list[Any]) -> Any:
        """The per-distinct ``table`` taken back to the rows: an object Series (missing → None)."""
        import numpy as np
        import pandas as pd

        lookup = np.empty(len(table), dtype=object)
        lookup[:] = table
        return pd.Series(lookup[self.row_codes], index=self.index, dtype=object, copy=False)

    def map(self, convert: Callable[[Any], Any]) -> Any:
        return self.take(self.convert(convert))

    def level_codes(self, convert: Callable[[Any], Any], levels: tuple[str, ...]) -> Any:
        """Per row: the index in ``levels`` of the converted value, ``len(levels)`` when None/unknown."""
        import numpy as np

        table = [levels.index(v) if v in levels else len(levels) for v in self.convert(convert)]
        return np.array(table, dtype=np.int8)[self.row_codes]


def _stripped_text(values: Any) -> Any:
    """A column with one value per case, stripped with numpy's string ufuncs (C loops): a ``str`` array."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values, dtype=object)
    absent = pd.isna(series).to_numpy()
    return np.strings.strip(np.asarray(np.where(absent, "", series.to_numpy(dtype=object)), dtype=str))


def _case_ids(values: Any) -> Any:
    """Case ids stripped, blank → None: an object Series; only the ids that need it are rewritten.

    Ids are unique, so no per-distinct trick applies; instead the first and last characters are
    read from a fixed-width array and only ids that may carry blanks (or are missing) go through
    the numpy strip; the others are kept as they are. Non-text ids take the general path.
    """
    import numpy as np
    import pandas as pd

    from di_ops.pipelines.sla.arrow_text import arrow_strings

    text = arrow_strings(values)
    if text is not None:
        return _arrow_case_ids(values, text)
    series = pd.Series(values, dtype=object)
    objects = series.to_numpy(dtype=object)
    if len(objects) == 0 or pd.api.types.infer_dtype(objects, skipna=True) != "string":
        return _as_objects(_stripped_text(series), series.index)
    absent = np.asarray(pd.isna(objects), dtype=bool)
    text = np.asarray(objects, dtype=str)  # a missing id reads "None"/"nan" here; it is rewritten below
    points = text.view(np.uint32).reshape(len(text), -1)
    lengths = np.strings.str_len(text)
    first, last = points[:, 0], points[np.arange(len(text)), np.maximum(lengths - 1, 0)]
    # Python's whitespace is ASCII ≤ 32 or beyond U+0084: anything there is stripped properly.
    doubtful = absent | (lengths == 0) | (first <= 32) | (first >= 0x85) | (last <= 32) | (last >= 0x85)
    out = objects.copy()
    rows = np.flatnonzero(doubtful)
    if rows.size:
        out[rows] = _as_objects(_stripped_text(pd.Series(objects[rows], dtype=object)), None).to_numpy()
    return pd.Series(out, index=series.index, dtype=object, copy=False)


def _arrow_case_ids(series: Any, text: Any) -> Any:
    """:func:`_case_ids` of a column read with Arrow: kept as it is unless an id may need stripping.

    The first and last byte of each id are read from the Arrow buffers; an id starting or ending
    in ASCII ≤ 32 or a non-ASCII byte (which may be Unicode whitespace), or empty, is rewritten
    with Python's ``str.strip`` (blank → missing); the column is then rebuilt by Arrow in C++.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from di_ops.pipelines.sla.arrow_text import offsets_and_bytes, valid_mask

    offsets, data = offsets_and_bytes(text)
    begin, end = offsets[:-1], offsets[1:]
    first, last = np.take(data, begin, mode="clip"), np.take(data, end - 1, mode="clip")
    doubtful = (end <= begin) | (first <= 32) | (first >= 0x80) | (last <= 32) | (last >= 0x80)
    doubtful &= valid_mask(text)
    if not doubtful.any():
        return series
    rows = np.flatnonzero(doubtful)
    stripped = [value.strip() or None for value in text.take(rows).to_pylist()]
    fixed = pc.replace_with_mask(text, pa.array(doubtful), pa.array(stripped, type=text.type))
    return pd.Series(fixed, index=series.index, dtype=series.dtype)


def _as_objects(text: Any, index: Any) -> Any:
    import pandas as pd

    out = text.astype(object)
    out[text == ""] = None
    return pd.Series(out, index=index, dtype=object, copy=False)


def parse_instants(values: Any) -> tuple[Any, Any]:
    """(UTC timestamps, format) of a text column; format is "iso8601", "empty" or "invalid" per row.

    Valid: ISO-8601 date and time with a zone (``Z``, ``±hh:mm`` or ``±hhmm``) naming a real
    instant; a naive timestamp is invalid (refused rather than guessed). The reading is
    :func:`di_ops.pipelines.sla.fast_iso.parse_iso_utc_ns` (a fast path for the common shapes, the
    reference reading for the rest).
    """
    import numpy as np
    import pandas as pd

    from di_ops.pipelines.sla.fast_iso import STATE_NAMES, parse_iso_utc_ns

    index = pd.Series(values, dtype=object).index
    ns, state = parse_iso_utc_ns(values)
    return _utc_series(ns, index), pd.Series(
        np.array(STATE_NAMES, dtype=object)[state], index=index, dtype=object, copy=False
    )


def _utc_series(ns: Any, index: Any) -> Any:
    """int64 UTC nanoseconds (NaT = int64 min) as a ``datetime64[ns, UTC]`` Series."""
    import pandas as pd

    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"), index=index, copy=False)


def _impact_from_share(value: Any) -> str:
    return impact_for_share(float(value))


# Per row: which timestamps are malformed (bit 1 opened_at, 2 first_response_at, 4 closed_at) → the label GX sees.
_TIMESTAMP_PROBLEMS: Final[tuple[str, ...]] = tuple(
    "ok" if code == 0 else " + ".join(c for bit, c in zip((1, 2, 4), TIMESTAMP_COLUMNS, strict=True) if code & bit)
    for code in range(8)
)


def prepare_cases(raw: Any) -> tuple[Any, list[str]]:
    """Typed and normalised columns beside the exported ones; returns (frame, missing required columns).

    Added columns: ``<ts>_utc`` and ``<ts>_format`` for the three timestamps, ``timestamps_format``
    ("ok" or the malformed columns) and ``latest_timestamp_utc``; ``region_norm``,
    ``impact_norm``, ``urgency_norm``, ``severity_filed`` (canonical names or missing);
    ``severity_matrix`` (impact × urgency, DOMAIN.md §7); ``caller_account_norm``.
    The added label columns (``…_norm``, ``severity_filed``, ``severity_matrix``, the ``…_format``
    columns) are pandas Categoricals (their values are the canonical names; the audit groups by
    their codes; missing is NaN); so are
    the exported label texts when the reader dictionary-encoded them (``region``, ``impact`` …,
    not ``customer_id``, which stays plain text for the per-customer counts of the quality step).
    A column read with Arrow (:mod:`di_ops.pipelines.sla.exports`) is read in C++: timestamps by
    :func:`di_ops.pipelines.sla.fast_iso.parse_iso_utc_ns`, labels through their dictionary codes; the result is
    the same as for the same strings given as Python objects.
    """
    import numpy as np
    import pandas as pd

    from di_ops.pipelines.sla.arrow_text import decoded
    from di_ops.pipelines.sla.fast_iso import NAT, STATE_NAMES, parse_iso_utc_ns

    columns = set(raw.columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    absent = pd.Series(None, index=raw.index, dtype=object)
    no_labels = pd.Series(pd.Categorical.from_codes(np.full(len(raw), -1, dtype=np.int8), []), index=raw.index)
    labels = {
        c: _Distinct(raw[c] if c in columns else no_labels)
        for c in ("customer_id", "region", "impact", "affected_share", "urgency", "severity", *ESCALATION_COLUMNS)
    }
    # Columns are collected first and the frame built once (inserting ~30 columns one by one costs more).
    frame: dict[str, Any] = {}
    if "case_id" in columns:  # a missing required column stays missing: its check fails every row
        frame["case_id"] = _case_ids(raw["case_id"])
    for column in ("customer_id", "region", "impact", "urgency", "severity"):
        if column in columns:
            frame[column] = labels[column].text()
    if "customer_id" in frame:  # counted per customer by the quality report: plain text, not a Categorical
        frame["customer_id"] = decoded(frame["customer_id"])
    for column in ESCALATION_COLUMNS:  # optional in the export; an absent one fails its escalation check
        frame[column] = labels[column].text()
    for column in raw.columns:
        if column.startswith("_"):
            frame[column] = raw[column]
    problems = np.zeros(len(raw), dtype=np.int8)
    latest = np.full(len(raw), NAT, dtype=np.int64)
    for bit, column in zip((1, 2, 4), TIMESTAMP_COLUMNS, strict=True):
        ns, state = parse_iso_utc_ns(raw[column] if column in columns else absent)
        if column in columns:
            frame[column] = raw[column]
        frame[f"{column}_utc"] = _utc_series(ns, raw.index)
        frame[f"{column}_format"] = _named_codes(state, STATE_NAMES, raw.index)
        bad = state == 2 if column != "opened_at" else state != 0
        problems |= bad.astype(np.int8) * np.int8(bit)
        np.maximum(latest, ns, out=latest)  # NaT is the smallest int64, so missing timestamps are skipped
    frame["timestamps_format"] = _named_codes(problems, _TIMESTAMP_PROBLEMS, raw.index)
    frame["latest_timestamp_utc"] = _utc_series(latest, raw.index)
    region_levels = known_regions()
    region = labels["region"].level_codes(normalise_region, region_levels)
    frame["region_norm"] = _categorical(region, region_levels, raw.index)
    # impact: the label when there is one (an unknown label stays unknown), else the affected share
    impact = np.where(
        labels["impact"].present(),
        labels["impact"].level_codes(normalise_impact, IMPACTS),
        labels["affected_share"].level_codes(_impact_from_share, IMPACTS),
    )
    urgency = labels["urgency"].level_codes(normalise_urgency, URGENCIES)
    frame["impact_norm"] = _categorical(impact, IMPACTS, raw.index)
    frame["urgency_norm"] = _categorical(urgency, URGENCIES, raw.index)
    severity = labels["severity"].level_codes(normalise_severity, SEVERITY_LEVELS)
    frame["severity_filed"] = _categorical(severity, SEVERITY_LEVELS, raw.index)
    matrix = _matrix_codes().ravel()[impact * np.int8(len(URGENCIES) + 1) + urgency]  # one lookup per row
    frame["severity_matrix"] = _categorical(matrix, SEVERITY_LEVELS, raw.index)
    frame["caller_account_norm"] = labels["caller_account"].categorical(
        labels["caller_account"].convert(lambda v: _CALLER_ACCOUNTS[str(v).lower()])
    )
    return pd.DataFrame(frame, index=raw.index, copy=False), missing


def _named_codes(codes: Any, names: tuple[str, ...], index: Any) -> Any:
    """Row codes into ``names`` (all valid) as a Categorical Series: the names without a string per row."""
    import pandas as pd

    return pd.Series(pd.Categorical.from_codes(codes, categories=list(names)), index=index, copy=False)


def _categorical(codes: Any, levels: tuple[str, ...], index: Any) -> Any:
    """Row codes into ``levels`` (``len(levels)`` = missing) as a Categorical Series."""
    import numpy as np
    import pandas as pd

    codes = np.where(codes >= len(levels), -1, codes).astype(np.int8)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(levels)), index=index)


@cache
def _matrix_codes() -> Any:
    """``severity_for`` per (impact, urgency) code pair; the last row/column (missing) stays missing."""
    import numpy as np

    table = np.full((len(IMPACTS) + 1, len(URGENCIES) + 1), len(SEVERITY_LEVELS), dtype=np.int8)
    for i, impact in enumerate(IMPACTS):
        for u, urgency in enumerate(URGENCIES):
            table[i, u] = SEVERITY_LEVELS.index(severity_for(impact, urgency))
    return table


# --- the audit --------------------------------------------------------------------------------


def default_period(as_of: datetime, months: int) -> tuple[date, date]:
    """The ``months`` calendar months up to and including the month of ``as_of`` (UTC date)."""
    end = as_of.date()
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1), end


def _codes(values: Any) -> tuple[Any, list[str]]:
    """Row codes (-1 = missing) and names of a label column, codes in the sorted order of the names.

    A Categorical is read through its codes (no per-row work); Arrow text is factorised in C++;
    another column is factorised by pandas.
    """
    import numpy as np
    import pandas as pd

    from di_ops.pipelines.sla.arrow_text import arrow_strings, dictionary_codes

    series = pd.Series(values)
    text = arrow_strings(series)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.array.codes, dtype=np.intp)
        names = [str(c) for c in series.array.categories]
        if names == sorted(names):  # already in order (as :func:`_category` leaves them): no remapping
            return codes, names
    elif text is not None:
        codes, found = dictionary_codes(text, null_code=False)
        names = [str(u) for u in found]
    else:
        codes, uniques = pd.factorize(series.to_numpy(dtype=object))
        names = [str(u) for u in uniques]
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names) + 1, dtype=np.intp)
    rank[order] = np.arange(len(names))
    rank[-1] = -1  # code -1 stays missing
    return rank[codes], [names[i] for i in order]


def _category(values: Any) -> Any:
    """A label column as a Categorical Series with sorted categories (kept when it is one already)."""
    import pandas as pd

    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype) and list(series.array.categories) == sorted(
        series.array.categories
    ):
        return series
    codes, names = _codes(series)
    return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=series.index)


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

    from di_ops.pipelines.sla.fast_iso import NAT

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
            "customer_id": _category(prepared["customer_id"]),
            "region": _category(prepared["region_norm"]),
            "severity": _category(prepared["severity_filed"]),
            "severity_matrix": _category(prepared["severity_matrix"]),
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
    region_codes, region_names = _codes(cases["region"])
    if regions:
        wanted = {normalise_region(r) for r in regions}
        chosen = np.isin(region_codes, [i for i, name in enumerate(region_names) if name in wanted])
        left_out["other_regions"] = int((keep & ~chosen).sum())
        keep &= chosen
    if customers:
        customer_codes, customer_names = _codes(cases["customer_id"])
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
    judged["response_due"] = _utc_series(due, judged.index)
    judged["status"] = pd.Categorical.from_codes(status, categories=statuses)
    limit = int((pd.Timestamp(as_of) + horizon).as_unit("ns").value)
    judged["at_risk"] = (status == 2) & (due <= limit)
    return judged
