"""TAC case exports: CSV (with BOM), JSON lines and JSON arrays read as strings with their file and line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from di_ops.pipelines.sla.exports import (
    BLANK_PROBE,
    LINE,
    SOURCE_FILE,
    EmptyExport,
    blank_files,
    export_files,
    exports_digest,
    files_without_rows,
    is_blank,
    read_exports,
)


def test_csv_jsonl_and_json_array_are_read_as_strings_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("\ufeffcase_id, region ,affected_share\nA-1,EMEA,0.3\nA-2,,\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        '{"case_id": "B-1", "affected_share": 0.8}\n\n{"case_id": "B-2", "region": null}\n'
    )
    (tmp_path / "c.json").write_text(json.dumps([{"case_id": "C-1", "region": "AUS", "extra": {"x": 1}}]))
    (tmp_path / "notes.txt").write_text("ignored")
    frame, files = read_exports(tmp_path)
    assert [f.name for f in files] == ["a.csv", "b.jsonl", "c.json"]
    rows = {r["case_id"]: r for r in frame.to_dict("records")}
    assert rows["A-1"]["region"] == "EMEA" and rows["A-1"]["affected_share"] == "0.3"
    assert pd.isna(rows["A-2"]["region"])  # empty → missing
    assert rows["B-1"]["affected_share"] == "0.8"  # numbers stay text until the quality step
    assert pd.isna(rows["B-2"]["region"])
    assert rows["C-1"]["extra"] == '{"x": 1}'
    assert [(rows[k][SOURCE_FILE], rows[k][LINE]) for k in ("A-1", "A-2", "B-1", "B-2", "C-1")] == [
        ("a.csv", 2),
        ("a.csv", 3),
        ("b.jsonl", 1),
        ("b.jsonl", 3),
        ("c.json", 1),
    ]


def test_a_single_file_and_the_digest(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("case_id\nX-1\n")
    assert export_files(path) == [path]
    first = exports_digest([path])
    assert first == exports_digest([path]) and len(first) == 16
    path.write_text("case_id\nX-2\n")
    assert exports_digest([path]) != first


def test_a_missing_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no TAC case export"):
        export_files(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        read_exports(tmp_path)  # an empty folder


def test_text_stays_in_arrow_buffers_and_only_empty_is_missing(tmp_path: Path) -> None:
    from di_ops.pipelines.sla.labels import arrow_strings

    (tmp_path / "a.csv").write_text(
        'case_id,note,region\nA-1,"two\nlines",NA\nA-2,"",null\nA-3, ,"EMEA"\n', encoding="utf-8"
    )
    (tmp_path / "b.jsonl").write_text('{"case_id": "B-1", "note": "", "region": true}\n')
    frame, _ = read_exports(tmp_path)
    for column in ("case_id", "note", SOURCE_FILE):
        assert arrow_strings(frame[column]) is not None, column
    assert isinstance(frame["region"].dtype, pd.CategoricalDtype)  # a label: dictionary-encoded as it is read
    # a record per line: a quoted newline is kept in its value (and, as before, not counted)
    assert frame[LINE].tolist() == [2, 3, 4, 1]
    assert frame["note"].tolist()[0] == "two\nlines" and frame["note"].isna().tolist() == [False, True, False, True]
    assert frame["region"].tolist()[:3] == ["NA", "null", "EMEA"] and frame["region"].tolist()[3] == "true"
    assert frame["note"].tolist()[2] == " "  # blanks are the quality step's business (stripped there)


def test_a_short_row_is_read_with_the_rest_missing(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("case_id,region,severity\nA-1,EMEA,S3\nA-2,AMER\nA-3,,S4\n", encoding="utf-8")
    frame, _ = read_exports(tmp_path)
    assert frame["case_id"].tolist() == ["A-1", "A-2", "A-3"]
    assert frame["severity"].isna().tolist() == [False, True, False]
    assert frame["region"].isna().tolist() == [False, False, True]
    assert frame[LINE].tolist() == [2, 3, 4]


@pytest.mark.parametrize(
    ("content", "blank"),
    [
        (b"", True),
        (b"\xef\xbb\xbf", True),  # a byte-order mark only
        (b" \r\n\n\t", True),
        (b"case_id\n", False),  # a header: not blank (no rows, see files_without_rows)
        (b"[]", False),
        (b"\n" * (BLANK_PROBE + 1), False),  # too long to read whole: the reader decides
    ],
)
def test_blank_files_are_named_by_the_reader(tmp_path: Path, content: bytes, blank: bool) -> None:
    file = tmp_path / "cases.csv"
    file.write_bytes(content)
    assert is_blank(file) is blank
    if blank:
        with pytest.raises(EmptyExport, match=rf"{re.escape(str(file))} is empty \({len(content)} bytes"):
            read_exports(tmp_path)
        assert blank_files([file]) == [file]


def test_a_zero_byte_json_export_is_named_too(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("case_id\nC-1\n")
    (tmp_path / "b.jsonl").write_bytes(b"")
    with pytest.raises(EmptyExport, match=r"b\.jsonl is empty \(0 bytes, not even a header row\)"):
        read_exports(tmp_path)


def test_files_without_rows_names_header_only_exports(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("case_id,customer_id\nC-1,X\n")
    (tmp_path / "b.csv").write_text("case_id,customer_id\n")
    (tmp_path / "c.json").write_text("[]")
    (tmp_path / "d.jsonl").write_text('{"case_id": "C-2"}\n')
    frame, files = read_exports(tmp_path)
    assert len(frame) == 2
    assert [f.name for f in files_without_rows(frame, files)] == ["b.csv", "c.json"]
