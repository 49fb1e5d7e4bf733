"""Exported timestamp columns read in bulk, by the one definition of a valid timestamp.

Source: DOMAIN.md §7 (exported timestamps are ISO 8601 with a zone) and
:mod:`di_ops.rules.timestamps` (what a valid timestamp is). A value is read exactly as
``parse_instant(value.strip())`` reads it — same acceptance, same instant (fractions beyond
microseconds truncated) — a blank or missing one is *empty*; docs/pipelines/sla.md.

How, per column, with pyarrow's compute functions (C++, no Python string per row):

1. ``match_substring_regex`` with :data:`~di_ops.rules.timestamps.PATTERN` itself (RE2 reads the same
   syntax), anchored, and optional white space around it — Python's own white-space characters, so
   the match is the ``str.strip`` + ``fullmatch`` of the rule;
2. the matching values are cast by Arrow's ISO-8601 reader, which checks the fields (31 April, hour
   24, second 60, an offset of 24 h …) as the rule's ``datetime`` does; ``t``/``z`` are upper-cased
   first (Arrow reads only ``T``/``Z``);
3. what Arrow refuses as a block (it refuses a whole cast for one bad value), and an instant outside
   the years the rule bounds, is settled value by value by :func:`~di_ops.rules.timestamps.parse_instant`
   itself — the definition decides every doubtful value.

The result is a state per value (:data:`STATE_NAMES`: ``iso8601``, ``empty``, ``invalid``) and UTC
epoch nanoseconds (``NAT`` where not valid). pandas and pyarrow are imported inside functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from di_ops.rules.timestamps import MAX_YEAR, MIN_YEAR, PATTERN, parse_instant

VALID: Final = 0
EMPTY: Final = 1
INVALID: Final = 2
STATE_NAMES: Final[tuple[str, ...]] = ("iso8601", "empty", "invalid")
NAT: Final = np.iinfo(np.int64).min
# Arrow refuses a whole cast for one bad value: a refused column is cast in blocks of this size, and a
# refused block's values are read one by one by the rule itself.
BLOCK: Final = 4096
_DAY_NS: Final = 86_400 * 10**9
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


@cache
def python_whitespace() -> str:
    """Every character ``str.strip()`` removes (``str.isspace``); none is above U+3000."""
    return "".join(c for c in map(chr, range(0x3001)) if c.isspace())


@cache
def patterns() -> tuple[str, str]:
    """(a value, a blank value) as RE2 patterns: the rule's :data:`PATTERN` with white space around it."""
    space = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in python_whitespace()) + "]"
    return f"^{space}*(?:{PATTERN.pattern}){space}*$", f"^{space}*$"


@cache
def _safe_range() -> tuple[int, int]:
    """UTC ns range whose instants surely have a local year in MIN_YEAR..MAX_YEAR (offsets are below a day)."""
    first = int(np.datetime64(f"{MIN_YEAR}-01-01", "ns").astype(np.int64)) + _DAY_NS
    last = int(np.datetime64(f"{MAX_YEAR + 1}-01-01", "ns").astype(np.int64)) - _DAY_NS
    return first, last


