"""Task bodies shared by ``upgrade_eligibility`` (weekly) and ``upgrade_emergency_check`` (daily):
each reads the run's Params and instants and calls :mod:`di_ops.pipelines.upgrades.sweep`."""

from __future__ import annotations

from typing import Any

from di_ops.pipelines.upgrades.sweep import apply_plans, sweep, write_report


def sweep_task(params: Any, run: Any, *, emergency_only: bool = False) -> dict[str, Any]:
    """``assess_*``: :func:`sweep` for the run's ``as_of`` (Param, else logical date, else start)."""
    from di_ops.core.tasks import resolve_as_of

    return sweep(
        dag_id=run.dag_id,
        run_id=run.run_id,
        as_of=resolve_as_of(params["as_of"], run.logical_date, run.run_after),
        started_at=run.run_after,
        customers=params["customers"],
        announce=params.get("announce_release"),
        emergency_only=emergency_only,
    )


def apply_plans_task(params: Any, run: Any, assessment: dict[str, Any]) -> dict[str, Any]:
    """``apply_plans``: :func:`apply_plans` on the assessment's run folder."""
    from di_ops.core.tasks import resolve_as_of

    return apply_plans(
        dag_id=run.dag_id,
        run_id=run.run_id,
        as_of=resolve_as_of(params["as_of"], run.logical_date, run.run_after),
        folder=assessment["folder"],
        dry_run=bool(params["dry_run"]),
    )


def report_task(assessment: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """``write_report``: the report files, with the actions ``apply_plans`` took."""
    return {**write_report(assessment["folder"]), "actions": applied.get("actions", {})}
