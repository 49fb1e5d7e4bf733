"""Task bodies of the ``inventory_sync`` DAG (docs/pipelines/inventory.md)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from di_ops.core.inventory import contact_defects, read_inventory
from di_ops.core.settings import pipelines, under_data_dir
from di_ops.integrations.opsdb import ops_engine, store_inventory

log = logging.getLogger(__name__)


def inventory_folder(param_value: str | None) -> Path:
    """The exports folder: the Param, else the configured folder (relative to the data folder)."""
    return under_data_dir(param_value or pipelines().inventory.folder)


def sync_inventory(
    folder_param: str | None, loaded_at: datetime, *, dag_id: str = "inventory_sync", run_id: str = "manual"
) -> dict[str, Any]:
    """Read, validate and store the inventory exports, then run the contact-data gate (DOMAIN.md §2).

    Returns counts, the snapshot id, the rejects, the contact defects and the gate's GX outcome.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.pipelines.inventory.gate import defect_rows, gate_once, store_gate
    from di_ops.pipelines.inventory.settings import inventory_settings

    cfg = inventory_settings()
    folder = inventory_folder(folder_param)
    try:
        inventory = read_inventory(folder)
    except FileNotFoundError as exc:  # a wrong folder does not fix itself: fail without retries
        raise AirflowFailException(f"{exc}; set the inventory_folder Param or pipelines.yaml inventory.folder") from exc
    defects = contact_defects(inventory, cfg.contact_gate.required_roles)
    # the gate's defects join the snapshot's rejects (the customers themselves stay in the snapshot)
    inventory = inventory.model_copy(update={"rejects": inventory.rejects + tuple(d.as_reject() for d in defects)})
    for reject in inventory.rejects:
        log.warning("rejected %s line %d: %s", reject.source_file, reject.line, reject.reason)
    engine = ops_engine()
    summary = store_inventory(engine, inventory, loaded_at)
    store_gate(engine, inventory, defects)
    summary["rejects"] = [r.model_dump() for r in inventory.rejects]
    summary["contact_defects"] = defect_rows(defects)
    summary["contact_gate"] = gate_once(inventory, defects, {"dag_id": dag_id, "run_id": run_id, **summary})
    log.info(
        "inventory snapshot %s (%s): %d customers, %d clusters, %d nodes, %d rejected, %d contact defect(s)",
        summary["snapshot_id"],
        "new" if summary["new"] else "unchanged",
        summary["customers"],
        summary["clusters"],
        summary["nodes"],
        summary["rejected"],
        len(defects),
    )
    return summary
