"""Task bodies of the ``sla_audit`` DAG: quality first, then the audit of the accepted cases, then the report.

Source: DOMAIN.md §7; docs/pipelines/sla.md. Each run works in its own folder
``{reports_dir}/{run folder}/`` (the prepared cases, the quarantine, CSV exports, the report) and
replaces its own rows in the ops DB, so a retry or a rerun gives the same files and the same rows
once. An operator's bad input (a Param) is a :class:`~di_ops.core.refusals.Refusal` (no retries, no
alert); a fault a retry cannot fix is a :class:`~di_ops.core.refusals.PermanentFailure` (on-call is
alerted). Heavy imports stay inside functions.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from di_ops.core.refusals import permanent_failure
from di_ops.core.request import unknown_customers_refusal
from di_ops.core.run_folders import run_folder_name
from di_ops.core.tasks import refused
from di_ops.pipelines.sla.settings import export_path, gx_root, reports_dir, sla_settings

log = logging.getLogger(__name__)

DAG_ID = "sla_audit"
QUALITY = "quality.json"
FIGURES = "figures.json"
SUMMARY = "summary.json"
REPORT = "report.html"


def _date_param(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise refused(f"{name} {value!r} is not a date (YYYY-MM-DD)", param=name) from exc


def start_audit(
    params: dict[str, Any], run_id: str, logical_date: datetime | None, run_after: datetime | None
) -> dict[str, Any]:
    """Resolve as_of and the period, pin the inventory snapshot, find the exports; returns the run's plan."""
    from di_ops.core.tasks import resolve_as_of
    from di_ops.integrations.opsdb import ops_engine, pin_snapshot
    from di_ops.pipelines.sla.audit import default_period
    from di_ops.pipelines.sla.exports import blank_files, export_files, exports_digest

    as_of = resolve_as_of(params.get("as_of"), logical_date, run_after).astimezone(UTC)
    start, end = default_period(as_of, sla_settings().audit.default_period_months)
    start = _date_param(params.get("period_start"), "period_start") or start
    end = _date_param(params.get("period_end"), "period_end") or end
    if start > end:
        raise refused(f"period_start {start} is after period_end {end}", param="period_start")
    path = export_path(params.get("export_path"))

    def fault(message: str) -> Exception:  # an operator's path (the Param) is refused; the configured one alerts
        return refused(message, param="export_path") if params.get("export_path") else permanent_failure(message)

    try:
        files = export_files(path)
    except FileNotFoundError as exc:  # a wrong path does not fix itself
        raise fault(f"{exc}; set the export_path Param or sla.yaml export_path") from exc
    if not files:
        raise fault(f"no .csv/.json/.jsonl export in {path}")
    blank = blank_files(files)
    if blank:
        raise fault(
            f"TAC case export {', '.join(str(f) for f in blank)} is empty (0 bytes or only white space: not even a "
            "header row); nothing to audit: deliver the export again, or point export_path at a complete one"
        )
    snapshot = pin_snapshot(ops_engine(), DAG_ID, run_id, as_of, run_after or as_of)
    if params.get("customers") and snapshot is not None:  # not ignored: no 0-case report for a typo
        refusal = unknown_customers_refusal(
            params["customers"], _known_customers(snapshot), f"inventory snapshot {snapshot}"
        )
        if refusal is not None:
            raise refusal
    # Default (interprets "no timestamps in the future"): nothing can happen after the export was
    # written (its newest file's mtime), nor is anything judged after as_of; the later of the two is
    # the limit. A run judged at an earlier as_of ignores later events (rules.sla) instead.
    written = datetime.fromtimestamp(int(max(f.stat().st_mtime for f in files)), tz=UTC)
    folder = reports_dir() / run_folder_name(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "regions": list(params.get("regions") or []),
        "customers": list(params.get("customers") or []),
        "export_path": str(path),
        "files": [str(f) for f in files],
        "source_digest": exports_digest(files),
        "not_after": max(as_of, written).isoformat(),
        "snapshot_id": snapshot,
        "run_dir": str(folder),
    }


