"""Task bodies of the ``sla_audit`` DAG: quality first, then the audit of the accepted cases, then the report.

Each run works in its own folder ``{reports_dir}/{run folder}/`` (the prepared frame, the
quarantine, CSV exports, the report) and replaces its own rows in the ops DB, so a retry or a
rerun gives the same files and the same rows once. Heavy imports stay inside functions.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from di_ops.pipelines.sla.settings import export_path, gx_root, reports_dir, sla_settings

log = logging.getLogger(__name__)

DAG_ID = "sla_audit"
PREPARED = "prepared.pkl"
QUALITY = "quality.json"
FIGURES = "figures.json"
SUMMARY = "summary.json"
REPORT = "report.html"


def run_folder_name(run_id: str) -> str:
    """A file-system-safe folder name for a run id (``:`` and ``+`` become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def _fail(message: str) -> Exception:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


def _date_param(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise _fail(f"{name} {value!r} is not a date (YYYY-MM-DD)") from exc


def start_audit(
    params: dict[str, Any], run_id: str, logical_date: datetime | None, run_after: datetime | None
) -> dict[str, Any]:
    """Resolve as_of and the period, pin the inventory snapshot, find the exports; returns the run's plan."""
    from di_ops.core.tasks import refused, resolve_as_of
    from di_ops.integrations.opsdb import ops_engine, pin_snapshot
    from di_ops.pipelines.sla.cases import default_period
    from di_ops.pipelines.sla.exports import blank_files, export_files, exports_digest

    try:
        as_of = resolve_as_of(params.get("as_of"), logical_date, run_after).astimezone(UTC)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    start, end = default_period(as_of, sla_settings().audit.default_period_months)
    start = _date_param(params.get("period_start"), "period_start") or start
    end = _date_param(params.get("period_end"), "period_end") or end
    if start > end:
        raise _fail(f"period_start {start} is after period_end {end}")
    path = export_path(params.get("export_path"))
    try:
        files = export_files(path)
    except FileNotFoundError as exc:  # a wrong path does not fix itself
        raise _fail(f"{exc}; set the export_path Param or sla.yaml export_path") from exc
    if not files:
        raise _fail(f"no .csv/.json/.jsonl export in {path}")
    blank = blank_files(files)
    if blank:  # an operator's path (the Param) is refused; the configured one is a fault for on-call
        message = (
            f"TAC case export {', '.join(str(f) for f in blank)} is empty (0 bytes or only white space: not even a header row); "
            "nothing to audit: deliver the export again, or point export_path at a complete one"
        )
        raise refused(message) if params.get("export_path") else _fail(message)
    snapshot = pin_snapshot(ops_engine(), DAG_ID, run_id, as_of, run_after or as_of)
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


def _examples(prepared: Any, rows: list[Any] | None, column: str, limit: int) -> list[dict[str, Any]]:
    picked = prepared.index[:limit] if rows is None else rows[:limit]
    out = []
    for label in picked:
        row = prepared.loc[label]
        value = row.get(column) if column in prepared.columns else None
        out.append(
            {
                "case_id": None if _missing(row.get("case_id")) else str(row.get("case_id")),
                "source_file": str(row.get("_source_file")),
                "line": int(row.get("_line")),
                "value": None if _missing(value) else str(value),
            }
        )
    return out


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value)) if not isinstance(value, list | dict) else False


