"""di_ops.pipelines.sla.instants reads a column exactly as di_ops.rules.timestamps.parse_instant reads each value.

Agreement: a value is valid in bulk iff ``parse_instant(value.strip())`` accepts it, with the same
instant (microseconds); blank or missing is empty. Checked on a table of edge cases and on random
text, for object columns and for Arrow-backed columns as the export reader gives them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.pipelines.sla import instants
from di_ops.pipelines.sla.instants import EMPTY, INVALID, NAT, VALID, python_whitespace, read_instants
from di_ops.rules.timestamps import parse_instant

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expected(value: Any) -> tuple[int, int]:
    """(state, UTC ns) by the rule: parse_instant of the stripped text; blank or missing → empty."""
    if value is None or (isinstance(value, float) and value != value):
        return EMPTY, NAT
    if not isinstance(value, str):
        return INVALID, NAT
    if not value.strip():
        return EMPTY, NAT
    try:
        moment = parse_instant(value.strip())
    except ValueError:
        return INVALID, NAT
    delta = moment - EPOCH
    return VALID, (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def arrow_column(values: list[Any]) -> pd.Series:
    """The values as a column read from an export: Arrow-backed text, missing as null."""
    text = [v if isinstance(v, str) else None for v in values]
    return pd.Series(pd.arrays.ArrowStringArray(pa.array(text, type=pa.string())))


def assert_agrees(values: list[Any]) -> None:
    want = [expected(v) for v in values]
    for column in (
        pd.Series(values, dtype=object),
        arrow_column(values) if all(v is None or isinstance(v, str) for v in values) else None,
    ):
        if column is None:
            continue
        ns, state = read_instants(column)
        assert [(int(s), int(n)) for s, n in zip(state, ns, strict=True)] == want, values


EDGES: list[tuple[Any, int]] = [
    ("2025-01-01T00:00:00Z", VALID),
    ("2025-01-01T00:00:00+00:00", VALID),
    ("2025-01-01T00:00:00-00:00", VALID),
    ("2025-01-01T10:00:00+05:45", VALID),
    ("2025-01-01T00:00:00+23:59", VALID),
    ("2025-01-01T00:00:00+0100", VALID),  # offset without its colon
    ("2025-01-01 10:00:00Z", VALID),  # space separator
    ("2025-01-01t10:00:00z", VALID),  # lower-case t and z (RFC 3339)
    ("2025-06-30T23:59:59.123456789Z", VALID),  # 9 fraction digits: truncated to microseconds
    ("2025-06-30T23:59:59.5-03:30", VALID),
    ("1969-12-31T23:59:59.999999999Z", VALID),  # before the epoch: truncation floors
    ("2024-02-29T12:00:00Z", VALID),
    ("1700-01-01T00:00:00Z", VALID),
    ("1700-01-01T00:00:00+23:59", VALID),  # the UTC instant is in 1699: the year given counts
    ("2200-12-31T23:59:59-23:59", VALID),  # the UTC instant is in 2201
    ("  2025-01-01T00:00:00Z ", VALID),  # surrounding spaces are stripped
    ("\u30002025-01-01T00:00:00Z\u0085\t", VALID),  # any of Python's white space
    ("\u200b2025-01-01T00:00:00Z", INVALID),  # a zero-width space is not white space
    ("2025-01-01T00:00:00", INVALID),  # naive
    ("2025-01-01", INVALID),  # date only
    ("2025-01-01T10:00Z", INVALID),  # seconds left out
    ("2025-01-01T24:00:00Z", INVALID),
    ("2025-01-01T23:59:60Z", INVALID),  # second 60
    ("2025-04-31T00:00:00Z", INVALID),  # 31 April
    ("2023-02-29T00:00:00Z", INVALID),
    ("2025-13-01T00:00:00Z", INVALID),
    ("2025-01-01T00:00:00+24:00", INVALID),
    ("2025-01-01T00:00:00+05:60", INVALID),
    ("2025-01-01T00:00:00+01", INVALID),  # offset hours alone
    ("2025-01-01T00:00:00.Z", INVALID),  # a dot without digits
    ("2025-01-01T00:00:00.1234567890Z", INVALID),  # 10 fraction digits
    ("1699-12-31T23:59:59Z", INVALID),
    ("2201-01-01T00:00:00Z", INVALID),
    ("9999-01-01T00:00:00Z", INVALID),  # beyond nanosecond columns too
    ("0000-01-01T00:00:00Z", INVALID),
    ("２０２５-01-01T00:00:00Z", INVALID),  # full-width digits
    ("2025-01-01T00:00:00\u0663Z", INVALID),  # an Arabic-Indic digit
    ("20250101T000000Z", INVALID),  # basic format
    ("2025-W01-1T00:00:00Z", INVALID),  # week date
    ("2025-01-01T00:00:00Z\n2025", INVALID),
    ("", EMPTY),
    ("   ", EMPTY),
    ("\u3000\t", EMPTY),
    (None, EMPTY),
]


@pytest.mark.parametrize(("value", "state"), EDGES)
def test_edge_cases_agree_with_the_rule(value: Any, state: int) -> None:
    assert expected(value)[0] == state  # the table itself says what the rule says
    assert_agrees([value])


def test_the_whole_table_as_one_column_also_in_small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [v for v, _ in EDGES] * 3 + ["2025-01-01T00:00:00Z"] * 5
    for block in (instants.BLOCK, 7, 1):  # a block Arrow refuses is read value by value by the rule
        monkeypatch.setattr(instants, "BLOCK", block)
        assert_agrees(values)


def test_non_text_values_and_empty_columns() -> None:
    ns, state = read_instants(pd.Series(["2025-01-01T00:00:00Z", 7, float("nan"), pd.NA, b"x"], dtype=object))
    assert state.tolist() == [VALID, INVALID, EMPTY, EMPTY, INVALID]
    assert ns.tolist()[1:] == [NAT] * 4
    for empty in ([], pd.Series([], dtype=object), arrow_column([])):
        ns, state = read_instants(empty)
        assert ns.shape == state.shape == (0,)


def test_python_whitespace_is_every_character_str_strip_removes() -> None:
    everything = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert python_whitespace() == everything


def test_a_typical_column_is_read_in_bulk_without_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Well-formed values never reach the per-value reading (it would be slow on a million rows)."""
    calls: list[int] = []
    original = instants._by_rule  # noqa: SLF001 - our own module
    monkeypatch.setattr(instants, "_by_rule", lambda values: calls.append(len(values)) or original(values))
    values = ["2025-01-01T00:00:00Z", "2025-07-01 10:00:00.5+02:00", None, "", "x", "2025-01-01T00:00:00"] * 50
    assert_agrees(values)
    assert calls == []


