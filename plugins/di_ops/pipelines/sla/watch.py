"""Task bodies of the ``incident_watch`` DAG: new export rows in, proactive S1/S2 notices and escalation alerts out.

Source: DOMAIN.md §7 and §7a; docs/pipelines/incident_watch.md. The exports are read with the same
reader, parser and GX blocking rules as ``sla_audit`` (:mod:`~di_ops.pipelines.sla.exports`,
:mod:`~di_ops.pipelines.sla.cases`, :func:`di_ops.pipelines.sla.tasks.quality_rules`), one changed file
at a time (a case in two exports is the same case seen twice, the later file winning; duplicates
inside one file are quarantined as ``sla_audit`` does). A run over unchanged files stats them, asks
the ops DB for the few cases due a look, and builds no GX context. Every e-mail goes through
:func:`di_ops.integrations.mail.send_notice` (dedupe before the send, record after). Decisions take
the run's ``as_of``; the send time recorded is the clock's. Heavy imports stay inside functions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from di_ops.core.refusals import permanent_failure
from di_ops.core.tasks import refused
from di_ops.pipelines.sla.settings import export_path, sla_settings, watch_reports_dir

log = logging.getLogger(__name__)

DAG_ID = "incident_watch"
PROACTIVE = ("S1", "S2")
REPORT = "run.json"
LISTED = 200  # cases listed per section of a run's report
CHUNK_ROWS = 50_000  # export rows turned into case records at a time


def _clock() -> datetime:
    return datetime.now(UTC)


def scan_exports(
    params: dict[str, Any], run_id: str, logical_date: datetime | None, run_after: datetime | None
) -> dict[str, Any]:
    """as_of and the export files that are new or changed since the last run (the high-water marks)."""
    from di_ops.core.tasks import resolve_as_of
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.sla.exports import export_files, is_blank
    from di_ops.pipelines.sla.watch_files import changed_files

    as_of = resolve_as_of(params.get("as_of"), logical_date, run_after).astimezone(UTC)
    path = export_path(params.get("export_path"))
    try:
        files = export_files(path)
    except FileNotFoundError as exc:
        message = f"{exc}; set the export_path Param or sla.yaml export_path"
        raise (
            refused(message, param="export_path") if params.get("export_path") else permanent_failure(message)
        ) from exc
    blank = [f for f in files if is_blank(f)]  # e.g. being written: read once it holds a header at least
    changed, touched = changed_files(ops_engine(), [f for f in files if f not in blank])
    return {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "export_path": str(path),
        "changed": changed,
        "touched": touched,
        "blank": [f.name for f in blank],
    }


def ingest_changes(plan: dict[str, Any]) -> dict[str, Any]:
    """Read each changed file, quarantine what the blocking rules refuse, update the case state and the mark."""
    from sqlalchemy import update

    from di_ops.db.tables_sla import sla_watch_files
    from di_ops.integrations.opsdb import ops_engine, pin_snapshot
    from di_ops.pipelines.sla.history import replace_quarantine

    summary: dict[str, Any] = {"files": [], "new": 0, "changed": 0, "quarantined": 0, "deviations": []}
    if not plan["changed"] and not plan["touched"]:
        return summary
    engine = ops_engine()
    as_of = datetime.fromisoformat(plan["as_of"])
    with engine.begin() as conn:
        for item in plan["touched"]:  # same bytes, new mtime: refresh the mark, read nothing
            conn.execute(
                update(sla_watch_files)
                .where(sla_watch_files.c.file_name == item["name"])
                .values(size=item["size"], mtime_ns=item["mtime_ns"])
            )
    if not plan["changed"]:
        return summary
    snapshot = pin_snapshot(engine, DAG_ID, plan["run_id"], as_of, as_of)
    quarantine: list[dict[str, Any]] = []
    for item in sorted(plan["changed"], key=lambda i: i["name"]):
        counts, records, deviations = _ingest_file(engine, item, plan["run_id"], as_of, snapshot)
        summary["files"].append({"name": item["name"], **counts})
        summary["new"] += counts["new"]
        summary["changed"] += counts["changed"]
        quarantine.extend(records)
        summary["deviations"].extend(deviations)
    summary["quarantined"] = replace_quarantine(engine, DAG_ID, plan["run_id"], quarantine)
    summary["deviations"] = summary["deviations"][:LISTED]
    log.info("ingested %s", {k: v for k, v in summary.items() if k != "deviations"})
    return summary


def _ingest_file(
    engine: Any, item: dict[str, Any], run_id: str, as_of: datetime, snapshot: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One changed file through the shared reader, parser and GX rules; its cases and mark in one transaction."""
    from di_ops.core.run_folders import run_folder_name
    from di_ops.pipelines.sla import quality as gx_quality
    from di_ops.pipelines.sla.cases import prepare_cases
    from di_ops.pipelines.sla.exports import EmptyExport, read_file
    from di_ops.pipelines.sla.quarantine import blocking_mask, quarantine_records
    from di_ops.pipelines.sla.suite import BLOCKING
    from di_ops.pipelines.sla.tasks import quality_rules
    from di_ops.pipelines.sla.watch_files import file_digest, record_mark
    from di_ops.pipelines.sla.watch_state import case_records, upsert_cases

    path = Path(item["path"])
    stat = path.stat()
    if (stat.st_size, stat.st_mtime_ns) != (item["size"], item["mtime_ns"]):  # written to since the scan
        item = {**item, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "digest": file_digest(path)}
    try:
        raw = read_file(path)
    except EmptyExport:  # emptied since the scan: read again when it holds something
        return {"rows": 0, "new": 0, "changed": 0, "unchanged": 0, "quarantined": 0}, [], []
    records: list[dict[str, Any]] = []
    if len(raw):
        prepared, _ = prepare_cases(raw)
        written = datetime.fromtimestamp(int(stat.st_mtime), tz=UTC)
        rule_list = quality_rules(max(as_of, written), snapshot)
        result = gx_quality.validate(
            gx_quality.gx_frame(prepared, rule_list),
            rule_list,
            run_name=f"{run_folder_name(run_id)}-{path.name}",
            run_time=as_of,
        )
        quarantined = blocking_mask(rule_list, result.masks, len(prepared))
        blocking = {r.name: result.masks[r.name] for r in rule_list if r.section == BLOCKING}
        records = quarantine_records(raw, quarantined, blocking)
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    deviations: list[dict[str, Any]] = []
    with engine.begin() as conn:  # the file's cases and its mark together: a run killed halfway reads it again
        for start in range(0, len(raw), CHUNK_ROWS):  # bounded memory for a large first export
            rows = slice(start, start + CHUNK_ROWS)
            cases = case_records(raw.iloc[rows], prepared.iloc[rows], ~quarantined[rows])
            for key, value in upsert_cases(conn, cases, now=as_of).items():
                counts[key] += value
            deviations += [
                {k: c[k] for k in ("case_id", "customer_id", "severity", "channel", "channel_deviation")}
                for c in cases
                if c["channel_deviation"] and len(deviations) < LISTED
            ]
        record_mark(conn, item, rows=len(raw), run_id=run_id, seen_at=as_of)
    return {"rows": len(raw), **counts, "quarantined": len(records)}, records, deviations


