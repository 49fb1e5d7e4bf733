"""A vectorised ISO-8601 reader for columns of exported timestamps, exact and fast.

Source: DOMAIN.md §7 (timestamps are ISO-8601 with a zone); the reading rules are those of
:func:`di_ops.pipelines.sla.cases.parse_instants` (a value is valid when it is ISO-8601 date and time
with a zone — ``Z``, ``±hh:mm`` or ``±hhmm`` — naming a real instant; a naive one is refused).

Three paths, one result:

* a column read with Arrow (:mod:`di_ops.pipelines.sla.arrow_text`) is cast by Arrow's ISO-8601 reader in C++
  (which refuses a naive value, an impossible date or time, an offset of 24 h or more); a value
  it reads counts only when its shape is also one the reference accepts — seconds given
  (``hh:mm:ss``), the zone ``Z``, ``±hh:mm`` or ``±hhmm`` — and the instant lies in 1700–2200.
  Everything else (and every value of a block Arrow refuses) takes the two paths below, so
  the result is the same as for the same values given as Python strings;

* the fast path reads the common fixed-width shapes
  ``YYYY-MM-DD(T| )hh:mm:ss(.f{1,9})?(Z|±hh:mm)`` straight from a fixed-width byte array
  (digits sliced, integer arithmetic to epoch nanoseconds, the offset applied). It accepts a
  value only when every field is in its ordinary range (month 1–12, a real day of that month,
  hour ≤ 23, minute and second ≤ 59, offset below 24 h, year 1700–2200), so whatever it
  accepts ``pandas.to_datetime(format="ISO8601")`` accepts with the same instant;
* every other value (blanks, surrounding spaces, other shapes, odd ranges, bad values) goes
  to the reference path — strip, blank → empty, a zone required, then
  ``pandas.to_datetime(format="ISO8601", errors="coerce")`` — exactly as before, so the
  rejection behaviour is unchanged. The tests check both paths agree on random text.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from numpy.typing import NDArray

VALID: Final = 0
EMPTY: Final = 1
INVALID: Final = 2
STATE_NAMES: Final[tuple[str, ...]] = ("iso8601", "empty", "invalid")
NAT: Final = np.iinfo(np.int64).min

# Longest fast shape: "YYYY-MM-DDThh:mm:ss.fffffffff+hh:mm" = 35 characters. One more byte shows a longer
# value (numpy truncates silently), which then goes to the reference path with its original text.
_WIDTH: Final = 36
_FIRST_YEAR: Final = 1700
_LAST_YEAR: Final = 2200
_DATE_DIGITS: Final = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_NS: Final = 10**9
_CHUNK: Final = 32_768
# Arrow refuses a whole cast for one bad value: then it casts blocks of this size, and a refused block's
# values take the object paths one by one.
_ARROW_BLOCK: Final = 4096
_COLON, _ZULU, _PLUS, _MINUS = (ord(c) for c in ":Z+-")
_ARROW_FIRST: Final = int(np.datetime64(f"{_FIRST_YEAR}-01-02", "ns").astype(np.int64))
_ARROW_LAST: Final = int(np.datetime64(f"{_LAST_YEAR}-12-30", "ns").astype(np.int64))


def _month_tables() -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Days since the epoch of the first of each month 1700-01..2200-12, and the month's length."""
    months = np.arange((_LAST_YEAR - _FIRST_YEAR + 1) * 12)
    first = np.datetime64(f"{_FIRST_YEAR}-01", "M") + months
    starts = first.astype("datetime64[D]").astype(np.int64)
    lengths = (first + 1).astype("datetime64[D]").astype(np.int64) - starts
    return starts, lengths


_MONTH_START, _MONTH_DAYS = _month_tables()