def _known_customers(snapshot_id: str | None) -> list[str]:
    from di_ops.integrations.opsdb import ops_engine, snapshot_rows

    if snapshot_id is None:
        return []
    return sorted(str(c["customer_id"]) for c in snapshot_rows(ops_engine(), snapshot_id)["customers"])


def check_quality(plan: dict[str, Any]) -> dict[str, Any]:
    """GX checks on every exported row; quarantine the rows failing a blocking rule; build Data Docs.

    Writes ``quality.json``, ``quarantine.csv`` and the cases for ``audit_cases``
    (:mod:`di_ops.pipelines.sla.handoff`) to the run folder, and the quarantine to the ops DB.
    """
    import gc

    import pyarrow

    summary = _check_exports(plan)
    # The export's frames died with _check_exports: hand their memory back (Arrow caches freed blocks), so a
    # process that runs the next task too (dag.test(), the benchmark) does not carry them into it.
    gc.collect()
    pyarrow.default_memory_pool().release_unused()
    (Path(plan["run_dir"]) / QUALITY).write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    total, share = summary["rows_total"], summary["rejected_share"]
    log.info("quality: %d of %d rows quarantined (%.2f %%)", summary["rows_rejected"], total, 100 * share)
    return {k: summary[k] for k in ("rows_total", "rows_rejected", "rejected_share", "quality_passed")}


def _check_exports(plan: dict[str, Any]) -> dict[str, Any]:
    """:func:`check_quality` up to its summary (the frames live only here)."""

    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.sla import quality as gx_quality
    from di_ops.pipelines.sla.cases import prepare_cases
    from di_ops.pipelines.sla.exports import EmptyExport, files_without_rows, read_exports
    from di_ops.pipelines.sla.handoff import FILE_NAME, write_prepared
    from di_ops.pipelines.sla.history import replace_quarantine
    from di_ops.pipelines.sla.quarantine import (
        blocking_mask,
        escalation_by_customer,
        examples,
        quarantine_records,
        write_quarantine_csv,
    )
    from di_ops.pipelines.sla.suite import BLOCKING, ESCALATION

    cfg = sla_settings()
    as_of = datetime.fromisoformat(plan["as_of"])
    try:
        raw, files = read_exports(Path(plan["export_path"]))
    except EmptyExport as exc:  # emptied since start_audit looked
        raise permanent_failure(str(exc), exc) from exc
    warnings = _empty_export_warnings(files_without_rows(raw, files), len(raw))
    prepared, missing = prepare_cases(raw)
    rule_list = quality_rules(datetime.fromisoformat(plan["not_after"]), plan["snapshot_id"])
    run_dir = Path(plan["run_dir"])
    docs_dir = reports_dir() / "_gx_docs"
    try:
        result = gx_quality.validate(
            gx_quality.gx_frame(prepared, rule_list),
            rule_list,
            run_name=run_folder_name(plan["run_id"]),
            run_time=as_of,
            gx_root=gx_root(),
            docs_dir=docs_dir,
        )
    except gx_quality.CountMismatch as exc:
        raise permanent_failure(f"the quality check disagrees with itself: {exc}", exc) from exc
    total = len(prepared)
    blocking = [r.name for r in rule_list if r.section == BLOCKING]
    quarantined = blocking_mask(rule_list, result.masks, total)
    for outcome in result.rules:
        mask = result.masks[outcome["rule"]]
        limit = cfg.quality.examples_per_rule
        outcome["examples"] = examples(prepared, mask, outcome["column"], limit) if outcome["failed"] else []
    escalation = [r.name for r in rule_list if r.section == ESCALATION]
    records = quarantine_records(raw, quarantined, {name: result.masks[name] for name in blocking})
    share = float(quarantined.sum() / total) if total else 0.0
    write_quarantine_csv(run_dir / "quarantine.csv", records)
    replace_quarantine(ops_engine(), DAG_ID, plan["run_id"], records)
    write_prepared(run_dir / FILE_NAME, prepared, quarantined)
    summary = {
        "rows_total": total,
        "rows_rejected": int(quarantined.sum()),
        "rejected_share": share,
        "max_rejected_share": cfg.quality.max_rejected_share,
        "quality_passed": share <= cfg.quality.max_rejected_share,
        "missing_columns": missing,
        "rules": result.rules,
        "escalation_by_customer": escalation_by_customer(prepared, {n: result.masks[n] for n in escalation}),
        "docs_page": None if result.docs_page is None else str(result.docs_page),
        "docs_index": str(docs_dir / "index.html"),
        "warnings": warnings,
    }
    return summary


