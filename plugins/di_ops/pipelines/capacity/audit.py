"""``audit_capacity``: declared numbers (inventory), configured counts (UC admin API), approved expansions,
one verdict per customer (:mod:`di_ops.rules.capacity`), stored as the run's figures.

Source: DOMAIN.md §8; docs/pipelines/capacity.md. The run pins the inventory snapshot it uses
(``integrations.opsdb.pin_snapshot``), so a retry or rerun judges the same declarations. The audit is
written to ``audit.json`` in the run folder; later tasks read it from there.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from di_ops.core.refusals import permanent_failure
from di_ops.core.request import unknown_customers_refusal
from di_ops.core.run_folders import run_folder
from di_ops.db.tables_capacity import capacity_figures
from di_ops.db.tables_inventory import customer_declarations
from di_ops.pipelines.capacity.settings import capacity_settings
from di_ops.rules.capacity import MEASURES, CustomerCapacity, Measure, Verdict, judge_customer

log = logging.getLogger(__name__)
AUDIT_FILE = "audit.json"
VERDICT_ORDER: tuple[Verdict, ...] = ("breach", "warning", "within", "not_measured", "not_declared")


def _snapshot(engine: Engine, dag_id: str, run_id: str, as_of: datetime, started_at: datetime) -> str:
    from di_ops.integrations.opsdb import latest_snapshot_id, pin_snapshot

    if latest_snapshot_id(engine) is None:  # retryable: inventory_sync may simply not have run yet
        raise RuntimeError("the ops DB holds no inventory snapshot yet; run inventory_sync first")
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    if snapshot is None:
        raise permanent_failure(f"run {run_id} was pinned to no snapshot; trigger a new run")
    return snapshot


def declarations(engine: Engine, snapshot_id: str) -> dict[str, dict[Measure, int | None]]:
    """Declared numbers per customer of the snapshot (a snapshot stored before the gate existed: none)."""
    t = customer_declarations
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.snapshot_id == snapshot_id)).mappings()
        return {r["customer_id"]: {m: r[m] for m in MEASURES} for r in rows}


def configured_counts(customer_ids: list[str]) -> dict[str, dict[Measure, int] | None]:
    """``{customer_id: {measure: count}}`` from the admin API; None for a customer it does not know (404).

    A transient error (5xx, 429, no connection) is raised for the task to retry; any other error or an
    answer without whole numbers >= 0 is a :class:`~di_ops.core.refusals.PermanentFailure`.
    """
    from di_ops.integrations.uc_admin import UcAdminClient, UcAdminError, config_from_connection
    from di_ops.rules.capacity import CONFIGURED_NAME

    out: dict[str, dict[Measure, int] | None] = {}
    with UcAdminClient(config_from_connection()) as client:
        for customer_id in customer_ids:
            try:
                answer = client.capacity(customer_id)
            except UcAdminError as exc:
                if exc.status == 404:
                    log.warning("admin API has no counts for customer %s: not measured", customer_id)
                    out[customer_id] = None
                    continue
                if exc.retryable:
                    raise
                raise permanent_failure(f"capacity of {customer_id}: {exc}", exc) from exc
            counts: dict[Measure, int] = {}
            for measure in MEASURES:
                value = answer.get(CONFIGURED_NAME[measure])
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise permanent_failure(
                        f"capacity of {customer_id}: the admin API answered {CONFIGURED_NAME[measure]}={value!r}, "
                        "not a whole number >= 0 (docs/uc_admin_api.md)"
                    )
                counts[measure] = value
            out[customer_id] = counts
    return out


def _store_figures(
    engine: Engine, dag_id: str, run_id: str, snapshot_id: str, as_of: datetime, results: list[CustomerCapacity]
) -> None:
    """The run's figures, replaced as a whole (a retry writes the same rows once)."""
    t = capacity_figures
    rows = [
        {
            "dag_id": dag_id,
            "run_id": run_id,
            "customer_id": r.customer_id,
            "snapshot_id": snapshot_id,
            "as_of": as_of,
            **f.model_dump(),
        }
        for r in results
        for f in r.figures
    ]
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.dag_id == dag_id, t.c.run_id == run_id))
        if rows:
            conn.execute(insert(t), rows)


def audit_capacity(
    *, dag_id: str, run_id: str, as_of: datetime, started_at: datetime, customers: list[str] | None
) -> dict[str, Any]:
    """Judge every customer of the pinned snapshot (or the ``customers`` Param's); write ``audit.json``."""
    from di_ops.integrations.opsdb import ops_engine, snapshot_rows
    from di_ops.pipelines.capacity.expansions import read_expansions

    cfg = capacity_settings()
    as_of = as_of.astimezone(UTC)
    engine = ops_engine()
    snapshot = _snapshot(engine, dag_id, run_id, as_of, started_at)
    inventory = {c["customer_id"]: c for c in snapshot_rows(engine, snapshot)["customers"]}
    refusal = unknown_customers_refusal(customers, inventory, f"inventory snapshot {snapshot}")
    if refusal is not None:
        raise refusal
    wanted = sorted(customers or inventory)
    declared = declarations(engine, snapshot)
    expansions, problems = read_expansions(cfg.path("expansions_file"), inventory)
    counts = configured_counts(wanted)
    results = [
        judge_customer(cid, declared.get(cid, {}), counts[cid], expansions, as_of, warning_percent=cfg.warning_percent)
        for cid in wanted
    ]
    _store_figures(engine, dag_id, run_id, snapshot, as_of, results)
    by_verdict = Counter(r.verdict for r in results)
    folder = run_folder(cfg.path("reports_folder"), run_id)
    folder.mkdir(parents=True, exist_ok=True)
    by_count = {v: by_verdict[v] for v in VERDICT_ORDER}
    audit: dict[str, Any] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "snapshot_id": snapshot,
        "warning_percent": str(cfg.warning_percent),
        "expansions_file": str(cfg.path("expansions_file")),
        "expansions_used": sorted({f.expansion for r in results for f in r.figures if f.expansion}),
        "expansion_problems": problems,
        "counts": by_count,
        "customers": [
            {
                "customer_id": r.customer_id,
                "name": inventory[r.customer_id]["name"],
                "partner": inventory[r.customer_id]["partner"],
                "region": inventory[r.customer_id]["region"],
                "verdict": r.verdict,
                "figures": [f.model_dump() for f in r.figures],
            }
            for r in results
        ],
    }
    (folder / AUDIT_FILE).write_text(json.dumps(audit, indent=1, sort_keys=True), encoding="utf-8")
    for problem in problems:
        log.warning("expansions file line %s not used: %s", problem["line"], problem["reason"])
    log.info("capacity as of %s: %s", audit["as_of"], ", ".join(f"{n} {v}" for v, n in by_count.items()))
    return {"folder": str(folder), "counts": audit["counts"], "snapshot_id": snapshot}


def read_audit(folder: str) -> dict[str, Any]:
    return dict(json.loads((Path(folder) / AUDIT_FILE).read_text(encoding="utf-8")))