def check_quality(plan: dict[str, Any]) -> dict[str, Any]:
    """GX checks on every exported row; quarantine the rows failing a blocking rule; build Data Docs."""
    import numpy as np

    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.sla import quality as gx_quality
    from di_ops.pipelines.sla.cases import prepare_cases
    from di_ops.pipelines.sla.exports import EmptyExport, files_without_rows, read_exports
    from di_ops.pipelines.sla.history import replace_quarantine

    cfg = sla_settings()
    as_of = datetime.fromisoformat(plan["as_of"])
    try:
        raw, files = read_exports(Path(plan["export_path"]))
    except EmptyExport as exc:  # emptied since start_audit looked
        raise _fail(str(exc)) from exc
    warnings = _empty_export_warnings(files_without_rows(raw, files), len(raw))
    prepared, missing = prepare_cases(raw)
    rule_list = gx_quality.rules(
        not_after=datetime.fromisoformat(plan["not_after"]),
        future_tolerance=timedelta(minutes=cfg.quality.future_tolerance_minutes),
        known_customers=_known_customers(plan["snapshot_id"]),
        contract_pattern=cfg.escalation.contract_number_pattern,
        phone_pattern=cfg.escalation.phone_pattern,
        email_pattern=cfg.escalation.email_pattern,
    )
    run_dir = Path(plan["run_dir"])
    docs_dir = reports_dir() / "_gx_docs"
    result = gx_quality.validate(
        gx_quality.gx_frame(prepared),
        rule_list,
        run_name=run_folder_name(plan["run_id"]),
        run_time=as_of,
        gx_root=gx_root(),
        docs_dir=docs_dir,
    )
    reasons: dict[Any, list[str]] = {}
    blocking = {r.name for r in rule_list if r.section == gx_quality.BLOCKING}
    for outcome in result.rules:
        name = outcome["rule"]
        rows = result.failing[name]
        if name in blocking:
            for label in prepared.index if rows is None else rows:
                reasons.setdefault(label, []).append(name)
        outcome["examples"] = (
            _examples(prepared, rows, outcome["column"], cfg.quality.examples_per_rule) if outcome["failed"] else []
        )
    escalation_by_customer = _escalation_by_customer(prepared, result.failing, rule_list)
    quarantined = np.zeros(len(prepared), dtype=bool)
    quarantined[prepared.index.get_indexer(list(reasons))] = True
    total = len(prepared)
    share = float(quarantined.sum() / total) if total else 0.0
    records = _quarantine_records(raw, reasons)
    _write_quarantine_csv(run_dir / "quarantine.csv", records)
    replace_quarantine(ops_engine(), DAG_ID, plan["run_id"], records)
    with (run_dir / PREPARED).open("wb") as fh:
        pickle.dump({"prepared": prepared, "quarantined": quarantined}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    summary = {
        "rows_total": total,
        "rows_rejected": int(quarantined.sum()),
        "rejected_share": share,
        "max_rejected_share": cfg.quality.max_rejected_share,
        "quality_passed": share <= cfg.quality.max_rejected_share,
        "missing_columns": missing,
        "rules": result.rules,
        "escalation_by_customer": escalation_by_customer,
        "docs_page": None if result.docs_page is None else str(result.docs_page),
        "docs_index": str(docs_dir / "index.html"),
        "warnings": warnings,
    }
    (run_dir / QUALITY).write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    log.info("quality: %d of %d rows quarantined (%.2f %%)", summary["rows_rejected"], total, 100 * share)
    return {k: summary[k] for k in ("rows_total", "rows_rejected", "rejected_share", "quality_passed")}


def _empty_export_warnings(without_rows: list[Path], rows: int) -> list[str]:
    """A warning per export file with a header but no rows, and one when no file had any; also logged."""
    warnings = [f"export {f.name} has no rows (a header only): nothing from it was audited" for f in without_rows]
    if rows == 0:
        warnings.append("the exports hold no cases at all: this report audits nothing")
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def _escalation_by_customer(prepared: Any, failing: dict[str, Any], rule_list: list[Any]) -> dict[str, dict[str, int]]:
    """Escalation defects per customer and rule (partner-side defects managers track)."""
    out: dict[str, dict[str, int]] = {}
    customers = prepared["customer_id"] if "customer_id" in prepared.columns else None
    for rule in rule_list:
        if rule.section != "escalation":
            continue
        rows = prepared.index if failing.get(rule.name) is None else failing[rule.name]
        if customers is None or len(rows) == 0:
            continue
        for customer, count in customers.loc[rows].fillna("(none)").value_counts().items():
            out.setdefault(str(customer), {})[rule.name] = int(count)
    return dict(sorted(out.items()))


def _quarantine_records(raw: Any, reasons: dict[Any, list[str]]) -> list[dict[str, Any]]:
    records = []
    for label in sorted(reasons, key=lambda x: (str(raw.at[x, "_source_file"]), int(raw.at[x, "_line"]))):
        row = raw.loc[label]
        values = {k: (None if _missing(v) else str(v)) for k, v in row.items() if not str(k).startswith("_")}
        records.append(
            {
                "source_file": str(row["_source_file"]),
                "line": int(row["_line"]),
                "case_id": values.get("case_id"),
                "reasons": reasons[label],
                "raw": values,
            }
        )
    return records


def _write_quarantine_csv(path: Path, records: list[dict[str, Any]]) -> None:
    from di_ops.core.csv_safe import SafeWriter

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh, lineterminator="\n")
        writer.writerow(["source_file", "line", "case_id", "reasons", "row"])
        for r in records:
            writer.writerow(
                [r["source_file"], r["line"], r["case_id"] or "", ";".join(r["reasons"]), json.dumps(r["raw"])]
            )


def audit_cases(plan: dict[str, Any]) -> dict[str, Any]:
    """Due times, statuses, compliance, misclassification and escalation lists of the accepted cases.

    Writes ``cases.csv``, ``compliance.csv``, ``breached.csv``, ``about_to_breach.csv`` and
    ``figures.json`` to the run folder and the run's figures to the ops DB (history).
    """
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.sla.cases import judge_cases, select_cases
    from di_ops.pipelines.sla.figures import breaches_by, compliance_table, misclassification
    from di_ops.pipelines.sla.history import store_run

    cfg = sla_settings()
    run_dir = Path(plan["run_dir"])
    with (run_dir / PREPARED).open("rb") as fh:
        stored = pickle.load(fh)  # noqa: S301 - our own file, written by check_quality of this run
    quality = json.loads((run_dir / QUALITY).read_text(encoding="utf-8"))
    accepted = stored["prepared"][~stored["quarantined"]]
    as_of = datetime.fromisoformat(plan["as_of"])
    period = (date.fromisoformat(plan["period_start"]), date.fromisoformat(plan["period_end"]))
    try:
        cases, left_out = select_cases(accepted, as_of, period, plan["regions"], plan["customers"])
    except ValueError as exc:  # e.g. an unknown region in the regions Param
        raise _fail(str(exc)) from exc
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
    out = judged[columns].copy()
    for column in ("opened_at", "first_response_at", "response_due"):
        out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame_to_csv(out, run_dir / "cases.csv")
    frame_to_csv(out[out["status"] == "breached"], run_dir / "breached.csv")
    frame_to_csv(out[out["at_risk"]], run_dir / "about_to_breach.csv")
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
        raise _fail(
            f"{quality['rows_rejected']} of {quality['rows_total']} rows quarantined ({share:.1%}) > the "
            f"allowed {limit:.1%}; the report shows the failing rules (fix the export, then rerun)"
        )
    return f"rejected share {share:.2%} within {limit:.1%}"
