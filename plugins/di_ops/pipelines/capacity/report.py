"""The capacity report: ``report.html`` (managers), ``summary.json`` and ``capacity.csv`` in the run folder.

``summary.json`` keys: ``dag_id``, ``run_id``, ``as_of``, ``snapshot_id``, ``warning_percent``, ``counts``
(per verdict), ``customers`` (per customer: verdict and per measure configured / declared / allowed /
percent / expansion / verdict / reason), ``expansions_used``, ``expansion_problems`` and ``alerts``.
``capacity.csv`` has one row per customer and measure (cells neutralised by ``core.csv_safe``).
Deterministic: the same audit gives the same bytes. Source: DOMAIN.md §8; docs/pipelines/capacity.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from di_ops.core.csv_safe import SafeDictWriter
from di_ops.core.templating import render

CSV_COLUMNS = (
    "customer_id",
    "name",
    "partner",
    "region",
    "customer_verdict",
    "measure",
    "configured",
    "declared",
    "allowed",
    "percent",
    "expansion",
    "verdict",
    "reason",
)


def csv_rows(audit: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **{k: c[k] for k in ("customer_id", "name", "partner", "region")},
            "customer_verdict": c["verdict"],
            **{k: f[k] for k in ("measure", "configured", "declared", "allowed", "expansion", "verdict", "reason")},
            "percent": "" if f["percent"] is None else f"{f['percent']:.1f}",
        }
        for c in audit["customers"]
        for f in c["figures"]
    ]


def write_report(folder: Path, audit: dict[str, Any], alerts: dict[str, Any]) -> dict[str, Any]:
    """Write the three files; returns their paths and the counts."""
    summary = {**audit, "alerts": alerts}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True), encoding="utf-8")
    with (folder / "capacity.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = SafeDictWriter(fh, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_rows(audit))
    html = render(
        "capacity_report.html.j2",
        title=f"Capacity audit as of {audit['as_of']}",
        audit=audit,
        counts=list(audit["counts"].items()),
        alerts=alerts,
    )
    (folder / "report.html").write_text(html, encoding="utf-8")
    return {
        "report": str(folder / "report.html"),
        "summary": str(folder / "summary.json"),
        "csv": str(folder / "capacity.csv"),
        "counts": audit["counts"],
    }
