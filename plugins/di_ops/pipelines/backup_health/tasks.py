"""Task bodies of the ``backup_health`` DAG: prepare, assess, quality, report, alert.

Every task reads and writes the run folder ``<data>/<reports_folder>/<run folder>/`` (run.json,
series.json, quality.json, report.html, series.csv, summary.json, gx/), so a retry or a cleared task
sees the same inputs and overwrites the same files. Source: DOMAIN.md §3; docs/pipelines/backup_health.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from di_ops.core.refusals import permanent_failure
from di_ops.core.request import unknown_customers_refusal
from di_ops.core.run_folders import run_folder as folder_for_run
from di_ops.core.settings import backup_store, pipelines, policy, under_data_dir
from di_ops.core.tasks import resolve_as_of
from di_ops.integrations.backup_store import BackupStore, store_from_connection
from di_ops.integrations.opsdb import latest_snapshot_id, ops_engine, pin_snapshot, snapshot_rows
from di_ops.pipelines.backup_health.assess import SeriesRef, assess
from di_ops.pipelines.backup_health.report import read_json, write_json
from di_ops.pipelines.backup_health.settings import BackupHealthSettings, backup_health_settings
from di_ops.rules.common import region_zone

log = logging.getLogger(__name__)


def cfg() -> BackupHealthSettings:
    return backup_health_settings()


def run_folder(run_id: str) -> Path:
    """``<data>/<reports_folder>/<run folder name>`` (:func:`di_ops.core.run_folders.run_folder_name`)."""
    return folder_for_run(under_data_dir(cfg().reports_folder), run_id)


def open_store() -> BackupStore:
    """The store of the shared ``backup_store`` connection; a missing connection fails without retries."""
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    conn_id = backup_store().conn_id
    try:
        return store_from_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError) as exc:
        if isinstance(exc, AirflowRuntimeError) and "CONNECTION_NOT_FOUND" not in str(exc):
            raise
        raise permanent_failure(f"connection {conn_id} is not defined (see docs/pipelines/backup_health.md)") from exc


def series_refs(snapshot: dict[str, list[dict[str, Any]]], customers: Sequence[str] | None) -> list[SeriesRef]:
    """Every cluster (one application each) of the snapshot's customers, in its region's zone (an SME
    cluster in its publishing region's, as its window: DOMAIN.md §1)."""
    regions = {row["customer_id"]: row["region"] for row in snapshot["customers"]}
    wanted = set(customers) if customers else None
    refs = []
    for row in sorted(snapshot["clusters"], key=lambda r: (r["customer_id"], r["cluster_id"])):
        if (wanted is not None and row["customer_id"] not in wanted) or row["customer_id"] not in regions:
            continue
        region = row.get("sme_publishing_region") or regions[row["customer_id"]]
        refs.append(SeriesRef(row["customer_id"], row["cluster_id"], row["application"], region, region_zone(region)))
    return refs


def prepare_run(
    *,
    dag_id: str,
    run_id: str,
    as_of_param: str | None,
    logical_date: datetime | None,
    run_after: datetime | None,
    customers_param: Sequence[str] | None,
    dry_run: bool,
    started_at: datetime,
) -> dict[str, Any]:
    """Resolve as_of, pin the inventory snapshot, check the customers Param; write ``run.json``."""
    as_of = resolve_as_of(as_of_param, logical_date, run_after).astimezone(UTC)
    engine = ops_engine()
    if latest_snapshot_id(engine) is None:  # retryable: inventory_sync may still be loading (both queued at once)
        raise RuntimeError("the ops DB holds no inventory snapshot yet; run inventory_sync first")
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    if snapshot is None:  # this run was pinned before any snapshot existed: a retry cannot change that
        raise permanent_failure(f"run {run_id} was pinned to no snapshot; trigger a new run")
    rows = snapshot_rows(engine, snapshot)
    requested = sorted(set(customers_param)) if customers_param else None
    refusal = unknown_customers_refusal(requested, [r["customer_id"] for r in rows["customers"]], "the inventory")
    if refusal is not None:
        raise refusal
    refs = series_refs(rows, requested)
    folder = run_folder(run_id)
    info = {
        "dag_id": dag_id,
        "run_id": run_id,
        "run_dir": str(folder),
        "as_of": as_of.isoformat(),
        "snapshot_id": snapshot,
        "dry_run": dry_run,
        "customers": requested,
        "series": [[r.customer_id, r.cluster_id, r.application, r.region] for r in refs],
    }
    write_json(folder / "run.json", info)
    log.info("as_of %s, snapshot %s: %d series", info["as_of"], snapshot, len(refs))
    return {"run_dir": str(folder), "series": len(refs), "as_of": info["as_of"]}


def assess_run(run_dir: str) -> dict[str, Any]:
    """Scan the store once and judge every series into ``series.json``."""
    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    refs = [SeriesRef(c, k, a, r, region_zone(r)) for c, k, a, r in info["series"]]
    with open_store() as store:
        rows, totals = assess(
            store,
            refs,
            datetime.fromisoformat(info["as_of"]),
            cfg(),
            good_statuses=policy().retention.good_statuses,
            tombstone_prefix=backup_store().tombstone_prefix,
        )
        label = store.label
    write_json(folder / "series.json", {"store": label, "totals": totals.__dict__, "rows": rows})
    log.info(
        "%d series from %d backups (%d unreadable); checksums verified on %d backups, %d bytes",
        len(rows),
        totals.backups,
        totals.catalog_errors,
        totals.verified_backups,
        totals.verified_bytes,
    )
    return {"series": len(rows), "backups": totals.backups, "verified_backups": totals.verified_backups}


def quality_run(run_dir: str) -> dict[str, Any]:
    """The GX suite over the per-series table (findings, not a failure); ``quality.json``."""
    from di_ops.pipelines.backup_health.quality import validate_series

    folder = Path(run_dir)
    rows = read_json(folder / "series.json")["rows"]
    outcome = validate_series(rows, min_good=cfg().min_good, gx_root=under_data_dir(cfg().gx_folder), run_dir=folder)
    write_json(folder / "quality.json", outcome)
    return {"success": outcome["success"], "checks": outcome["checks"]}


def report_run(run_dir: str) -> dict[str, Any]:
    """Ops-DB rows, then report.html (with the trend), series.csv and summary.json."""
    from di_ops.pipelines.backup_health.report import render_report, store_rows, trend, write_series_csv
    from di_ops.rules.backup_health import fleet_counts

    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    assessed = read_json(folder / "series.json")
    quality = read_json(folder / "quality.json")
    rows, totals = assessed["rows"], assessed["totals"]
    as_of = datetime.fromisoformat(info["as_of"])
    engine = ops_engine()
    store_rows(engine, info["dag_id"], info["run_id"], as_of, rows)
    notes = []
    if totals["not_in_inventory"]:
        notes.append(f"{len(totals['not_in_inventory'])} series in the store are not in the inventory snapshot.")
    if not quality["success"]:
        notes.append("Great Expectations: " + ", ".join(f"{k} {v}" for k, v in quality["checks"].items() if v) + ".")
    html = render_report(
        rows,
        info={**info, "store": assessed["store"]},
        trend_rows=trend(engine, as_of, cfg().trend_nights),
        settings=cfg(),
        notes=notes,
    )
    (folder / "report.html").write_text(html, encoding="utf-8")
    write_series_csv(folder / "series.csv", rows)
    summary = {
        "dag_id": info["dag_id"],
        "run_id": info["run_id"],
        "as_of": info["as_of"],
        "snapshot_id": info["snapshot_id"],
        "store": assessed["store"],
        "counts": fleet_counts(rows),
        "backups": totals["backups"],
        "catalog_errors": totals["catalog_errors"],
        "verified_backups": totals["verified_backups"],
        "verified_bytes": totals["verified_bytes"],
        "quality_success": quality["success"],
        "report": str(folder / "report.html"),
    }
    write_json(folder / "summary.json", summary)
    return summary["counts"]


def alert_run(run_dir: str, dry_run: bool, now: datetime | None = None) -> dict[str, Any]:
    """Alert the operator per series that became overdue or not DR-ready (pipelines.yaml: alerts.to)."""
    from di_ops.pipelines.backup_health.alerts import send_alerts

    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    rows = read_json(folder / "series.json")["rows"]
    alerts = pipelines().alerts
    outcome = send_alerts(
        ops_engine(),
        rows,
        dag_id=info["dag_id"],
        run_id=info["run_id"],
        as_of=datetime.fromisoformat(info["as_of"]),
        report=str(folder / "report.html"),
        to=alerts.to,
        dry_run=dry_run or bool(info["dry_run"]),
        now=now or datetime.now(UTC),
        conn_id=alerts.smtp_conn_id,
    )
    write_json(folder / "alerts.json", outcome)
    return outcome["alerts"]