def send_proactive_notices(plan: dict[str, Any], *, clock: Callable[[], datetime] = _clock) -> dict[str, Any]:
    """One e-mail per new S1/S2 case and severity to the partner contacts; an operator alert when there are none."""
    from di_ops.core.settings import pipelines
    from di_ops.integrations.mail import send_notice
    from di_ops.integrations.opsdb import ops_engine, pin_snapshot, snapshot_rows
    from di_ops.pipelines.sla.watch_notices import gap_alert, partner_emails, proactive_notice
    from di_ops.pipelines.sla.watch_state import aware, recent_cases, record_notice
    from di_ops.rules.incidents import needs_proactive_notice, next_update_at, notice_due_at

    engine = ops_engine()
    as_of = datetime.fromisoformat(plan["as_of"])
    lookback = timedelta(hours=sla_settings().watch.lookback_hours)
    due = []
    for case in recent_cases(engine, PROACTIVE, as_of - lookback, as_of):
        for column in ("opened_at", "first_response_at", "last_update_at", "closed_at"):
            case[column] = aware(case[column])
        if needs_proactive_notice(
            case["severity"], case["opened_at"], as_of, notified=case["notified"], lookback=lookback
        ):
            due.append(case)
    out: dict[str, Any] = {"due": len(due), "sent": 0, "already_sent": 0, "gaps": [], "failed": []}
    if not due:
        return out
    snapshot = pin_snapshot(engine, DAG_ID, plan["run_id"], as_of, as_of)
    customers = {c["customer_id"]: c for c in snapshot_rows(engine, snapshot)["customers"]} if snapshot else {}
    for case in sorted(due, key=lambda c: (c["opened_at"], c["case_id"])):
        customer = customers.get(case["customer_id"]) or {}
        emails = partner_emails(customer.get("contacts") or [])
        if emails:
            latest = max(t for t in (case["opened_at"], case["first_response_at"], case["last_update_at"]) if t)
            raised_from = min(case["notified"]) if case["notified"] else None  # the most severe told before
            notice = proactive_notice(
                case,
                str(customer.get("name") or case["customer_id"]),
                emails,
                next_update=next_update_at(case["severity"], case["region"], min(latest, as_of), as_of),
                raised_from=raised_from,
            )
            kind = "proactive"
        else:
            notice = gap_alert(case, tuple(pipelines().alerts.to), snapshot)
            kind = "no_partner_contact"
            out["gaps"].append(case["case_id"])
        try:
            result = send_notice(engine, notice, dag_id=DAG_ID, run_id=plan["run_id"], now=clock(), dry_run=False)
        except Exception as exc:  # the others still go out; the task fails afterwards and is retried
            log.error("sending %s failed: %s", notice.dedupe_key, exc)
            out["failed"].append(notice.dedupe_key)
            continue
        out["sent" if result == "sent" else "already_sent"] += 1
        with engine.begin() as conn:
            record_notice(
                conn,
                {
                    "case_id": case["case_id"],
                    "severity": case["severity"],
                    "kind": kind,
                    "dedupe_key": notice.dedupe_key,
                    "opened_at": case["opened_at"],
                    "due_at": notice_due_at(case["severity"], case["opened_at"], case["region"]),
                    "sent_at": _sent_at(engine, notice.dedupe_key) if kind == "proactive" else None,
                    "run_id": plan["run_id"],
                },
            )
    if out["failed"]:
        raise RuntimeError(f"{len(out['failed'])} incident e-mail(s) not sent: {', '.join(out['failed'][:10])}")
    return out


