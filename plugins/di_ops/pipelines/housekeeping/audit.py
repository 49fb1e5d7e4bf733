"""The audit entries of ``ops_housekeeping`` (shared by its outputs and history steps)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

AUDIT_DELETE = "housekeeping.delete"
AUDIT_KEEP = "housekeeping.keep"


def write_audit_once(engine: Engine, entries: Sequence[Mapping[str, Any]]) -> int:
    """Append audit entries, skipping those this run already wrote (same entity and action): a retry
    of a task repeats no line."""
    from di_ops.db.schema import audit_log
    from di_ops.integrations.opsdb import write_audit

    if not entries:
        return 0
    dag_id, run_id = entries[0]["dag_id"], entries[0]["run_id"]
    with engine.connect() as conn:
        seen = {
            (r.entity, r.action)
            for r in conn.execute(
                select(audit_log.c.entity, audit_log.c.action).where(
                    audit_log.c.dag_id == dag_id, audit_log.c.run_id == run_id
                )
            )
        }
    fresh = [e for e in entries if (e["entity"], e["action"]) not in seen]
    return write_audit(engine, fresh)


def _audit(dag_id: str, run_id: str, at: datetime, entity: str, action: str, detail: Mapping[str, Any]) -> dict:
    return {
        "at": at,
        "dag_id": dag_id,
        "run_id": run_id,
        "entity": entity,
        "action": action,
        "detail": dict(detail),
        "actor": None,
    }
