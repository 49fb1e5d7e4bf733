"""What one DAG run left in the ops DB: its audit entries, the certificate plans it made, the COP
receipts it wrote and the notices it sent: the run page shows them beside the run's files (a
certificate run writes no file, so this is its report). Light at import."""

from __future__ import annotations

from collections import Counter
from typing import Any

ENTRIES_SHOWN = 100


def run_facts(engine: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    """The run's facts; empty lists when the ops DB has none (or does not exist yet)."""
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from di_ops.db import schema
    from di_ops.db.tables_certificates import certificate_plans
    from di_ops.db.tables_cop import cop_uploads
    from di_ops.orchestration.console.changes import aware

    audit, notices = schema.audit_log, schema.notices
    facts: dict[str, Any] = {"audit": [], "actions": {}, "plans": [], "receipts": [], "notices": []}
    try:
        with engine.connect() as conn:
            entries = [
                {**dict(m), "at": aware(m["at"])}
                for m in conn.execute(
                    select(audit).where(audit.c.dag_id == dag_id, audit.c.run_id == run_id).order_by(audit.c.id)
                ).mappings()
            ]
            facts["actions"] = dict(Counter(e["action"] for e in entries))
            facts["audit"] = entries[:ENTRIES_SHOWN]
            facts["plans"] = [
                {**dict(m), "window_start": aware(m["window_start"]), "not_after": aware(m["not_after"])}
                for m in conn.execute(
                    select(certificate_plans)
                    .where(certificate_plans.c.dag_id == dag_id, certificate_plans.c.run_id == run_id)
                    .order_by(certificate_plans.c.window_start, certificate_plans.c.plan_id)
                ).mappings()
            ]
            facts["receipts"] = [
                {**dict(m), "finished_at": aware(m["finished_at"])}
                for m in conn.execute(
                    select(cop_uploads).where(cop_uploads.c.dag_id == dag_id, cop_uploads.c.run_id == run_id)
                ).mappings()
            ]
            facts["notices"] = [
                {**dict(m), "sent_at": aware(m["sent_at"]), "created_at": aware(m["created_at"])}
                for m in conn.execute(
                    select(notices)
                    .where(notices.c.dag_id == dag_id, notices.c.run_id == run_id)
                    .order_by(notices.c.created_at)
                ).mappings()
            ]
    except (OperationalError, ProgrammingError):
        pass
    return facts
