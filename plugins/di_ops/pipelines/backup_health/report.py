"""The backup health run's outputs: ops-DB rows, the managers' report, series.csv and summary.json.

``report.html`` (template ``backup_health_report.html.j2``) goes fleet -> region -> customer with the
fresh / missed / overdue / at-risk counts and the DR-ready share, and the trend over the last
``trend_nights`` nights read from ``backup_health_nights`` (the latest run of each night). ``summary.json``
carries ``dag_id``, ``run_id`` and ``as_of`` (the console's reports hub reads them). Source: DOMAIN.md §3;
docs/pipelines/backup_health.md.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from di_ops.core.csv_safe import SafeDictWriter
from di_ops.core.templating import render
from di_ops.db.tables_backup_health import backup_health_nights, backup_health_series
from di_ops.rules.backup_health import fleet_counts

CSV_FIELDS = (
    "customer_id",
    "cluster_id",
    "application",
    "region",
    "freshness",
    "at_risk",
    "good_backups",
    "latest_good_at",
    "latest_backup_id",
    "restore_ready",
    "missing_components",
    "checksums_verified",
    "archive_readable",
    "dr_ready",
    "checksum_failures",
    "backups",
    "reasons",
)
BAR_PX = 120


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)  # atomic: a crashed writer never leaves half a file


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def store_rows(engine: Engine, dag_id: str, run_id: str, as_of: datetime, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace this run's series rows and its line of fleet counts (a rerun overwrites, never adds)."""
    counts = fleet_counts(rows)
    with engine.begin() as conn:
        for table in (backup_health_series, backup_health_nights):
            conn.execute(delete(table).where(table.c.dag_id == dag_id, table.c.run_id == run_id))
        if rows:
            conn.execute(
                insert(backup_health_series),
                [
                    {
                        "dag_id": dag_id,
                        "run_id": run_id,
                        "as_of": as_of,
                        **{k: r[k] for k in ("customer_id", "cluster_id", "application", "region", "freshness")},
                        **{k: r[k] for k in ("at_risk", "good_backups", "latest_backup_id", "restore_ready")},
                        **{k: r[k] for k in ("checksums_verified", "archive_readable", "dr_ready", "reasons")},
                        "latest_good_at": _when(r["latest_good_at"]),
                    }
                    for r in rows
                ],
            )
        conn.execute(
            insert(backup_health_nights).values(dag_id=dag_id, run_id=run_id, as_of=as_of, night=as_of.date(), **counts)
        )


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "n/a"


def _with_share(counts: Mapping[str, int]) -> dict[str, Any]:
    return {**counts, "dr_share": _share(counts["dr_ready"], counts["series"])}


def trend(engine: Engine, as_of: datetime, nights: int) -> list[dict[str, Any]]:
    """Fleet counts of the last ``nights`` nights up to ``as_of`` (the latest run of each night)."""
    t = backup_health_nights
    since = (as_of - timedelta(days=nights - 1)).date()
    with engine.connect() as conn:
        found = conn.execute(
            select(t).where(t.c.night >= since, t.c.night <= as_of.date()).order_by(t.c.night, t.c.as_of)
        ).mappings()
        latest = {row["night"]: dict(row) for row in found}
    out = []
    for night in sorted(latest):
        row = latest[night]
        counts = {k: int(row[k]) for k in ("series", "fresh", "missed", "overdue", "at_risk", "dr_ready")}
        fresh_px = round(BAR_PX * counts["fresh"] / counts["series"]) if counts["series"] else 0
        out.append(
            {
                "night": night.isoformat(),
                **_with_share(counts),
                "fresh_share": _share(counts["fresh"], counts["series"]),
                "fresh_px": fresh_px,
                "gap_px": BAR_PX - fresh_px if counts["series"] else 0,
            }
        )
    return out


def _needs_attention(row: Mapping[str, Any]) -> bool:
    return row["freshness"] != "fresh" or bool(row["at_risk"]) or not row["dr_ready"]


def report_context(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fleet, regions (with their customers and the series needing attention) for the template."""
    by_region: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_region[row["region"]].append(row)
    regions = []
    for region in sorted(by_region):
        region_rows = by_region[region]
        by_customer: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in region_rows:
            by_customer[row["customer_id"]].append(row)
        regions.append(
            {
                "region": region,
                "counts": _with_share(fleet_counts(region_rows)),
                "customers": [
                    {"customer_id": c, "counts": _with_share(fleet_counts(by_customer[c]))} for c in sorted(by_customer)
                ],
                "attention": [r for r in region_rows if _needs_attention(r)],
            }
        )
    return {"fleet": _with_share(fleet_counts(rows)), "regions": regions}


def write_series_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeDictWriter(fh, fieldnames=list(CSV_FIELDS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **row,
                    "missing_components": " ".join(row["missing_components"]),
                    "reasons": "; ".join(row["reasons"]),
                }
            )
    tmp.replace(path)


def render_report(
    rows: Sequence[Mapping[str, Any]],
    *,
    info: Mapping[str, Any],
    trend_rows: Sequence[Mapping[str, Any]],
    settings: Any,
    notes: Sequence[str] = (),
) -> str:
    return render(
        "backup_health_report.html.j2",
        title=f"Backup health {info['as_of'][:10]}",
        as_of=info["as_of"],
        run_id=info["run_id"],
        store=info["store"],
        evening=settings.evening.strftime("%H:%M"),
        min_good=settings.min_good,
        trend_nights=settings.trend_nights,
        trend=list(trend_rows),
        notes=list(notes),
        **report_context(rows),
    )
