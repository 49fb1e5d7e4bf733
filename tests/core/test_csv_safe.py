"""CSV formula injection (OWASP "CSV Injection"): text cells that start a formula get a leading quote."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from di_ops.core.csv_safe import FORMULA_STARTS, SafeDictWriter, SafeWriter, neutralise_cell, neutralise_frame


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x.example","y")', '\'=HYPERLINK("http://x.example","y")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-5", "'-5"),  # text that looks like a number is text: quoted
        ("=", "'="),  # the formula character alone
        # the other side: no formula character first
        ("C-001", "C-001"),
        ("a=1", "a=1"),
        (" =1+1", " =1+1"),  # a leading space: no formula in Excel or LibreOffice
        ("'=1+1", "'=1+1"),  # already quoted
        ("\n=1+1", "\n=1+1"),  # LF is not in OWASP's list
        ("", ""),
        ("2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z"),
        # non-text cells are left as they are: numbers stay numbers
        (-5, -5),
        (-0.25, -0.25),
        (0, 0),
        (True, True),
        (None, None),
    ],
)
def test_neutralise_cell(value: object, expected: object) -> None:
    assert neutralise_cell(value) == expected
    assert type(neutralise_cell(value)) is type(expected)


@given(st.text())
@example("=1+1")
@example("-")
def test_a_neutralised_text_cell_never_starts_a_formula_and_only_gains_the_quote(value: str) -> None:
    out = neutralise_cell(value)
    assert not out.startswith(FORMULA_STARTS)
    assert out in (value, "'" + value)
    assert (out != value) == value.startswith(FORMULA_STARTS)
    assert neutralise_cell(out) == out  # idempotent


def test_writers_quote_formula_text_and_keep_numbers() -> None:
    buffer = io.StringIO()
    writer = SafeWriter(buffer, lineterminator="\n")
    writer.writerow(["case_id", "delta"])
    writer.writerows([["=HYPERLINK(1)", -3], ["C-1", -0.5]])
    assert buffer.getvalue() == "case_id,delta\n'=HYPERLINK(1),-3\nC-1,-0.5\n"

    buffer = io.StringIO()
    dict_writer = SafeDictWriter(buffer, fieldnames=["case_id", "n"], lineterminator="\n")
    dict_writer.writeheader()
    dict_writer.writerows([{"case_id": "@SUM(A1)", "n": -1}, {"case_id": "+1", "n": 2}])
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [["case_id", "n"], ["'@SUM(A1)", "-1"], ["'+1", "2"]]


def test_a_frame_keeps_its_numeric_columns_and_quotes_its_text_columns() -> None:
    frame = pd.DataFrame(
        {
            "case_id": pd.Series(["=1+1", "C-1", None], dtype="str"),
            "customer_id": pd.Series(["-C", "C", "C"], dtype="category"),
            "note": pd.Series(["@x", 3, None], dtype=object),  # mixed: only the text is touched
            "ratio": [-0.5, 0.25, math.nan],
            "n": [-3, 0, 4],
            "at_risk": [True, False, True],
        }
    )
    out = neutralise_frame(frame)
    assert out["case_id"].tolist()[:2] == ["'=1+1", "C-1"] and pd.isna(out["case_id"].iloc[2])
    assert out["customer_id"].tolist() == ["'-C", "C", "C"]
    assert out["note"].tolist()[:2] == ["'@x", 3]
    assert out["ratio"].dtype == frame["ratio"].dtype and out["ratio"].iloc[0] == -0.5
    assert out["n"].tolist() == [-3, 0, 4] and out["n"].dtype == frame["n"].dtype
    assert out["at_risk"].tolist() == [True, False, True]
    assert frame["case_id"].iloc[0] == "=1+1"  # the caller's frame is not changed


CELLS = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, width=32),
    st.text(alphabet="=+-@\t\r'ab1 ", max_size=4),
)


@given(st.lists(st.tuples(CELLS, st.text(alphabet="=+-'x", max_size=3)), min_size=1, max_size=30))
def test_the_vectorised_frame_agrees_with_cell_by_cell(rows: list[tuple[object, str]]) -> None:
    """Mixed object columns and categoricals (also with colliding "=x" / "'=x" categories): the frame
    form changes exactly the cells neutralise_cell changes, and nothing else."""
    frame = pd.DataFrame({"mixed": [r[0] for r in rows], "label": pd.Categorical([r[1] for r in rows])})
    out = neutralise_frame(frame)

    def cells(values: list[object]) -> list[object]:
        return ["<missing>" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]

    for column in ("mixed", "label"):
        expected = [neutralise_cell(v) for v in frame[column].astype(object)]
        assert cells(list(out[column].astype(object))) == cells(expected), column