def quality_rules(not_after: datetime, snapshot_id: str | None) -> list[Any]:
    """The GX suite with this pipeline's settings (``sla.yaml``): shared by ``sla_audit`` and ``incident_watch``."""
    from di_ops.pipelines.sla.suite import rules

    cfg = sla_settings()
    return rules(
        not_after=not_after,
        future_tolerance=timedelta(minutes=cfg.quality.future_tolerance_minutes),
        known_customers=_known_customers(snapshot_id),
        contract_pattern=cfg.escalation.contract_number_pattern,
        phone_pattern=cfg.escalation.phone_pattern,
        email_pattern=cfg.escalation.email_pattern,
    )


def _empty_export_warnings(without_rows: list[Path], rows: int) -> list[str]:
    """A warning per export file with a header but no rows, and one when no file had any; also logged."""
    warnings = [f"export {f.name} has no rows (a header only): nothing from it was audited" for f in without_rows]
    if rows == 0:
        warnings.append("the exports hold no cases at all: this report audits nothing")
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def audit_cases(plan: dict[str, Any]) -> dict[str, Any]:
    """Due times, statuses, compliance, misclassification and escalation lists of the accepted cases.

    Writes ``cases.csv``, ``compliance.csv``, ``breached.csv``, ``about_to_breach.csv`` and
    ``figures.json`` to the run folder and the run's figures to the ops DB (history).
    """
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.sla.audit import judge_cases, select_cases
    from di_ops.pipelines.sla.figures import breaches_by, compliance_table, misclassification
    from di_ops.pipelines.sla.handoff import FILE_NAME, read_accepted
    from di_ops.pipelines.sla.history import store_run
    from di_ops.pipelines.sla.watch_state import proactive_figures

    cfg = sla_settings()
    run_dir = Path(plan["run_dir"])
    accepted = read_accepted(run_dir / FILE_NAME)  # written by check_quality of this run
    quality = json.loads((run_dir / QUALITY).read_text(encoding="utf-8"))
    as_of = datetime.fromisoformat(plan["as_of"])
    period = (date.fromisoformat(plan["period_start"]), date.fromisoformat(plan["period_end"]))
    try:
        cases, left_out = select_cases(accepted, as_of, period, plan["regions"], plan["customers"])
    except ValueError as exc:  # e.g. an unknown region in the regions Param
        raise refused(str(exc), param="regions") from exc
    judged = judge_cases(cases, as_of, timedelta(hours=cfg.audit.about_to_breach_hours))
    rows = compliance_table(
        judged, min_cases=cfg.audit.min_cases_to_judge, judge_by_wilson=cfg.audit.judge_by_wilson_interval
    )
    escalation = {r["rule"]: r["failed"] for r in quality["rules"] if r["section"] == "escalation"}
    figures = {
        "run_id": plan["run_id"],
        "as_of": plan["as_of"],
        "period": [plan["period_start"], plan["period_end"]],
        "regions": plan["regions"],
        "customers": plan["customers"],
        "snapshot_id": plan["snapshot_id"],
        "source_digest": plan["source_digest"],
        "cases_audited": len(judged),
        "left_out": left_out,
        "status_counts": {str(k): int(v) for k, v in judged["status"].value_counts().items() if v},
        "compliance": rows,
        "misclassification": misclassification(judged),
        "breaches_by_region": breaches_by(judged, "region"),
        "breaches_by_customer": breaches_by(judged, "customer_id"),
        "breached": int((judged["status"] == "breached").sum()),
        "at_risk": int(judged["at_risk"].sum()),
        "escalation_defects": escalation,
        "objectives": _objectives(),
        "proactive_notices": proactive_figures(ops_engine(), judged, as_of),
    }
    _write_case_csvs(run_dir, judged, rows)
    (run_dir / FIGURES).write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    store_run(ops_engine(), DAG_ID, plan, quality, figures, judged, rows, created_at=as_of)
    log.info("audited %d cases: %s", len(judged), figures["status_counts"])
    return {"cases_audited": len(judged), "breached": figures["breached"], "at_risk": figures["at_risk"]}


