"""Task bodies of the ``backup_retention`` DAG: prepare, scan, quality gate, plan, guard, recheck.

Deletion and verification are in :mod:`di_ops.pipelines.retention.delete`. Every task reads
and writes the run folder ``<data>/retention/runs/<run id>/`` (catalog batches, GX results and
Data Docs, plan.json/plan.csv, summary.json), so a retry or a cleared task sees the same inputs
and overwrites the same files. Source: DOMAIN.md §3; docs/pipelines/retention.md.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from di_ops.core.refusals import permanent_failure
from di_ops.core.request import unknown_customers_refusal
from di_ops.core.run_folders import run_folder as folder_for_run
from di_ops.core.settings import backup_store, under_data_dir
from di_ops.core.tasks import resolve_as_of
from di_ops.integrations.backup_scan import CatalogRecord, list_customers, scan
from di_ops.integrations.backup_store import BackupStore, store_from_connection
from di_ops.integrations.opsdb import ops_engine, pin_snapshot, snapshot_rows
from di_ops.pipelines.retention.approval import APPROVAL_TASK_ID, approval_decision, rejection_text
from di_ops.pipelines.retention.plan import (  # noqa: F401 - re-exported for the DAG and tests
    PLAN_FIELDS,
    basic_checks,
    build_plan,
    guard_text,
    guard_verdict,
    held_series,
    hold_what_retention_keeps,
    read_json,
    write_catalog_errors,
    write_json,
    write_plan,
    write_plan_reports,
)
from di_ops.pipelines.retention.settings import RetentionSettings, retention_settings

log = logging.getLogger(__name__)

NO_APPROVAL_TASK_ID = "no_approval_needed"


def real_clock() -> datetime:
    """The wall clock the retention invariant is judged by (never ``as_of``); tests pass their own."""
    return datetime.now(UTC)


def cfg() -> RetentionSettings:
    return retention_settings()


def run_folder(run_id: str) -> Path:
    """``<data>/<reports_folder>/<run folder name>`` (:func:`di_ops.core.run_folders.run_folder_name`)."""
    return folder_for_run(under_data_dir(cfg().reports_folder), run_id)


def open_store() -> BackupStore:
    """The store of the ``di_backup_store`` connection; a missing connection fails without retries."""
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    conn_id = backup_store().conn_id
    try:
        return store_from_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError) as exc:
        if isinstance(exc, AirflowRuntimeError) and "CONNECTION_NOT_FOUND" not in str(exc):
            raise
        raise permanent_failure(
            f"connection {conn_id} is not defined; e.g. AIRFLOW_CONN_{conn_id.upper()}="
            '\'{"conn_type": "fs", "extra": {"path": "/abs/backups"}}\''
        ) from exc


def scan_store(store: BackupStore, customers: Sequence[str], *, verify_checksums: bool = False) -> list[CatalogRecord]:
    """The shared scan (:mod:`di_ops.integrations.backup_scan`) with this pipeline's settings."""
    return scan(
        store,
        customers,
        verify_checksums=verify_checksums,
        tombstone_prefix=backup_store().tombstone_prefix,
        threads=cfg().scan_threads,
        max_manifest_bytes=cfg().scan_max_manifest_bytes,
    )


def batch_customers(customers: Sequence[str], batch_size: int, max_tasks: int) -> list[list[str]]:
    """Split into at most ``max_tasks`` batches of at least ``batch_size`` (the last may be smaller)."""
    if not customers:
        return []
    size = max(batch_size, math.ceil(len(customers) / max_tasks))
    return [list(customers[i : i + size]) for i in range(0, len(customers), size)]


# --- 0. prepare ---------------------------------------------------------------------------


