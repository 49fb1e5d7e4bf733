"""Task bodies of the ``inventory_sync`` DAG."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from di_ops.core.inventory import read_inventory
from di_ops.core.settings import data_dir, pipelines
from di_ops.integrations.opsdb import ops_engine, store_inventory

log = logging.getLogger(__name__)


def inventory_folder(param_value: str | None) -> Path:
    """The exports folder: the Param, else the configured folder (relative to the data folder)."""
    folder = Path(param_value or pipelines().inventory.folder)
    return folder if folder.is_absolute() else data_dir() / folder


def sync_inventory(folder_param: str | None, loaded_at: datetime) -> dict[str, Any]:
    """Read, validate and store the inventory exports; returns counts and the snapshot id."""
    from airflow.sdk.exceptions import AirflowFailException

    folder = inventory_folder(folder_param)
    try:
        inventory = read_inventory(folder)
    except FileNotFoundError as exc:  # a wrong folder does not fix itself: fail without retries
        raise AirflowFailException(f"{exc}; set the inventory_folder Param or pipelines.yaml inventory.folder") from exc
    for reject in inventory.rejects:
        log.warning("rejected %s line %d: %s", reject.source_file, reject.line, reject.reason)
    summary = store_inventory(ops_engine(), inventory, loaded_at)
    summary["rejects"] = [r.model_dump() for r in inventory.rejects]
    log.info(
        "inventory snapshot %s (%s): %d customers, %d clusters, %d nodes, %d rejected",
        summary["snapshot_id"],
        "new" if summary["new"] else "unchanged",
        summary["customers"],
        summary["clusters"],
        summary["nodes"],
        summary["rejected"],
    )
    return summary
