"""Approved expansions: ``<data>/capacity/expansions.csv`` (docs/pipelines/capacity.md, "Expansions file").

Columns: ``customer_id``, ``knowledge_workers``, ``workspace_devices`` (the new approved totals; either
may be empty), ``approved_by``, ``approved_at`` (date-time with a zone), ``change_reference`` (the TAC
request / change that approved it). Source: DOMAIN.md §8 (growth beyond the declared numbers needs a
TAC request and an expansion plan before the users/devices are configured).

A row that does not read (no zone, no approver, neither number, an unknown customer) is *reported* in
the run's report and never raises an allowed number: a bad row cannot hide a breach.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from di_ops.rules.capacity import MEASURES, Expansion
from di_ops.rules.timestamps import parse_instant

COLUMNS = ("customer_id", "knowledge_workers", "workspace_devices", "approved_by", "approved_at", "change_reference")


def _number(value: str | None, column: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{column} must be a whole number >= 0, got {text!r}")
    return int(text)


def _expansion(record: dict[str, Any]) -> Expansion:
    text = {k: str(v or "").strip() for k, v in record.items() if k is not None}
    for column in ("customer_id", "approved_by", "approved_at", "change_reference"):
        if not text.get(column):
            raise ValueError(f"{column} is empty")
    numbers = {m: _number(text.get(m), m) for m in MEASURES}
    if all(v is None for v in numbers.values()):
        raise ValueError("neither knowledge_workers nor workspace_devices is given")
    return Expansion(
        customer_id=text["customer_id"],
        approved_by=text["approved_by"],
        approved_at=parse_instant(text["approved_at"], what="approved_at"),
        change_reference=text["change_reference"],
        **numbers,
    )


def read_expansions(path: Path, known_customers: Iterable[str]) -> tuple[list[Expansion], list[dict[str, Any]]]:
    """The approved expansions of ``path`` and the rows that were not read (line, reason, raw text)."""
    if not path.is_file():
        return [], []
    known = set(known_customers)
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [{"line": 1, "reason": f"{path.name}: missing columns {', '.join(missing)}", "raw": ""}]
    expansions: list[Expansion] = []
    problems: list[dict[str, Any]] = []
    for record in reader:
        raw = ",".join(str(v or "") for k, v in record.items() if k is not None)[:500]
        try:
            expansion = _expansion(record)
        except ValueError as exc:
            problems.append({"line": reader.line_num, "reason": str(exc).splitlines()[0], "raw": raw})
            continue
        if expansion.customer_id not in known:
            problems.append(
                {"line": reader.line_num, "reason": f"unknown customer {expansion.customer_id!r}", "raw": raw}
            )
            continue
        expansions.append(expansion)
    return expansions, problems
