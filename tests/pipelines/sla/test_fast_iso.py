"""di_ops.pipelines.sla.fast_iso: the fast ISO-8601 reader agrees with the reference reading and with datetime.fromisoformat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.pipelines.sla import fast_iso
from di_ops.pipelines.sla.fast_iso import EMPTY, INVALID, NAT, VALID, parse_iso_utc_ns, parse_reference


def ns_of(moment: datetime) -> int:
    return int(pd.Timestamp(moment).as_unit("ns").value)


def utc(*args: int, ns: int = 0) -> int:
    return ns_of(datetime(*args, tzinfo=UTC)) + ns  # type: ignore[misc]


TABLE: list[tuple[Any, int, int | None]] = [
    ("2025-01-01T00:00:00Z", VALID, utc(2025, 1, 1)),
    ("2025-01-01T00:00:00+00:00", VALID, utc(2025, 1, 1)),
    ("2025-01-01T00:00:00-00:00", VALID, utc(2025, 1, 1)),
    ("2025-01-01T10:00:00+05:45", VALID, utc(2025, 1, 1, 4, 15)),  # Nepal
    ("2025-01-01T10:00:00-03:30", VALID, utc(2025, 1, 1, 13, 30)),  # Newfoundland
    ("2025-01-01T10:00:00+14:00", VALID, utc(2024, 12, 31, 20)),  # Kiribati
    ("2025-01-01T00:00:00+23:59", VALID, utc(2024, 12, 31, 0, 1)),
    ("2025-01-01 10:00:00Z", VALID, utc(2025, 1, 1, 10)),  # space for T
    ("2025-06-30T23:59:59.5Z", VALID, utc(2025, 6, 30, 23, 59, 59, ns=500_000_000)),
    ("2025-06-30T23:59:59.123+02:00", VALID, utc(2025, 6, 30, 21, 59, 59, ns=123_000_000)),
    ("2025-06-30T23:59:59.123456Z", VALID, utc(2025, 6, 30, 23, 59, 59, ns=123_456_000)),
    ("2025-06-30T23:59:59.123456789Z", VALID, utc(2025, 6, 30, 23, 59, 59, ns=123_456_789)),
    ("2025-06-30T23:59:59.1234+01:00", VALID, utc(2025, 6, 30, 22, 59, 59, ns=123_400_000)),
    ("2024-02-29T12:00:00Z", VALID, utc(2024, 2, 29, 12)),  # leap day
    ("2000-02-29T12:00:00Z", VALID, utc(2000, 2, 29, 12)),  # 400-year leap day
    ("1969-12-31T23:59:59.999999999Z", VALID, -1),  # before the epoch
    ("1700-01-01T00:00:00Z", VALID, utc(1700, 1, 1)),
    ("2200-12-31T23:59:59Z", VALID, utc(2200, 12, 31, 23, 59, 59)),
    ("2025-01-01T00:00:00+0100", VALID, utc(2024, 12, 31, 23)),  # compact offset: the reference path
    ("  2025-01-01T00:00:00Z ", VALID, utc(2025, 1, 1)),  # blanks around: the reference path
    ("2025-01-01T00:00:00", INVALID, None),  # naive: refused, not guessed
    ("2025-01-01", INVALID, None),
    ("2025-01-01T00:00:00z", INVALID, None),
    ("2023-02-29T00:00:00Z", INVALID, None),  # not a leap year
    ("1900-02-29T00:00:00Z", INVALID, None),
    ("2025-04-31T00:00:00Z", INVALID, None),
    ("2025-13-01T00:00:00Z", INVALID, None),
    ("2025-00-10T00:00:00Z", INVALID, None),
    ("2025-01-00T00:00:00Z", INVALID, None),
    ("2025-01-01T24:00:00Z", INVALID, None),
    ("2025-01-01T00:60:00Z", INVALID, None),
    ("2025-01-01T00:00:60Z", INVALID, None),
    ("2025-01-01T00:00:00+24:00", INVALID, None),
    ("2025-01-01T00:00:00+05:60", INVALID, None),
    ("2025-01-01T00:00:00*05:00", INVALID, None),
    ("2025-01-01T00:00:00.Z", VALID, utc(2025, 1, 1)),  # pandas reads an empty fraction: the reference path
    ("2025-01-01T00:00:00,5Z", INVALID, None),
    ("2025-01-01X00:00:00Z", INVALID, None),
    ("2025/01/01T00:00:00Z", INVALID, None),
    ("2025-01-01T00:00:0xZ", INVALID, None),
    ("02/03/2026 10:00 CET", INVALID, None),
    ("2025-01-01T00:00:00Zé", INVALID, None),
    ("None", INVALID, None),
    ("", EMPTY, None),
    ("   ", EMPTY, None),
    (None, EMPTY, None),
    (float("nan"), EMPTY, None),
]


@pytest.mark.parametrize(("value", "state", "expected"), TABLE)
def test_table(value: Any, state: int, expected: int | None) -> None:
    ns, states = parse_iso_utc_ns([value])
    assert int(states[0]) == state
    assert int(ns[0]) == (NAT if expected is None else expected)
    ref_ns, ref_states = parse_reference([value])
    assert (int(ns[0]), int(states[0])) == (int(ref_ns[0]), int(ref_states[0]))
    arrow_ns, arrow_states = parse_iso_utc_ns(arrow_column([value]))
    assert (int(arrow_ns[0]), int(arrow_states[0])) == (int(ns[0]), int(states[0]))


def arrow_column(values: list[Any]) -> pd.Series:
    """The values as a column read from an export: Arrow-backed text, missing as null."""
    import pyarrow as pa

    text = [v if isinstance(v, str) else None for v in values]
    return pd.Series(pd.arrays.ArrowStringArray(pa.array(text, type=pa.string())))


def test_arrow_columns_take_the_arrow_path_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = ["2025-01-01T10:00+01:00", "2025-01-01T10Z", "2025-01-01T10:00:00.123+05", "2025-01-01T10:00+0500"]
    shapes += [
        "2025-01-01T10+05:00",
        "2025-01-01T10:00:00.1234+0530",
        "2025-01-01T10:00:00.1-05:00",
        "9999-01-01T00:00Z",
    ]
    values = [v for v, _, _ in TABLE] * 3 + ["2025-01-01T00:00:00Z"] * 5 + shapes
    expected = parse_iso_utc_ns(values)
    for block in (fast_iso._ARROW_BLOCK, 5, 1):  # a refused block sends its values to the object paths
        monkeypatch.setattr(fast_iso, "_ARROW_BLOCK", block)
        ns, states = parse_iso_utc_ns(arrow_column(values))
        assert states.tolist() == expected[1].tolist() and ns.tolist() == expected[0].tolist()
    uniform = ["2025-01-01T00:00:00Z", None, "2025-01-01T00:00:00.5Z", "2025-01-01T10:00:00+05", "2025-07-01 10:00:00Z"]
    for values in (uniform, uniform[:2], uniform[::2], [None, None], []):  # one width, or nulls: bytes read in place
        ns, states = parse_iso_utc_ns(arrow_column(values))
        expected_ns, expected_states = parse_iso_utc_ns(values)
        assert states.tolist() == expected_states.tolist() and ns.tolist() == expected_ns.tolist()


def test_the_whole_table_as_one_column_also_through_a_series_and_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [v for v, _, _ in TABLE] * 3
    expected_states = [s for _, s, _ in TABLE] * 3
    expected = [NAT if e is None else e for _, _, e in TABLE] * 3
    for chunk in (fast_iso._CHUNK, 7, 1):
        monkeypatch.setattr(fast_iso, "_CHUNK", chunk)
        ns, states = parse_iso_utc_ns(pd.Series(values, dtype=object, index=range(5, 5 + len(values))))
        assert states.tolist() == expected_states
        assert ns.tolist() == expected


def test_non_ascii_values_keep_the_fast_path_for_the_others() -> None:
    values = ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00Zé", "ö", "2025-01-01T01:00:00+01:00"]
    ns, states = parse_iso_utc_ns(np.array(values, dtype=object))
    assert states.tolist() == [VALID, INVALID, INVALID, VALID]
    assert ns[0] == ns[3] == utc(2025, 1, 1)


def test_longer_than_any_fast_shape_goes_to_the_reference() -> None:
    value = "2025-01-01T00:00:00.123456789+01:00" + "0"  # would be truncated by a fixed-width array
    assert parse_iso_utc_ns([value])[1].tolist() == parse_reference([value])[1].tolist() == [INVALID]
    for longer in (value, value + "00:00", "2025-01-01T00:00:00Z" + " " * 30 + "x"):
        assert parse_iso_utc_ns([longer])[1].tolist() == [INVALID]
    ns, states = parse_iso_utc_ns([])
    assert ns.shape == states.shape == (0,)


@pytest.mark.parametrize(
    "values",
    [
        ["1600-01-01T00:00:00Z"],
        ["2300-01-01T00:00:00Z"],
        ["0000-01-01T00:00:00Z"],
        ["2000-01-01T00:00:00.0000000Z", "0000-01-01T00:00:00Z"],
    ],
)
def test_out_of_range_years_are_invalid_not_a_crash(values: list[str]) -> None:
    # outside datetime64[ns] (1677-2262): refused like any unreadable timestamp (the row is quarantined)
    ns, states = parse_iso_utc_ns(values)
    assert states.tolist()[-1] == INVALID
    assert parse_reference(values)[1].tolist() == states.tolist()


# --- properties ---------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(1701, 1, 2), max_value=datetime(2199, 12, 30))
offsets = st.one_of(st.just("Z"), st.integers(-23 * 60 - 59, 23 * 60 + 59))


def render(moment: datetime, fraction_digits: int, offset: str | int, separator: str) -> str:
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    if fraction_digits:
        text += "." + f"{moment.microsecond:06d}{moment.microsecond % 1000:03d}"[:fraction_digits]
    if offset == "Z":
        return text + "Z"
    assert isinstance(offset, int)
    sign = "-" if offset < 0 else "+"
    return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


@settings(max_examples=300, deadline=None)
@given(moments, st.integers(0, 9), offsets, st.sampled_from(["T", " "]))
@example(datetime(2024, 2, 29, 23, 59, 59, 999999), 9, -(3 * 60 + 30), "T")
@example(datetime(2025, 3, 30, 1, 0), 0, 5 * 60 + 45, "T")
def test_agrees_with_fromisoformat(moment: datetime, digits: int, offset: str | int, separator: str) -> None:
    text = render(moment, digits, offset, separator)
    expected = datetime.fromisoformat(text)  # Python keeps microseconds: digits beyond 6 are dropped
    ns, states = parse_iso_utc_ns([text])
    assert int(states[0]) == VALID
    assert int(ns[0]) // 1000 == ns_of(expected.astimezone(UTC)) // 1000
    naive = text.removesuffix("Z") if offset == "Z" else text[:-6]
    assert datetime.fromisoformat(naive).tzinfo is None and parse_iso_utc_ns([naive])[1].tolist() == [INVALID]


ALPHABET = "0123456789-:T Z+.zé,/tx"


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """Valid texts, then a few characters changed, inserted or dropped (or plain noise, or nothing)."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.none() | st.just("") | st.text(ALPHABET, max_size=40))
    text = render(draw(moments), draw(st.integers(0, 10)), draw(offsets), draw(st.sampled_from(["T", " ", "t"])))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        change = draw(st.integers(0, 2))
        char = draw(st.sampled_from(ALPHABET))
        text = text[:at] + char + text[at + 1 :] if change == 0 else text[:at] + char + text[at:]
        if change == 2:
            text = text[:at] + text[at + 2 :]
    return draw(st.sampled_from([text, f" {text}", f"{text} "]))


@settings(max_examples=300, deadline=None)
@given(st.lists(mutated(), min_size=1, max_size=40))
@example(["2025-01-01T00:00:00Z", "2025-01-01T00:00:00.1234+01:00", "2025-01-01T00:00:00+01:00"])
def test_fast_and_reference_agree_on_any_text(values: list[Any]) -> None:
    expected = parse_reference(values)
    ns, states = parse_iso_utc_ns(values)
    assert states.tolist() == expected[1].tolist()
    assert ns.tolist() == expected[0].tolist()
    arrow_ns, arrow_states = parse_iso_utc_ns(arrow_column(values))
    assert arrow_states.tolist() == expected[1].tolist()
    assert arrow_ns.tolist() == expected[0].tolist()


def test_a_fixed_offset_zone_reads_like_python() -> None:
    zone = timezone(timedelta(hours=5, minutes=45))
    moment = datetime(2026, 11, 27, 9, 30, 15, 250000, tzinfo=zone)
    ns, _ = parse_iso_utc_ns([moment.isoformat()])
    assert int(ns[0]) == ns_of(moment)