def prepare_run(
    *,
    dag_id: str,
    run_id: str,
    as_of_param: str | None,
    logical_date: datetime | None,
    run_after: datetime | None,
    customers_param: Sequence[str] | None,
    verify_checksums: bool,
    dry_run: bool,
    started_at: datetime,
) -> dict[str, Any]:
    """Resolve as_of, pin the inventory snapshot, list the store's customers and batch them for the scan."""
    as_of = resolve_as_of(as_of_param, logical_date, run_after).astimezone(UTC)
    engine = ops_engine()
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    inventory_customers: set[str] = set()
    if snapshot is not None:
        inventory_customers = {row["customer_id"] for row in snapshot_rows(engine, snapshot)["customers"]}
    with open_store() as store:
        in_store = list_customers(store)
        label = store.label
    requested = sorted(set(customers_param)) if customers_param else None
    refusal = unknown_customers_refusal(requested, in_store, f"the backup store {label}")
    if refusal is not None:
        raise refusal
    selected = [c for c in in_store if requested is None or c in requested]
    settings = cfg()
    batches = batch_customers(selected, settings.scan_batch_size, settings.max_scan_tasks)
    folder = run_folder(run_id)
    info = {
        "dag_id": dag_id,
        "run_id": run_id,
        "run_dir": str(folder),
        "as_of": as_of.isoformat(),
        # the run's own instant when the as_of Param moved it (None: as_of is the run's own time)
        "run_time": None if not as_of_param else (logical_date or run_after).astimezone(UTC).isoformat(),
        "store": label,
        "snapshot_id": snapshot,
        "dry_run": dry_run,
        "verify_checksums": verify_checksums,
        "customers": selected,
        "in_store_not_in_inventory": sorted(set(in_store) - inventory_customers) if snapshot else [],
        "in_inventory_without_backups": sorted(inventory_customers - set(in_store)),
        "batches": [{"index": i, "customers": batch} for i, batch in enumerate(batches)],
    }
    catalog = folder / "catalog"
    if catalog.exists():  # a rerun of this run: batches may differ, so start the catalog afresh
        for stale in catalog.glob("batch-*.json"):
            stale.unlink()
    write_json(folder / "run.json", info)
    log.info("as_of %s, store %s: %d customers in %d scan batches", info["as_of"], label, len(selected), len(batches))
    return info


# --- 1. scan ------------------------------------------------------------------------------


def scan_batch(run_dir: str, batch: Mapping[str, Any], verify_checksums: bool) -> dict[str, Any]:
    """Scan one batch of customers into ``catalog/batch-NNNN.json``; bad manifests become catalog errors."""
    with open_store() as store:
        records = scan_store(store, batch["customers"], verify_checksums=verify_checksums)
    out = Path(run_dir) / "catalog" / f"batch-{int(batch['index']):04d}.json"
    write_json(out, [r.as_dict() for r in records])
    errors = [r for r in records if r.error]
    for record in errors:
        log.warning("catalog error %s: %s (series held)", record.path, record.error)
    return {"batch": batch["index"], "backups": len(records), "catalog_errors": len(errors)}


def load_catalog(run_dir: str | Path) -> list[CatalogRecord]:
    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    records: list[CatalogRecord] = []
    for batch in info["batches"]:
        path = folder / "catalog" / f"batch-{int(batch['index']):04d}.json"
        if not path.exists():
            raise permanent_failure(
                f"catalog batch {path.name} is missing: the scan of batch {batch['index']} did not finish"
            )
        records.extend(CatalogRecord(**row) for row in read_json(path))
    return records


# --- 2. data quality ----------------------------------------------------------------------


def quality_gate(run_dir: str) -> dict[str, Any]:
    """Run the GX gate on the catalog; failing series are held. Result + Data Docs land in the run folder."""
    from di_ops.pipelines.retention.quality import validate_catalog

    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    records = load_catalog(folder)
    as_of = datetime.fromisoformat(info["as_of"])
    outcome = validate_catalog(
        records, as_of, gx_root=under_data_dir(cfg().gx_folder), run_dir=folder, run_id=info["run_id"]
    )
    write_json(folder / "quality.json", outcome)
    log.info(
        "data quality: %s; %d series held, %d failing backups",
        "passed" if outcome["success"] else "FAILED",
        len(outcome["held"]),
        len(outcome["failures"]),
    )
    return {k: v for k, v in outcome.items() if k != "failures"}


# --- 3. plan ------------------------------------------------------------------------------


