"""The high-water mark of ``incident_watch``: which export files are new or changed since the last run.

Source: docs/pipelines/incident_watch.md (High-water mark). One row per export file name in
``sla_watch_files``: its size, mtime (ns) and SHA-256 digest when it was last read. A file whose
name, size and mtime_ns are unchanged is not opened at all (no hashing); one whose size or mtime
changed is hashed, and only a different digest makes it *changed* (a ``touch`` reads nothing). The
mark is written in the same transaction as the cases read from the file
(:func:`di_ops.pipelines.sla.watch_state.apply_file`), so a run killed halfway reads the file again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from di_ops.db.tables_sla import sla_watch_files

CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 (hex) of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def marks(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every stored mark by file name."""
    with engine.connect() as conn:
        return {row["file_name"]: dict(row) for row in conn.execute(select(sla_watch_files)).mappings()}


def changed_files(engine: Engine, files: Iterable[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(changed, touched): files to read (new, or a new digest) and files whose digest is unchanged but
    whose size/mtime moved (only their mark is refreshed). Each item: path, name, size, mtime_ns, digest."""
    known = marks(engine)
    changed, touched = [], []
    for path in files:
        stat = path.stat()
        mark = known.get(path.name)
        if mark is not None and mark["size"] == stat.st_size and mark["mtime_ns"] == stat.st_mtime_ns:
            continue  # name + size + mtime_ns unchanged: not even hashed
        item = {"path": str(path), "name": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        item["digest"] = file_digest(path)
        (touched if mark is not None and mark["digest"] == item["digest"] else changed).append(item)
    return changed, touched


def record_mark(conn: Connection, item: dict[str, Any], *, rows: int, run_id: str, seen_at: Any) -> None:
    """Insert or replace the mark of one file (inside the caller's transaction)."""
    from sqlalchemy import delete, insert

    conn.execute(delete(sla_watch_files).where(sla_watch_files.c.file_name == item["name"]))
    conn.execute(
        insert(sla_watch_files).values(
            file_name=item["name"],
            size=item["size"],
            mtime_ns=item["mtime_ns"],
            digest=item["digest"],
            rows=rows,
            run_id=run_id,
            seen_at=seen_at,
        )
    )
