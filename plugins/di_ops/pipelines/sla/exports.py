"""Read TAC case exports (CSV with a header row, JSON lines, or a JSON array) into one frame of strings.

Every value stays a string (or missing) here: typing and validation are the data-quality
step's job (:mod:`di_ops.pipelines.sla.quality`), which must see the values as exported.
Each row carries ``_source_file`` and ``_line`` (1-based line in its file; CSV: the header
is line 1) so a quarantined row can be found again.

The files are read with Arrow (pyarrow's multithreaded CSV reader; JSON through Python's
``json``) and the text stays in Arrow buffers: the frame's columns are pandas ``str`` columns
backed by Arrow string arrays in the reader's blocks (missing = NaN), which
:mod:`di_ops.pipelines.sla.cases` reads with pyarrow's compute functions (:mod:`~di_ops.pipelines.sla.instants`,
:mod:`~di_ops.pipelines.sla.labels`) instead of as a million Python strings. The label-like columns
(:data:`DICTIONARY_COLUMNS`: customer, region, impact, urgency, severity, escalation contact
fields — few distinct values each) are dictionary-encoded by the CSV reader as it parses them
and arrive as pandas Categoricals of the exported strings (nothing stripped or normalised yet).
An empty value is missing. pandas and pyarrow are imported inside functions.

A file with no content at all (0 bytes, or only a byte-order mark and white space) is not an
export: reading it raises :class:`EmptyExport` naming the file. A file with a header but no rows
(a JSON ``[]``) reads as no rows; :func:`files_without_rows` names such files for the report.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from di_ops.pipelines.sla.cases import ESCALATION_COLUMNS

SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")
SOURCE_FILE = "_source_file"
LINE = "_line"
DICTIONARY_COLUMNS = frozenset(
    {"customer_id", "region", "impact", "affected_share", "urgency", "severity", *ESCALATION_COLUMNS}
)


BLANK_PROBE = 4096  # a file this small is read whole to see if it holds anything but a BOM and white space


class EmptyExport(ValueError):
    """An export file with no content at all: not even a header row."""


def is_blank(file: Path) -> bool:
    """True when ``file`` is 0 bytes, or (up to :data:`BLANK_PROBE` bytes) only a UTF-8 BOM and white space."""
    size = file.stat().st_size
    if size == 0:
        return True
    if size > BLANK_PROBE:
        return False
    return not file.read_bytes().removeprefix(b"\xef\xbb\xbf").strip()


def blank_files(files: list[Path]) -> list[Path]:
    return [f for f in files if is_blank(f)]


def files_without_rows(frame: Any, files: list[Path]) -> list[Path]:
    """The files of ``files`` that gave no row to ``frame`` (a header only, or a JSON ``[]``)."""
    seen = set(frame[SOURCE_FILE].dropna().unique()) if SOURCE_FILE in frame.columns else set()
    return [f for f in files if f.name not in seen]


def export_files(path: Path) -> list[Path]:
    """The export files at ``path`` (a file, or every export file of a folder, sorted by name)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    raise FileNotFoundError(f"no TAC case export at {path}")


def exports_digest(files: list[Path]) -> str:
    """First 16 hex digits of SHA-256 over the files' names and bytes (same exports → same digest)."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _json_records(file: Path) -> tuple[list[dict[str, Any]], list[int]]:
    text = file.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        records = json.loads(stripped)
        return records, list(range(1, len(records) + 1))
    records, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            records.append(json.loads(line))
            lines.append(number)
    return records, lines


def _as_text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _text_type(name: str) -> Any:
    """The Arrow type a column is read as: dictionary-encoded strings for the labels, else strings."""
    import pyarrow as pa

    return pa.dictionary(pa.int32(), pa.string()) if name in DICTIONARY_COLUMNS else pa.string()


def _csv_table(file: Path) -> Any:
    """A CSV file as an Arrow table of strings (header names stripped; an empty value is null)."""
    import csv

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    with file.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    names = [name.strip() for name in header]
    try:
        table = pa_csv.read_csv(
            file,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, encoding="utf-8"),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: _text_type(name) for name in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:  # e.g. a row with fewer fields: pandas reads it with the rest missing
        return _pandas_csv_table(file, names)
    return table  # in the reader's blocks: a column is combined where a reader needs one array (no copy of all)


def _pandas_csv_table(file: Path, names: list[str]) -> Any:
    """The forgiving reading of a CSV file Arrow refuses (pandas' C parser), as the same Arrow table."""
    import pandas as pd
    import pyarrow as pa

    frame = pd.read_csv(file, dtype=object, keep_default_na=False, encoding="utf-8-sig")
    columns = {
        name: pa.array([None if v is None or v != v or v == "" else str(v) for v in frame.iloc[:, i]], pa.string())
        for i, name in enumerate(names)
    }
    return pa.table({name: array.cast(_text_type(name)) for name, array in columns.items()})


def _json_table(file: Path) -> tuple[Any, list[int]]:
    """A JSON-lines or JSON-array file as an Arrow table of strings (columns in order of appearance)."""
    import pyarrow as pa

    records, lines = _json_records(file)
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    table = pa.table(
        {
            name: pa.array([_as_text(record.get(name)) or None for record in records], type=pa.string()).cast(
                _text_type(name)
            )
            for name in columns
        }
    )
    return table, lines


def read_table(file: Path) -> Any:
    """One export file as an Arrow table of strings plus ``_source_file`` and ``_line``.

    Raises :class:`EmptyExport` (naming the file) when it holds nothing, not even a header.
    """
    import numpy as np
    import pyarrow as pa

    if is_blank(file):
        raise EmptyExport(f"TAC case export {file} is empty ({file.stat().st_size} bytes, not even a header row)")

    if file.suffix.lower() == ".csv":
        table = _csv_table(file)
        lines: Any = np.arange(2, table.num_rows + 2, dtype=np.int64)
    else:
        table, lines = _json_table(file)
    table = table.append_column(SOURCE_FILE, pa.repeat(pa.scalar(file.name, pa.string()), table.num_rows))
    return table.append_column(LINE, pa.array(lines, type=pa.int64()))


def read_file(file: Path) -> Any:
    """One export file as a DataFrame of strings (Arrow-backed ``str`` columns; missing/empty values NaN)."""
    return read_table(file).to_pandas()


def read_exports(path: Path) -> tuple[Any, list[Path]]:
    """Every export at ``path`` concatenated (columns are the union; missing ones are missing)."""
    import pyarrow as pa

    files = export_files(path)
    if not files:
        raise FileNotFoundError(f"no .csv/.json/.jsonl TAC case export in {path}")
    tables = [read_table(f) for f in files]
    table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    names = list(dict.fromkeys(name for t in tables for name in t.column_names))  # in order of appearance
    return table.select(names).to_pandas(), files