def _objectives() -> dict[str, str]:
    from di_ops.core.settings import policy

    out = {}
    for level, objective in sorted(policy().sla.objectives.items()):
        out[level] = f"{objective.minutes} min" if objective.minutes else f"{objective.business_days} business day(s)"
    return out


def _write_case_csvs(run_dir: Path, judged: Any, rows: list[dict[str, Any]]) -> None:
    """The run's case CSVs, text cells neutralised against formula injection (:mod:`di_ops.core.csv_safe`)."""
    import pandas as pd

    from di_ops.core.csv_safe import frame_to_csv

    columns = ["case_id", "customer_id", "region", "severity", "severity_matrix", "month", "opened_at"]
    columns += ["first_response_at", "response_due", "status", "at_risk"]
    out = judged[columns]
    instants = {"date_format": "%Y-%m-%dT%H:%M:%SZ"}  # UTC instants, formatted as they are written (never formulas)
    frame_to_csv(out, run_dir / "cases.csv", **instants)
    frame_to_csv(out[out["status"] == "breached"], run_dir / "breached.csv", **instants)
    frame_to_csv(out[out["at_risk"]], run_dir / "about_to_breach.csv", **instants)
    frame_to_csv(pd.DataFrame(rows), run_dir / "compliance.csv")


def write_report(plan: dict[str, Any]) -> dict[str, Any]:
    """The manager report ``report.html`` (self-contained) and ``summary.json`` for the reports list."""
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.sla.history import trend
    from di_ops.pipelines.sla.report import render_report

    run_dir = Path(plan["run_dir"])
    quality = json.loads((run_dir / QUALITY).read_text(encoding="utf-8"))
    figures = json.loads((run_dir / FIGURES).read_text(encoding="utf-8"))
    history = trend(ops_engine(), DAG_ID, sla_settings().report.trend_runs, up_to=datetime.fromisoformat(plan["as_of"]))
    html = render_report(figures, quality, history, run_dir=run_dir)
    (run_dir / REPORT).write_text(html, encoding="utf-8")
    headline = {
        r["severity"]: {k: r[k] for k in ("n", "ratio", "low", "high", "meets_standard", "too_few_to_judge")}
        for r in figures["compliance"]
        if r["dimension"] == "overall"
    }
    summary = {
        "run_id": plan["run_id"],
        "folder": run_dir.name,
        "as_of": plan["as_of"],
        "period": figures["period"],
        "cases_audited": figures["cases_audited"],
        "rows_rejected": quality["rows_rejected"],
        "rejected_share": quality["rejected_share"],
        "quality_passed": quality["quality_passed"],
        "headline": headline,
        "warnings": quality.get("warnings", []),
    }
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return {"report": str(run_dir / REPORT)}


def enforce_rejected_share(quality: dict[str, Any]) -> str:
    """Fail the run when the quarantined share is above ``sla.yaml quality.max_rejected_share``."""
    share, limit = quality["rejected_share"], sla_settings().quality.max_rejected_share
    if share > limit:
        raise permanent_failure(
            f"{quality['rows_rejected']} of {quality['rows_total']} rows quarantined ({share:.1%}) > the "
            f"allowed {limit:.1%}; the report shows the failing rules (fix the export, then rerun)"
        )
    return f"rejected share {share:.2%} within {limit:.1%}"
