"""Task bodies of the ``capacity_audit`` DAG: each reads the run's Params and instants and calls one step.

Steps: :func:`di_ops.pipelines.capacity.audit.audit_capacity` (figures and verdicts),
:func:`di_ops.pipelines.capacity.alerts.alert_breaches` (once per state change) and
:func:`di_ops.pipelines.capacity.report.write_report`. Source: DOMAIN.md §8; docs/pipelines/capacity.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def audit_task(params: Any, run: Any) -> dict[str, Any]:
    """``audit_capacity`` for the run's ``as_of`` (Param, else logical date, else start)."""
    from di_ops.core.tasks import resolve_as_of
    from di_ops.pipelines.capacity.audit import audit_capacity

    return audit_capacity(
        dag_id=run.dag_id,
        run_id=run.run_id,
        as_of=resolve_as_of(params["as_of"], run.logical_date, run.run_after),
        started_at=run.run_after,
        customers=params["customers"],
    )


def alert_task(audited: dict[str, Any]) -> dict[str, Any]:
    """``alert_breaches``: the on-call alerts of customers that entered breach, their states recorded."""
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.capacity.alerts import alert_breaches
    from di_ops.pipelines.capacity.audit import read_audit

    report = str(Path(audited["folder"]) / "report.html")
    return alert_breaches(ops_engine(), read_audit(audited["folder"]), report=report)


def report_task(audited: dict[str, Any], alerts: dict[str, Any]) -> dict[str, Any]:
    """``write_report``: report.html, summary.json and capacity.csv in the run folder."""
    from di_ops.pipelines.capacity.audit import read_audit
    from di_ops.pipelines.capacity.report import write_report

    return write_report(Path(audited["folder"]), read_audit(audited["folder"]), alerts)