# --- properties ---------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2200, 12, 31, 23, 59, 59))
offsets = st.one_of(st.sampled_from(["Z", "z"]), st.integers(-23 * 60 - 59, 23 * 60 + 59))


def render(moment: datetime, fraction_digits: int, offset: str | int, separator: str, colon: bool = True) -> str:
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    if moment.year < 1000:  # strftime pads years only on some platforms
        text = f"{moment.year:04d}" + text[text.index("-") :]
    if fraction_digits:
        text += "." + f"{moment.microsecond:06d}{moment.microsecond % 1000:03d}"[:fraction_digits]
    if isinstance(offset, str):
        return text + offset
    sign = "-" if offset < 0 else "+"
    return f"{text}{sign}{abs(offset) // 60:02d}{':' if colon else ''}{abs(offset) % 60:02d}"


@settings(max_examples=300, deadline=None)
@given(moments, st.integers(0, 9), offsets, st.sampled_from(["T", "t", " "]), st.booleans())
@example(datetime(2024, 2, 29, 23, 59, 59, 999999), 9, -(3 * 60 + 30), "T", True)
@example(datetime(1700, 1, 1), 0, 23 * 60 + 59, "T", False)
def test_well_formed_values_agree(
    moment: datetime, digits: int, offset: str | int, separator: str, colon: bool
) -> None:
    text = render(moment, digits, offset, separator, colon)
    assert expected(text)[0] == VALID
    assert_agrees([text])


ALPHABET = "0123456789-:T Z+.zt,/x\u3000\u00a0\u0663é\n"


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
    return draw(st.sampled_from([text, f" {text}", f"{text} ", f"\u3000{text}\t"]))


@settings(max_examples=400, deadline=None)
@given(st.lists(mutated(), min_size=1, max_size=40))
@example(["2025-01-01T00:00:00Z", "2025-01-01T00:00:00.1234+01:00", "2025-02-30T00:00:00+01:00", None])
def test_any_text_agrees_with_the_rule(values: list[Any]) -> None:
    assert_agrees(values)
    for value in values:  # alone, a value Arrow reads is never settled by the rule's fallback
        assert_agrees([value])
