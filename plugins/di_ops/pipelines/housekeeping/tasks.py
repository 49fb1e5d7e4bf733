"""Task bodies of the ``ops_housekeeping`` DAG: the tool's own outputs kept only as long as configured.

Three kinds of things age out (``include/config/housekeeping.yaml``):

* per-run output folders/files in the data folder (retention runs, SLA reports, upgrade reports,
  COP run reports, housekeeping's own reports);
* GX validation results with their Data Docs pages (the result and its page go together);
* ops-DB history rows, each table with its own age and guards (the audit log is kept longest).

Safety: an entry's age is the age of its newest file (or folder) — a run that still writes into its
folder keeps it young — and nothing touched within ``active_guard_hours`` of the real clock is ever
deleted, whatever ``as_of`` says (tasks cannot ask the Airflow DB whether a run is still active).
Deletion renames the entry into the trash folder, then removes it; a crash in between leaves it in
the trash, which the next real run empties. Every decision goes to ``audit_log`` (one
``housekeeping.delete`` per deleted entry or table, one ``housekeeping.keep`` summary per category),
and the run's decisions and summary to ``{data}/reports/housekeeping/<run>/``. Tombstones of backups
belong to ``backup_retention``: they are only reported here.

The steps are in :mod:`~di_ops.pipelines.housekeeping.outputs`, :mod:`~di_ops.pipelines.housekeeping.history`
and :mod:`~di_ops.pipelines.housekeeping.tombstones`; this module holds the task bodies the DAG calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from di_ops.pipelines.housekeeping.history import prune_history
from di_ops.pipelines.housekeeping.outputs import SUMMARY, _write_json, prune_outputs, run_dir
from di_ops.pipelines.housekeeping.settings import HousekeepingSettings
from di_ops.pipelines.housekeeping.tombstones import open_store_if_configured, report_tombstones

# --- summary ----------------------------------------------------------------------------------------


def write_summary(
    *,
    dag_id: str,
    run_id: str,
    as_of: datetime,
    dry_run: bool,
    outputs: Mapping[str, Any],
    history: Mapping[str, Any],
    tombstones: Mapping[str, Any],
    settings: HousekeepingSettings | None = None,
) -> dict[str, Any]:
    summary = {
        "dag_id": dag_id,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "dry_run": dry_run,
        "outputs": dict(outputs),
        "history": dict(history),
        "tombstones": dict(tombstones),
    }
    path = run_dir(run_id, settings) / SUMMARY
    _write_json(path, summary)
    return {"summary": str(path), "deleted": outputs.get("deleted", 0), "would_delete": outputs.get("would_delete", 0)}


def resolve(params: Mapping[str, Any], logical_date: datetime | None, run_after: datetime | None) -> datetime:
    """``as_of`` of the run (the Param, else the logical date, else run_after), in UTC; a bad Param is refused."""
    from di_ops.core.tasks import resolve_as_of

    return resolve_as_of(params.get("as_of"), logical_date, run_after).astimezone(UTC)


# --- task bodies (the DAG's tasks call these with the task context) -----------------------------------


@dataclass(frozen=True)
class Run:
    dag_id: str
    run_id: str
    as_of: datetime
    dry_run: bool


def run_of(context: Mapping[str, Any]) -> Run:
    """The run's ids, ``as_of`` and dry-run flag from the task context."""
    params, dag_run = context["params"], context["dag_run"]
    as_of = resolve(params, context.get("logical_date"), dag_run.run_after)
    return Run(dag_run.dag_id, dag_run.run_id, as_of, bool(params["dry_run"]))


def prune_outputs_task(context: Mapping[str, Any]) -> dict[str, Any]:
    from di_ops.integrations.opsdb import ops_engine

    run = run_of(context)
    return prune_outputs(
        ops_engine(), dag_id=run.dag_id, run_id=run.run_id, as_of=run.as_of, now=datetime.now(UTC), dry_run=run.dry_run
    )


def prune_history_task(context: Mapping[str, Any]) -> dict[str, Any]:
    from di_ops.integrations.opsdb import ops_engine

    run = run_of(context)
    return prune_history(
        ops_engine(), dag_id=run.dag_id, run_id=run.run_id, as_of=run.as_of, now=datetime.now(UTC), dry_run=run.dry_run
    )


def report_tombstones_task(context: Mapping[str, Any]) -> dict[str, Any]:
    from di_ops.integrations.opsdb import ops_engine

    run = run_of(context)
    store, note = open_store_if_configured()
    try:
        return {**report_tombstones(ops_engine(), as_of=run.as_of, store=store), "store": note}
    finally:
        if store is not None:
            store.close()


def write_summary_task(
    context: Mapping[str, Any], outputs: Mapping[str, Any], history: Mapping[str, Any], tombstones: Mapping[str, Any]
) -> dict[str, Any]:
    run = run_of(context)
    return write_summary(
        dag_id=run.dag_id,
        run_id=run.run_id,
        as_of=run.as_of,
        dry_run=run.dry_run,
        outputs=outputs,
        history=history,
        tombstones=tombstones,
    )