def arrow_text_of(values: Any) -> tuple[Any, NDArray[np.bool_]]:
    """(the values as an Arrow ``string`` array with missing → null, rows holding something other than text).

    A column read from an export is already Arrow text (no copy); other values are converted once.
    """
    import pandas as pd
    import pyarrow as pa

    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    other = np.zeros(len(series), dtype=bool)
    try:
        array = pa.array(series.array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. a number among the texts: not a timestamp
        objects = series.to_numpy(dtype=object)
        other = np.array([not isinstance(v, str) and not pd.isna(v) for v in objects], dtype=bool)
        array = pa.array(np.where(other, None, objects), type=pa.string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_null(array.type):
        array = array.cast(pa.string())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        other |= np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        array = pa.nulls(len(array), pa.string())
    return array, other


def _mask(boolean: Any) -> NDArray[np.bool_]:
    """An Arrow boolean array as numpy, null → False."""
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(boolean, False).to_numpy(zero_copy_only=False), dtype=bool)


def _by_rule(values: list[str | None]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """(UTC ns truncated to µs, valid) of each value by :func:`parse_instant` of its stripped text."""
    ns = np.full(len(values), NAT, dtype=np.int64)
    valid = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        try:
            moment = parse_instant((value or "").strip())
        except ValueError:
            continue
        ns[i] = (moment - _EPOCH) // _MICROSECOND * 1000
        valid[i] = True
    return ns, valid


def _cast(candidates: Any) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """(UTC ns, read) of the non-null values (all of the rule's shape): Arrow's cast, block by block where it refuses."""
    import pyarrow as pa
    import pyarrow.compute as pc

    upper = pc.ascii_upper(candidates)  # "t"/"z" are the rule's too; Arrow reads upper case only
    target = pa.timestamp("ns", "UTC")
    try:
        ns = np.asarray(upper.cast(target).to_numpy(zero_copy_only=False)).view(np.int64).copy()
        return ns, np.asarray(candidates.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    ns = np.full(len(upper), NAT, dtype=np.int64)
    read = np.zeros(len(upper), dtype=bool)
    for start in range(0, len(upper), BLOCK):
        block = upper.slice(start, BLOCK)
        end = start + len(block)
        try:
            cast = block.cast(target)
            ns[start:end] = np.asarray(cast.to_numpy(zero_copy_only=False)).view(np.int64)
            read[start:end] = np.asarray(cast.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ns[start:end], read[start:end] = _by_rule(candidates.slice(start, BLOCK).to_pylist())
    return ns, read


def read_instants(values: Any) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """(UTC epoch nanoseconds, state) per value: state VALID, EMPTY or INVALID; ns NAT unless VALID.

    ``values``: a pandas Series (Arrow-backed text as read from an export, or objects), a pyarrow
    array, or any sequence; None/NaN/blank → EMPTY. See the module docstring.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text, other = arrow_text_of(values)
    count = len(text)
    if count == 0:
        return np.full(0, NAT, dtype=np.int64), np.full(0, INVALID, dtype=np.int8)
    value_pattern, blank_pattern = patterns()
    present = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool) & ~other
    shaped = _mask(pc.match_substring_regex(text, value_pattern)) & present
    unshaped = np.flatnonzero(present & ~shaped)
    # Usually every value given has the shape: the column is cast as it is (a null stays null).
    candidates = text if not unshaped.size and not other.any() else pc.if_else(pa.array(shaped), text, None)
    ns, read = _cast(candidates)
    first, last = _safe_range()
    doubtful = np.flatnonzero(read & ((ns < first) | (ns > last)))  # near or past the years the rule bounds
    if doubtful.size:
        ns[doubtful], read[doubtful] = _by_rule(text.take(doubtful).to_pylist())
    ns = np.where(read, ns - ns % 1000, NAT)  # the rule keeps microseconds (floor: also before 1970)
    state = np.where(read, VALID, np.where(present, INVALID, EMPTY)).astype(np.int8)
    state[other] = INVALID
    if unshaped.size:  # nothing but white space: empty
        blank = _mask(pc.match_substring_regex(text.take(unshaped), blank_pattern))
        state[unshaped[blank]] = EMPTY
    return ns, state


def parse_instants(values: Any) -> tuple[Any, Any]:
    """(UTC timestamps, format) of a text column as Series; format "iso8601", "empty" or "invalid" per row."""
    import pandas as pd

    index = values.index if isinstance(values, pd.Series) else pd.RangeIndex(len(values))
    ns, state = read_instants(values)
    names = np.array(STATE_NAMES, dtype=object)[state]
    return utc_series(ns, index), pd.Series(names, index=index, dtype=object, copy=False)


def utc_series(ns: NDArray[np.int64], index: Any) -> Any:
    """int64 UTC nanoseconds (NaT = int64 min) as a ``datetime64[ns, UTC]`` Series."""
    import pandas as pd

    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"), index=index, copy=False)
