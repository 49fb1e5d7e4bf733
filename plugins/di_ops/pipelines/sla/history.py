"""SLA audit history in the ops DB: each run's figures, compliance groups, quarantine and escalation lists.

Every write replaces the run's own rows in one transaction (delete, then insert), so a retry
or rerun of a run leaves it in the history once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from di_ops.db.tables_sla import sla_audit_runs, sla_compliance, sla_escalations, sla_quarantine


def replace_quarantine(engine: Engine, dag_id: str, run_id: str, records: list[dict[str, Any]]) -> int:
    with engine.begin() as conn:
        conn.execute(delete(sla_quarantine).where(sla_quarantine.c.dag_id == dag_id, sla_quarantine.c.run_id == run_id))
        if records:
            conn.execute(insert(sla_quarantine), [{"dag_id": dag_id, "run_id": run_id, **r} for r in records])
    return len(records)


def _escalation_rows(dag_id: str, run_id: str, judged: Any) -> list[dict[str, Any]]:
    listed = judged[(judged["status"] == "breached") | judged["at_risk"]]
    rows = []
    for case in listed.itertuples(index=False):
        rows.append(
            {
                "dag_id": dag_id,
                "run_id": run_id,
                "case_id": str(case.case_id),
                "kind": "breached" if case.status == "breached" else "at_risk",
                "severity": str(case.severity),
                "region": str(case.region),
                "customer_id": str(case.customer_id),
                "opened_at": case.opened_at.to_pydatetime(),
                "due_at": case.response_due.to_pydatetime(),
            }
        )
    return rows


def store_run(
    engine: Engine,
    dag_id: str,
    plan: dict[str, Any],
    quality: dict[str, Any],
    figures: dict[str, Any],
    judged: Any,
    compliance_rows: list[dict[str, Any]],
    *,
    created_at: datetime,
) -> None:
    """Replace the run's figures (one transaction)."""
    run_id = plan["run_id"]
    summary = {
        "status_counts": figures["status_counts"],
        "misclassification": figures["misclassification"]["total"],
        "left_out": figures["left_out"],
        "escalation_defects": figures["escalation_defects"],
    }
    with engine.begin() as conn:
        for table in (sla_escalations, sla_compliance, sla_audit_runs):
            conn.execute(delete(table).where(table.c.dag_id == dag_id, table.c.run_id == run_id))
        conn.execute(
            insert(sla_audit_runs).values(
                dag_id=dag_id,
                run_id=run_id,
                as_of=datetime.fromisoformat(plan["as_of"]),
                period_start=date.fromisoformat(plan["period_start"]),
                period_end=date.fromisoformat(plan["period_end"]),
                snapshot_id=plan["snapshot_id"],
                source_digest=plan["source_digest"],
                rows_total=quality["rows_total"],
                rows_rejected=quality["rows_rejected"],
                rejected_share=quality["rejected_share"],
                quality_passed=quality["quality_passed"],
                cases_audited=figures["cases_audited"],
                report_dir=plan["run_dir"],
                created_at=created_at,
                summary=summary,
            )
        )
        if compliance_rows:
            conn.execute(insert(sla_compliance), [{"dag_id": dag_id, "run_id": run_id, **r} for r in compliance_rows])
        escalations = _escalation_rows(dag_id, run_id, judged)
        if escalations:
            conn.execute(insert(sla_escalations), escalations)


def trend(engine: Engine, dag_id: str, runs: int, *, up_to: datetime | None = None) -> list[dict[str, Any]]:
    """The overall compliance per severity of the last ``runs`` runs (as_of ≤ ``up_to``), oldest first."""
    r, c = sla_audit_runs, sla_compliance
    query = select(r.c.run_id, r.c.as_of, r.c.rejected_share).where(r.c.dag_id == dag_id)
    if up_to is not None:
        query = query.where(r.c.as_of <= up_to)
    with engine.connect() as conn:
        chosen = conn.execute(query.order_by(r.c.as_of.desc(), r.c.run_id.desc()).limit(runs)).all()
        ids = [row.run_id for row in chosen]
        figures = conn.execute(
            select(c.c.run_id, c.c.severity, c.c.n, c.c.ratio).where(
                c.c.dag_id == dag_id, c.c.run_id.in_(ids), c.c.dimension == "overall"
            )
        ).all()
    by_run: dict[str, dict[str, Any]] = {
        row.run_id: {"run_id": row.run_id, "as_of": row.as_of.isoformat(), "rejected_share": row.rejected_share}
        for row in chosen
    }
    for row in figures:
        by_run[row.run_id][row.severity] = {"n": row.n, "ratio": row.ratio}
    return [by_run[run_id] for run_id in reversed(ids)]
