"""What the quality step writes besides GX's result: quarantine records, report examples, per-customer defects.

Source: DOMAIN.md §7 (escalation requirements); docs/pipelines/sla.md (Data quality, Writes). The
rows come from the per-rule masks of :class:`di_ops.pipelines.sla.quality.QualityResult`; every text
written to a CSV is neutralised against formula injection (:mod:`di_ops.core.csv_safe`). pandas and
numpy are imported inside functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def examples(prepared: Any, mask: Any, column: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` failing rows of a rule (``mask`` None: every row) as report examples."""
    import numpy as np

    positions = np.arange(min(limit, len(prepared))) if mask is None else np.flatnonzero(mask)[:limit]
    rows = prepared.iloc[positions]
    values = rows[column] if column in prepared.columns else [None] * len(rows)
    case_ids = rows["case_id"] if "case_id" in prepared.columns else [None] * len(rows)
    return [
        {
            "case_id": None if missing(case_id) else str(case_id),
            "source_file": str(source),
            "line": int(line),
            "value": None if missing(value) else str(value),
        }
        for case_id, source, line, value in zip(case_ids, rows["_source_file"], rows["_line"], values, strict=True)
    ]


def missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value)) if not isinstance(value, list | dict) else False


def escalation_by_customer(prepared: Any, masks: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Escalation defects per customer and rule (partner-side defects managers track); no id → "(none)"."""
    out: dict[str, dict[str, int]] = {}
    if "customer_id" not in prepared.columns or not len(prepared):
        return out
    customers = prepared["customer_id"]
    for name, mask in masks.items():
        failing = customers if mask is None else customers[mask]
        for customer, count in failing.value_counts(dropna=False).items():
            counts = out.setdefault("(none)" if missing(customer) else str(customer), {})
            counts[name] = counts.get(name, 0) + int(count)
    return dict(sorted(out.items()))


def blocking_mask(rule_list: list[Any], masks: dict[str, Any], total: int) -> Any:
    """Rows failing any blocking rule (a rule whose mask is None failed every row): the quarantine.

    Shared by ``sla_audit`` and ``incident_watch`` (the same rules quarantine the same rows)."""
    import numpy as np

    from di_ops.pipelines.sla.suite import BLOCKING

    quarantined = np.zeros(total, dtype=bool)
    for rule in rule_list:
        if rule.section != BLOCKING:
            continue
        mask = masks.get(rule.name, np.zeros(total, dtype=bool))
        quarantined |= True if mask is None else mask
    return quarantined


def quarantine_records(raw: Any, quarantined: Any, masks: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per quarantined row, in file and line order: its reasons (the blocking rules it fails) and raw values."""
    import numpy as np

    positions = np.flatnonzero(quarantined)
    if not positions.size:
        return []
    reasons = [[name for name, mask in masks.items() if mask is None or mask[p]] for p in positions]
    rows = raw.iloc[positions]
    exported = [c for c in raw.columns if not str(c).startswith("_")]
    values = rows[exported].astype(object).to_dict("records")
    order = sorted(range(len(positions)), key=lambda i: (str(rows["_source_file"].iat[i]), int(rows["_line"].iat[i])))
    return [
        {
            "source_file": str(rows["_source_file"].iat[i]),
            "line": int(rows["_line"].iat[i]),
            "case_id": text(values[i].get("case_id")),
            "reasons": reasons[i],
            "raw": {k: text(v) for k, v in values[i].items()},
        }
        for i in order
    ]


def text(value: Any) -> str | None:
    return None if missing(value) else str(value)


def write_quarantine_csv(path: Path, records: list[dict[str, Any]]) -> None:
    from di_ops.core.csv_safe import SafeWriter

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh, lineterminator="\n")
        writer.writerow(["source_file", "line", "case_id", "reasons", "row"])
        for r in records:
            writer.writerow(
                [r["source_file"], r["line"], r["case_id"] or "", ";".join(r["reasons"]), json.dumps(r["raw"])]
            )