def _sent_at(engine: Any, dedupe_key: str) -> datetime | None:
    """When the notices table says the notice went out (the first successful send)."""
    from sqlalchemy import select

    from di_ops.db import schema
    from di_ops.pipelines.sla.watch_state import aware

    with engine.connect() as conn:
        row = conn.execute(select(schema.notices.c.sent_at).where(schema.notices.c.dedupe_key == dedupe_key)).first()
    return None if row is None else aware(row[0])


def review_escalations(
    plan: dict[str, Any], ingested: dict[str, Any], notified: dict[str, Any], *, clock: Callable[[], datetime] = _clock
) -> dict[str, Any]:
    """Escalation candidates (S1/S2 alert on-call at once, S3/S4 in the daily digest) and the run's report."""
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.sla.watch_escalation import review_states, send_digest

    engine = ops_engine()
    as_of = datetime.fromisoformat(plan["as_of"])
    reviewed = review_states(engine, plan, as_of, clock)
    digest = send_digest(engine, plan, as_of, clock)
    report = {
        "run_id": plan["run_id"],
        "as_of": plan["as_of"],
        "files": ingested["files"],
        "blank_files": plan["blank"],
        "cases_new": ingested["new"],
        "cases_changed": ingested["changed"],
        "quarantined": ingested["quarantined"],
        "process_deviations": ingested["deviations"],
        "notices": notified,
        "escalation": reviewed,
        "digest": digest,
    }
    happened = ingested["files"] or notified["due"] or reviewed["changed"] or digest.get("sent")
    if happened:
        from di_ops.core.run_folders import run_folder_name

        folder = watch_reports_dir() / run_folder_name(plan["run_id"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / REPORT).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return {
        "cases_new": ingested["new"],
        "notices_sent": notified["sent"],
        "data_gaps": len(notified["gaps"]),
        "candidates_changed": reviewed["changed"],
        "alerts": reviewed["alerts"],
        "deviations": len(ingested["deviations"]),
        "digest": digest.get("result"),
    }
