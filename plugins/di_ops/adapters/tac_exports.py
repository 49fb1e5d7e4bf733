"""Read TAC case exports (CSV with a header row, JSON lines, or a JSON array) into one frame of strings.

Every value stays a string (or missing) here: typing and validation are the data-quality
step's job (:mod:`di_ops.adapters.gx_quality`), which must see the values as exported.
Each row carries ``_source_file`` and ``_line`` (1-based line in its file; CSV: the header
is line 1) so a quarantined row can be found again. pandas is imported inside functions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")
SOURCE_FILE = "_source_file"
LINE = "_line"


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


def read_file(file: Path) -> Any:
    """One export file as a DataFrame of strings (missing/empty values as None)."""
    import pandas as pd

    if file.suffix.lower() == ".csv":
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame.columns = [str(c).strip() for c in frame.columns]
        lines = range(2, len(frame) + 2)
    else:
        records, lines = _json_records(file)
        frame = pd.DataFrame.from_records([{k: _as_text(v) for k, v in r.items()} for r in records])
    frame = frame.astype(object).where(frame.notna(), None)
    frame = frame.replace({"": None})
    frame[SOURCE_FILE] = file.name
    frame[LINE] = list(lines)
    return frame


def read_exports(path: Path) -> tuple[Any, list[Path]]:
    """Every export at ``path`` concatenated (columns are the union; missing ones are None)."""
    import pandas as pd

    files = export_files(path)
    if not files:
        raise FileNotFoundError(f"no .csv/.json/.jsonl TAC case export in {path}")
    frames = [read_file(f) for f in files]
    frame = pd.concat(frames, ignore_index=True, sort=False).astype(object)
    frame = frame.where(frame.notna(), None)
    return frame, files