def _code_units(text: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """The values as a (rows, _WIDTH) matrix of code units (bytes, or UCS-4 when not ASCII) and their lengths."""
    units: NDArray[Any]
    try:
        fixed = np.asarray(text, dtype=f"S{_WIDTH}")
        units = fixed.view(np.uint8).reshape(len(text), _WIDTH)
    except UnicodeEncodeError:  # non-ASCII somewhere: never a fast shape, but keep the rest fast
        fixed = np.asarray(text, dtype=f"U{_WIDTH}")
        units = fixed.view(np.uint32).reshape(len(text), _WIDTH)
    return units, np.asarray(np.strings.str_len(fixed), dtype=np.int64)


def _pair(units: NDArray[Any], first: int) -> NDArray[np.int64]:
    """The two-digit number at ``first`` (digits already checked), computed in bytes, widened once."""
    tens = units[:, first].astype(np.uint8) - np.uint8(48)
    ones = units[:, first + 1].astype(np.uint8) - np.uint8(48)
    value: NDArray[np.int64] = (tens * np.uint8(10) + ones).astype(np.int64)
    return value


def _fraction_ns(units: NDArray[Any], digits: int) -> NDArray[np.int64]:
    value = np.zeros(len(units), dtype=np.int64)
    position = 20
    while position < 20 + digits:
        if position + 1 < 20 + digits:
            value = value * 100 + _pair(units, position)
            position += 2
        else:
            value = value * 10 + (units[:, position].astype(np.int64) - 48)
            position += 1
    scaled: NDArray[np.int64] = value * 10 ** (9 - digits)
    return scaled


def _fraction_digits(length: int, zone: int) -> int | None:
    """Digits after the dot of the fast shape of that length and zone width (-1: no fraction; None: no shape)."""
    fraction = length - zone - 20
    return None if fraction < -1 or fraction == 0 or fraction > 9 else fraction


def _fast_shape(units: NDArray[Any], length: int, zone: int) -> tuple[NDArray[np.bool_], NDArray[np.int64]] | None:
    """(matches, UTC ns) for rows of one length and zone width (1: ``Z``, 6: ``±hh:mm``); None: no such shape."""
    fraction = _fraction_digits(length, zone)
    if fraction is None:
        return None
    digits = list(_DATE_DIGITS) + [20 + i for i in range(max(fraction, 0))]
    if zone == 6:
        digits += [length - 5, length - 4, length - 2, length - 1]
    ok = ((units[:, digits] - 48) <= 9).all(axis=1)  # unsigned: anything below "0" wraps round
    ok &= (units[:, 4] == ord("-")) & (units[:, 7] == ord("-"))
    ok &= (units[:, 10] == ord("T")) | (units[:, 10] == ord(" "))
    ok &= (units[:, 13] == ord(":")) & (units[:, 16] == ord(":"))
    if fraction > 0:
        ok &= units[:, 19] == ord(".")
    if zone == 1:
        ok &= units[:, length - 1] == ord("Z")
    else:
        sign_char = units[:, length - 6]
        ok &= ((sign_char == ord("+")) | (sign_char == ord("-"))) & (units[:, length - 3] == ord(":"))
    # Non-digits were rejected above; their garbage values below are masked by ``ok``.
    year = _pair(units, 0) * 100 + _pair(units, 2)
    month, day = _pair(units, 5), _pair(units, 8)
    hour, minute, second = _pair(units, 11), _pair(units, 14), _pair(units, 17)
    ok &= (year >= _FIRST_YEAR) & (year <= _LAST_YEAR) & (month >= 1) & (month <= 12)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    slot = np.where(ok, (year - _FIRST_YEAR) * 12 + month - 1, 0)
    ok &= (day >= 1) & (day <= _MONTH_DAYS[slot])
    seconds = (_MONTH_START[slot] + day - 1) * 86_400 + hour * 3600 + minute * 60 + second
    if zone == 6:
        offset_hours, offset_minutes = _pair(units, length - 5), _pair(units, length - 2)
        ok &= (offset_hours <= 23) & (offset_minutes <= 59)
        offset = offset_hours * 3600 + offset_minutes * 60
        seconds -= np.where(units[:, length - 6] == ord("-"), -offset, offset)
    ns = seconds * _NS
    if fraction > 0:
        ns += _fraction_ns(units, fraction)
    return ok, ns


def has_zone(text: NDArray[Any]) -> NDArray[np.bool_]:
    """Per value of a ``str`` array: ``YYYY-MM-DD?hh:mm…`` ending in ``Z``, ``±hh:mm`` or ``±hhmm``."""
    part = np.strings.slice

    def sign(at: int) -> Any:
        char = part(text, at, at + 1 if at != -1 else None)
        return (char == "+") | (char == "-")

    dated = (np.strings.str_len(text) >= 16) & (part(text, 4, 5) == "-") & np.isin(part(text, 10, 11), ["T", " "])
    zulu = np.isin(part(text, -1, None), ["Z", "z"])
    colon = sign(-6) & (part(text, -3, -2) == ":") & np.strings.isdigit(part(text, -2, None))
    compact = sign(-5) & np.strings.isdigit(part(text, -4, None))
    result: NDArray[np.bool_] = dated & (zulu | colon | compact)
    return result


def parse_reference(values: Any) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """The reference reading of any values: (UTC ns, state) with NaT (int64 min) where not valid."""
    objects = np.asarray(values, dtype=object)
    absent = np.asarray(pd.isna(objects), dtype=bool) if objects.size else np.zeros(0, dtype=bool)
    text = np.strings.strip(np.asarray(np.where(absent, "", objects), dtype=str).reshape(-1))
    candidates = text.astype(object)
    candidates[~has_zone(text)] = None
    parsed = pd.to_datetime(pd.Series(candidates, dtype=object), utc=True, format="ISO8601", errors="coerce")
    # A year outside datetime64[ns] (1677-2262) is invalid like any other unreadable value, not a crash.
    in_range = (parsed >= pd.Timestamp.min.tz_localize("UTC")) & (parsed <= pd.Timestamp.max.tz_localize("UTC"))
    parsed = parsed.where(in_range)
    ns = np.asarray(parsed.astype("datetime64[ns, UTC]").dt.tz_localize(None).to_numpy().view(np.int64))
    state = np.where(text == "", EMPTY, np.where(ns != NAT, VALID, INVALID)).astype(np.int8)
    return ns, state


def _parse_chunk(objects: NDArray[Any], ns: NDArray[np.int64], fast: NDArray[np.bool_]) -> None:
    """Fill ``ns``/``fast`` for the rows of ``objects`` that have a fast shape (a cache-sized chunk)."""
    count = len(objects)
    units, lengths = _code_units(objects)
    for length in np.flatnonzero(np.bincount(lengths, minlength=_WIDTH + 1)[:_WIDTH]):
        for zone in (1, 6):  # "…Z" or "…±hh:mm": both may share a length
            if _fraction_digits(int(length), zone) is None:
                continue
            zulu = units[:, length - 1] == ord("Z")
            members = (lengths == length) & (zulu if zone == 1 else ~zulu)
            size = int(np.count_nonzero(members))
            if size * 4 >= count:  # a common shape: work on the whole chunk, no gathering
                ok, shape_ns = _fast_shape(units, int(length), zone)  # type: ignore[misc]
                ok &= members
                np.copyto(ns, shape_ns, where=ok)
                fast |= ok
            elif size:
                rows = np.flatnonzero(members)
                ok, shape_ns = _fast_shape(units[rows], int(length), zone)  # type: ignore[misc]
                ns[rows[ok]] = shape_ns[ok]
                fast[rows[ok]] = True


def parse_iso_utc_ns(values: Any) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """(UTC epoch nanoseconds, state) per value; state VALID, EMPTY or INVALID, ns NaT unless VALID.

    ``values``: a sequence, numpy array or pandas Series of text (None/NaN = missing = EMPTY), or
    Arrow text (a pyarrow string array, or a Series backed by one: read in C++ as far as possible).
    Source: DOMAIN.md §7 (timestamps ISO-8601 with a zone; a naive one is refused).
    """
    from di_ops.pipelines.sla.arrow_text import arrow_strings

    text = arrow_strings(values)
    if text is not None:
        return _parse_arrow(text)
    objects = np.asarray(values, dtype=object).reshape(-1)
    count = len(objects)
    ns = np.full(count, NAT, dtype=np.int64)
    state = np.full(count, INVALID, dtype=np.int8)
    fast = np.zeros(count, dtype=bool)
    # Chunks small enough for the CPU cache: the fast path reads the byte matrix column by column.
    for start in range(0, count, _CHUNK):
        end = start + _CHUNK
        _parse_chunk(objects[start:end], ns[start:end], fast[start:end])
    state[fast] = VALID
    rest = np.flatnonzero(~fast)
    if rest.size:  # missing values are empty without more ado; the reference reads the others
        absent = np.asarray(pd.isna(objects[rest]), dtype=bool)
        state[rest[absent]] = EMPTY
        rest = rest[~absent]
    if rest.size:
        ns[rest], state[rest] = parse_reference(objects[rest])
    return ns, state


def _arrow_cast(text: Any) -> Any | None:
    """Arrow's ISO-8601 cast to UTC nanoseconds, or None when Arrow refuses a value of ``text``."""
    import pyarrow as pa

    try:
        return text.cast(pa.timestamp("ns", "UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _confirmed(text: Any, cast: Any) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """(rows whose Arrow reading stands, their UTC ns) for a block Arrow cast; see the module docstring.

    Arrow reads the time as ``hh``, ``hh:mm``, ``hh:mm:ss`` or with 1-9 fraction digits (never
    10 characters without seconds) and the zone as ``Z``, ``±hh``, ``±hhmm`` or ``±hh:mm``, so
    for a value it read, the last bytes and the length tell the shape: with ``Z`` the time has
    seconds iff the value has ≥ 20 characters; ``±hh:mm`` (":" 3 from the end) needs ≥ 25,
    ``±hhmm`` (the sign 5 from the end) ≥ 24; a ``±hh`` zone has neither mark and is refused.
    """
    from di_ops.pipelines.sla.arrow_text import offsets_and_bytes

    ns = np.asarray(cast.to_numpy(zero_copy_only=False)).view(np.int64)
    offsets, data = offsets_and_bytes(text)
    end = offsets[1:]
    lengths = end - offsets[:-1]
    ok = (ns >= _ARROW_FIRST) & (ns <= _ARROW_LAST) & (lengths >= 20)  # NaT (null) is below the range
    if not ok.any():
        return ok, ns
    # Positions before the buffer (short or null values) are clipped; such rows are not ok anyway.
    zulu = np.take(data, end - 1, mode="clip") == _ZULU
    other = np.flatnonzero(ok & ~zulu)
    if other.size:
        tail, width = end[other], lengths[other]
        sign = np.take(data, tail - 5, mode="clip")
        with_colon = (np.take(data, tail - 3, mode="clip") == _COLON) & (width >= 25)
        ok[other] = with_colon | (((sign == _PLUS) | (sign == _MINUS)) & (width >= 24))
    return ok, ns


def _parse_arrow(text: Any) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """:func:`parse_iso_utc_ns` of an Arrow string array (see the module docstring)."""
    from di_ops.pipelines.sla.arrow_text import valid_mask

    count = len(text)
    whole = _arrow_cast(text)
    if whole is not None:  # the usual case: one cast, one check, no copies
        read, ns = _confirmed(text, whole)
    else:
        ns = np.full(count, NAT, dtype=np.int64)
        read = np.zeros(count, dtype=bool)
        for start in range(0, count, _ARROW_BLOCK):
            block = text.slice(start, _ARROW_BLOCK)
            cast = _arrow_cast(block)
            if cast is not None:
                read[start : start + len(block)], ns[start : start + len(block)] = _confirmed(block, cast)
    state = np.zeros(count, dtype=np.int8)  # VALID
    if read.all():
        return ns, state
    present = valid_mask(text)
    unread = ~read
    state[unread] = INVALID
    state[~present] = EMPTY
    ns = np.where(unread, NAT, ns)  # a new array: Arrow's own buffer is read-only
    rest = np.flatnonzero(unread & present)
    if rest.size:  # the values Arrow did not settle, as Python strings: the object paths
        ns[rest], state[rest] = parse_iso_utc_ns(text.take(rest).to_numpy(zero_copy_only=False))
    return ns, state
