"""Backup tombstones older than ``tombstones.report_after_days``: reported, never touched.

Tombstones belong to ``backup_retention``, which finishes (or undoes) them on its next run. Source:
docs/pipelines/housekeeping.md; the store connection and the tombstone prefix are the shared backup
store settings (``pipelines.yaml: backup_store``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from di_ops.core.settings import backup_store
from di_ops.pipelines.housekeeping.history import _t
from di_ops.pipelines.housekeeping.settings import HousekeepingSettings, housekeeping_settings

log = logging.getLogger(__name__)


# --- tombstones (report only) -----------------------------------------------------------------------


def report_tombstones(
    engine: Engine, *, as_of: datetime, store: Any | None, settings: HousekeepingSettings | None = None
) -> dict[str, Any]:
    """Tombstones older than ``report_after_days``: from the deletion log, and in the store when given.

    Nothing is changed: ``backup_retention`` finishes (or undoes) them on its next run.
    """
    settings = settings or housekeeping_settings()
    days = settings.tombstones.report_after_days
    cutoff = as_of.astimezone(UTC) - timedelta(days=days)
    d = _t("retention_deletions")
    logged: dict[str, dict[str, Any]] = {}
    old: list[dict[str, Any]] = []
    if d is not None:
        with engine.connect() as conn:
            for row in conn.execute(select(d).where(d.c.state == "tombstoned")).mappings():
                logged[row["path"]] = dict(row)
                if row["tombstoned_at"] is not None and _aware(row["tombstoned_at"]) < cutoff:
                    old.append(
                        {
                            "path": row["path"],
                            "run_id": row["run_id"],
                            "tombstoned_at": _aware(row["tombstoned_at"]).isoformat(),
                            "source": "deletion log",
                        }
                    )
    in_store: list[dict[str, Any]] = []
    if store is not None:
        prefix = backup_store().tombstone_prefix
        for customer in store.list_dirs(""):
            if customer.startswith("."):
                continue
            for cluster in store.list_dirs(customer):
                if cluster.startswith("."):
                    continue
                for app in store.list_dirs(f"{customer}/{cluster}"):
                    if app.startswith("."):
                        continue
                    for name in store.list_dirs(f"{customer}/{cluster}/{app}"):
                        if name.startswith(prefix):
                            live = f"{customer}/{cluster}/{app}/{name.removeprefix(prefix)}"
                            row = logged.get(live)
                            if row is None:
                                in_store.append({"path": live, "source": "store", "note": "not in the deletion log"})
                            elif row["tombstoned_at"] is not None and _aware(row["tombstoned_at"]) < cutoff:
                                in_store.append(
                                    {
                                        "path": live,
                                        "source": "store",
                                        "tombstoned_at": _aware(row["tombstoned_at"]).isoformat(),
                                    }
                                )
    report = {
        "report_after_days": days,
        "cutoff": cutoff.isoformat(),
        "old_in_deletion_log": old,
        "in_store": in_store,
        "store_scanned": store is not None,
    }
    if old or in_store:
        log.warning(
            "%d tombstone(s) older than %d days in the deletion log, %d in the store: backup_retention finishes "
            "them on its next run (housekeeping does not touch them)",
            len(old),
            days,
            len(in_store),
        )
    return report


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def open_store_if_configured(settings: HousekeepingSettings | None = None) -> tuple[Any | None, str]:
    """The backup store of ``di_backup_store`` when scanning is on and the connection is defined."""
    settings = settings or housekeeping_settings()
    if not settings.tombstones.scan_store:
        return None, "store scan off (housekeeping.yaml tombstones.scan_store)"
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    from di_ops.integrations.backup_store import store_from_connection

    conn_id = backup_store().conn_id
    try:
        return store_from_connection(conn_id), f"store {conn_id}"
    except (AirflowNotFoundException, AirflowRuntimeError) as exc:
        if isinstance(exc, AirflowRuntimeError) and "CONNECTION_NOT_FOUND" not in str(exc):
            raise
        return None, f"connection {conn_id} is not defined: store not scanned"