def plan_retention(run_dir: str, clock: Callable[[], datetime] = real_clock) -> dict[str, Any]:
    """Plan every backup, store the full plan in the ops DB and as plan.json + plan.csv, judge the guard.

    A prune the retention invariant forbids by ``clock`` (too young by the real clock, or one of the
    3 most recent good backups) becomes a hold with its reason, whatever ``as_of`` says.
    """
    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    as_of = datetime.fromisoformat(info["as_of"])
    records = load_catalog(folder)
    quality = read_json(folder / "quality.json")
    rows = build_plan(records, as_of, quality["held"])
    invariant_holds = hold_what_retention_keeps(rows, clock(), as_of)
    if invariant_holds:
        first = next(row for row in rows if row["held_by_invariant"])
        log.warning(
            "retention invariant: %d planned prunes held (e.g. %s: %s)",
            invariant_holds,
            first["path"],
            first["reasons"][0],
        )
    guard = guard_verdict(rows)
    counts = Counter(row["action"] for row in rows)
    engine = ops_engine()
    write_plan(engine, info["dag_id"], info["run_id"], as_of, rows)
    write_catalog_errors(engine, info["dag_id"], info["run_id"], quality["failures"], records)
    meta = {
        "run_id": info["run_id"],
        "as_of": info["as_of"],
        "store": info["store"],
        "counts": dict(counts),
        "held_series": quality["held"],
        "held_by_invariant": invariant_holds,
        "guard": guard,
    }
    write_plan_reports(folder, meta, rows)
    log.info(
        "plan: %s; guard %s", dict(counts), "TRIPPED: " + "; ".join(guard["reasons"]) if guard["tripped"] else "ok"
    )
    return {
        "counts": dict(counts),
        "guard": guard,
        "held_series": len(quality["held"]),
        "held_by_invariant": invariant_holds,
        "bytes_to_free": sum(r["size_bytes"] or 0 for r in rows if r["action"] == "prune"),
        "guard_text": guard_text(info, counts, guard),
    }


def choose_path(plan_summary: Mapping[str, Any], dry_run: bool) -> str:
    """The branch after planning: the approval when the guard tripped on a real run, else straight on."""
    return APPROVAL_TASK_ID if plan_summary["guard"]["tripped"] and not dry_run else NO_APPROVAL_TASK_ID


# --- 4b. re-check after approval ----------------------------------------------------------


def recheck_after_approval(
    run_dir: str, approval: Mapping[str, Any] | None, clock: Callable[[], datetime] = real_clock
) -> dict[str, Any]:
    """Re-scan and re-plan (same as_of) after the approval; approve deleting only what both plans prune.

    Writes ``approved.json`` only for a recorded Approve that names its user; anything else (the
    task marked success by hand: no response) is a Reject: ``approved.json`` is removed, nothing
    is deleted, and the reason goes to the log and ``approval.json``.
    """
    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    as_of = datetime.fromisoformat(info["as_of"])
    decision = approval_decision(approval)
    write_json(folder / "approval.json", decision)
    if decision["decision"] != "approve":
        (folder / "approved.json").unlink(missing_ok=True)  # a stale one from an earlier try must not count
        log.warning("%s", rejection_text(decision))
        return {"delete": 0, "dropped": 0, "approver": decision["approver"], "approval": decision}
    planned = read_json(folder / "plan.json")
    with open_store() as store:
        fresh_records = scan_store(store, info["customers"], verify_checksums=info["verify_checksums"])
    fresh_held = {**planned["held_series"], **held_series(basic_checks(fresh_records, as_of), fresh_records)}
    fresh_rows = build_plan(fresh_records, as_of, fresh_held)
    hold_what_retention_keeps(fresh_rows, clock(), as_of)
    fresh = {row["path"]: row for row in fresh_rows}
    delete_paths, dropped = [], []
    for row in planned["backups"]:
        if row["action"] != "prune":
            continue
        now = fresh.get(row["path"])
        if now is None:
            dropped.append({"path": row["path"], "why": "gone since the plan"})
        elif now["action"] != "prune" or now["backup_id"] != row["backup_id"]:
            dropped.append({"path": row["path"], "why": f"fresh plan says {now['action']}: {now['reasons'][0]}"})
        else:
            delete_paths.append(row["path"])
    approved = {
        "approver": decision["approver"],
        "approval": {**decision, "response": dict(approval or {})},
        "delete": delete_paths,
        "dropped": dropped,
    }
    write_json(folder / "approved.json", approved)
    log.info(
        "re-check after approval: %d to delete, %d dropped (changed since the plan)", len(delete_paths), len(dropped)
    )
    return {
        "delete": len(delete_paths),
        "dropped": len(dropped),
        "approver": decision["approver"],
        "approval": decision,
    }
