"""Task bodies of the ``cop_upload`` DAG: intake (inbox + manual request), notices, uploads, report.

Every step is safe to repeat: a request is recorded once (its id is a digest of the inbox file or
of the manual run), an inbox file is moved only after its request is recorded, an upload with a
receipt is not redone, notices go out once per request.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from di_ops.adapters.opsdb import ops_engine, pin_snapshot, snapshot_rows, write_audit
from di_ops.db.tables_cop import cop_requests, cop_uploads
from di_ops.pipelines.cop_plan import (
    CopRequest,
    decide_timing,
    inbox_request_id,
    manual_request_id,
    parse_inbox_request,
    read_checksums,
    validate_request,
)
from di_ops.settings_cop import CopSettings, cop_settings

log = logging.getLogger(__name__)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: the ops DB stores UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fail_task(message: str) -> Exception:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


# --- intake -----------------------------------------------------------------------------------


def _move_beside(path: Path, folder: Path, request_id: str, reason: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / path.name
    if dest.exists():
        dest = folder / f"{request_id[:12]}-{path.name}"
    if reason is not None:
        dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    shutil.move(str(path), dest)
    return dest


def _connection_known(conn_id: str) -> bool:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError) as exc:
        if isinstance(exc, AirflowRuntimeError) and "CONNECTION_NOT_FOUND" not in str(exc):
            raise
        return False
    return True


def _row(request: CopRequest, *, dag_id: str, run_id: str, now: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "source": request.source,
        "origin": request.origin,
        "emergency": request.emergency,
        "customer_id": request.customer_id,
        "cop_file": request.cop_file,
        "requested_at": request.requested_at.astimezone(UTC),
        "inbox_file": request.inbox_file,
        "dag_id": dag_id,
        "run_id": run_id,
        "created_at": now,
        "updated_at": now,
        "region": None,
        "sha512": None,
        "bytes": None,
        "reason": None,
        "window_start": None,
        "window_end": None,
        **fields,
    }


def _work_item(row: dict[str, Any]) -> dict[str, Any]:
    """What an upload task needs (small, JSON-safe for XCom)."""
    return {k: row[k] for k in ("request_id", "customer_id", "cop_file", "sha512", "bytes")}


def _notice_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": row["request_id"],
        "customer_id": row["customer_id"],
        "cop_file": row["cop_file"],
        "region": row["region"],
        "window_start": row["window_start"].isoformat(),
        "window_end": row["window_end"].isoformat(),
    }


def _evaluate(
    request: CopRequest,
    *,
    settings: CopSettings,
    repository: Path,
    checksums: dict[str, Any],
    customers: dict[str, dict[str, Any]],
    as_of: datetime,
    dag_id: str,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    try:
        valid = validate_request(request, repository, checksums, customers)
        conn_id = settings.connection_id(request.customer_id)
        if not _connection_known(conn_id):
            raise ValueError(f"no Airflow SFTP connection {conn_id!r} for customer {request.customer_id}")
        timing = decide_timing(
            request, valid.region, as_of, emergency_uses_open_window=settings.emergency_uses_open_window
        )
        contacts = customers[request.customer_id].get("contacts") or []
        if timing.notice and not any(c.get("email") for c in contacts):
            raise ValueError(f"customer {request.customer_id} has no contacts on file for the change notice")
    except ValueError as exc:
        return _row(request, dag_id=dag_id, run_id=run_id, now=now, status="rejected", reason=str(exc))
    return _row(
        request,
        dag_id=dag_id,
        run_id=run_id,
        now=now,
        status=timing.status,
        reason=timing.why,
        region=valid.region,
        sha512=valid.sha512,
        bytes=valid.bytes,
        window_start=timing.window.start.astimezone(UTC) if timing.window else None,
        window_end=timing.window.end.astimezone(UTC) if timing.window else None,
        notice=timing.notice,
    )


def intake(
    params: dict[str, Any], *, dag_id: str, run_id: str, as_of: datetime, started_at: datetime, dry_run: bool
) -> dict[str, Any]:
    """Read the inbox and the manual request, validate and plan them, pick up due planned uploads.

    Returns ``due`` (work items to upload now), ``notify`` (request ids needing a change notice),
    ``planned``, ``rejected`` and ``missed`` (request ids). A dry run records nothing and moves nothing.
    """
    settings = cop_settings()
    engine = ops_engine()
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    if snapshot is None:
        if params.get("customer_id") or params.get("cop_file"):  # transient (retried): inventory_sync may be loading
            raise RuntimeError("no inventory snapshot in the ops DB yet: inventory_sync must run first")
        # A scheduled pickup before the first inventory: nothing can be validated, so nothing is
        # read, moved or rejected; the inbox waits for the next run (no failure, no alert).
        inbox = settings.folder(settings.inbox)
        waiting = len(list(inbox.glob("*.json"))) if inbox.is_dir() else 0
        log.warning(
            "no inventory snapshot in the ops DB yet (inventory_sync has not run): %d inbox request(s) "
            "left for the next run",
            waiting,
        )
        return {
            "due": [],
            "notify": [],
            "planned": [],
            "rejected": [],
            "missed": [],
            "dry_run_plan": [],
            "waiting_for_inventory": waiting,
        }
    customers = {c["customer_id"]: c for c in snapshot_rows(engine, snapshot)["customers"]}
    repository, inbox = settings.folder(settings.repository), settings.folder(settings.inbox)
    checksums = read_checksums(repository, settings.checksum_files)
    now = started_at.astimezone(UTC)
    common = {
        "settings": settings,
        "repository": repository,
        "checksums": checksums,
        "customers": customers,
        "as_of": as_of,
        "dag_id": dag_id,
        "run_id": run_id,
        "now": now,
    }

    new_rows: list[tuple[dict[str, Any], Path | None]] = []
    for path in sorted(inbox.glob("*.json")) if inbox.is_dir() else []:
        content = path.read_bytes()
        try:
            request = parse_inbox_request(path, content, settings.default_origin, now)
        except ValueError as exc:  # unreadable: rejected under its file's id, with the reason
            bad = CopRequest(
                request_id=inbox_request_id(path, content),
                source="inbox",
                origin="customer",
                customer_id="?",
                cop_file="?",
                requested_at=now,
                inbox_file=path.name,
            )
            new_rows.append(
                (_row(bad, dag_id=dag_id, run_id=run_id, now=now, status="rejected", reason=str(exc)), path)
            )
            continue
        new_rows.append((_evaluate(request, **common), path))
    if params.get("customer_id") or params.get("cop_file"):
        request = CopRequest(
            request_id=manual_request_id(dag_id, run_id, str(params.get("customer_id")), str(params.get("cop_file"))),
            source="manual",
            origin=params.get("origin") or "operator",
            emergency=bool(params.get("emergency")),
            customer_id=str(params.get("customer_id") or "?"),
            cop_file=str(params.get("cop_file") or "?"),
            requested_at=as_of,
            requested_by="Airflow UI",
        )
        new_rows.append((_evaluate(request, **common), None))

    recorded: list[dict[str, Any]] = []
    for row, path in new_rows:
        notice = row.pop("notice", False)
        existing = None
        if not dry_run:
            with engine.begin() as conn:
                existing = (
                    conn.execute(select(cop_requests).where(cop_requests.c.request_id == row["request_id"]))
                    .mappings()
                    .first()
                )
                if existing is None:
                    try:
                        conn.execute(insert(cop_requests).values(**row))
                    except IntegrityError:
                        existing = row
        if existing is not None:  # read before (a retry): only finish moving its file
            row, notice = dict(existing), False
        if path is not None and not dry_run and path.exists():
            folder = inbox / ("rejected" if row["status"] == "rejected" else "processed")
            _move_beside(path, folder, row["request_id"], row["reason"] if row["status"] == "rejected" else None)
        if existing is None:
            recorded.append(row | {"notice": notice})
            level = logging.WARNING if row["status"] == "rejected" else logging.INFO
            log.log(
                level,
                "request %s (%s %s for %s): %s - %s",
                row["request_id"][:12],
                row["origin"],
                row["cop_file"],
                row["customer_id"],
                row["status"],
                row["reason"],
            )

    due = [r for r in recorded if r["status"] == "due"]
    missed: list[str] = []
    with engine.begin() as conn:
        waiting = (
            conn.execute(select(cop_requests).where(cop_requests.c.status.in_(("planned", "due")))).mappings().all()
        )
        for row in waiting:
            if any(r["request_id"] == row["request_id"] for r in recorded):
                continue
            start, end = as_utc(row["window_start"]), as_utc(row["window_end"])
            if row["status"] == "due" or (start is not None and end is not None and start <= as_of < end):
                due.append(dict(row))
            elif end is not None and end <= as_of:
                missed.append(row["request_id"])
                if not dry_run:
                    conn.execute(
                        update(cop_requests)
                        .where(cop_requests.c.request_id == row["request_id"])
                        .values(status="missed", updated_at=now, reason=f"its window ended {end.isoformat()} unused")
                    )
    if not dry_run:
        write_audit(
            engine,
            [
                {
                    "at": now,
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "entity": f"{r['customer_id']}/{r['cop_file']}",
                    "action": f"cop_request_{r['status']}",
                    "detail": {"request_id": r["request_id"], "reason": r["reason"]},
                    "actor": None,
                }
                for r in recorded
            ],
        )
    summary = {
        "due": [_work_item(r) for r in due],
        "notify": [_notice_item(r) for r in recorded if r.get("notice")],
        "planned": [r["request_id"] for r in recorded if r["status"] == "planned"],
        "rejected": [
            {"request_id": r["request_id"], "reason": r["reason"]} for r in recorded if r["status"] == "rejected"
        ],
        "missed": missed,
        "dry_run_plan": [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in recorded]
        if dry_run
        else [],
    }
    log.info(
        "intake: %d due, %d planned, %d rejected, %d missed",
        len(summary["due"]),
        len(summary["planned"]),
        len(summary["rejected"]),
        len(missed),
    )
    return summary


# --- notices ----------------------------------------------------------------------------------


def send_notices(
    items: list[dict[str, Any]], *, dag_id: str, run_id: str, as_of: datetime, started_at: datetime, dry_run: bool
) -> dict[str, str]:
    """A change notice (with an .ics event) per planned regular upload, once per request.

    Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file).
    """
    from di_ops.adapters.mail import send_notice
    from di_ops.notices import CalendarEvent, Notice, ics_text, local_and_utc
    from di_ops.rules.common import region_zone

    if not items:
        return {}
    engine = ops_engine()
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    customers = {c["customer_id"]: c for c in snapshot_rows(engine, snapshot)["customers"]} if snapshot else {}
    results: dict[str, str] = {}
    for item in items:
        customer = customers.get(item["customer_id"], {})
        to = tuple(sorted({c["email"] for c in customer.get("contacts") or [] if c.get("email")}))
        if not to:
            raise fail_task(f"customer {item['customer_id']} has no contacts on file for the change notice")
        start, end = datetime.fromisoformat(item["window_start"]), datetime.fromisoformat(item["window_end"])
        zone = region_zone(item["region"]).key
        when = f"{local_and_utc(start, zone)} - {local_and_utc(end, zone)}"
        event = CalendarEvent(
            uid=f"cop-{item['request_id']}@di-ops",
            sequence=0,
            start=start,
            end=end,
            summary=f"COP upload {item['cop_file']} ({item['customer_id']})",
            description=f"The operator uploads {item['cop_file']} to your instance's SFTP server; "
            "the partner installs it.",
            attendees=to,
        )
        notice = Notice(
            dedupe_key=f"cop:{item['request_id']}",
            kind="cop_upload",
            entity=f"{item['customer_id']}/{item['cop_file']}",
            to=to,
            subject=f"Planned maintenance: COP upload {item['cop_file']} for {customer.get('name', item['customer_id'])}",
            html=(
                f"<p>Planned maintenance for {customer.get('name', item['customer_id'])} "
                f"(partner {customer.get('partner', '?')}).</p>"
                f"<p>The operator uploads the signed COP file <b>{item['cop_file']}</b> to the SFTP server of "
                f"your instance in the maintenance window <b>{when}</b>. The partner installs it.</p>"
                "<p>Please answer a conflict within 3 days.</p>"
            ),
            attachments={"cop-upload.ics": ics_text(event, method="REQUEST", dtstamp=started_at)},
        )
        results[item["request_id"]] = send_notice(
            engine, notice, dag_id=dag_id, run_id=run_id, now=started_at, dry_run=dry_run
        )
    return results


# --- report -----------------------------------------------------------------------------------


def write_report(intake_summary: dict[str, Any] | None, *, dag_id: str, run_id: str, dry_run: bool) -> dict[str, Any]:
    """The run report (JSON in the reports folder): requests by status and the upload receipts."""
    settings = cop_settings()
    if intake_summary is None:  # the run stopped before intake (change freeze, an intake failure)
        raise fail_task("intake did not run (change freeze or an earlier failure): nothing was read or uploaded")
    ids = [i["request_id"] for i in intake_summary.get("due", [])]
    ids += intake_summary.get("planned", []) + [r["request_id"] for r in intake_summary.get("rejected", [])]
    ids += intake_summary.get("missed", [])
    engine = ops_engine()
    with engine.connect() as conn:
        requests = [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
            for r in conn.execute(select(cop_requests).where(cop_requests.c.request_id.in_(ids))).mappings()
        ]
        receipts = [
            dict(r["detail"]) | {"request_id": r["request_id"], "customer_id": r["customer_id"]}
            for r in conn.execute(select(cop_uploads).where(cop_uploads.c.request_id.in_(ids))).mappings()
        ]
    report = {
        "dag_id": dag_id,
        "run_id": run_id,
        "dry_run": dry_run,
        "requests": sorted(requests, key=lambda r: r["request_id"]),
        "uploads": sorted(receipts, key=lambda r: r["request_id"]),
        "dry_run_plan": intake_summary.get("dry_run_plan", []),
        # inbox requests left unread because no inventory snapshot existed yet (read by the next run)
        "waiting_for_inventory": intake_summary.get("waiting_for_inventory", 0),
        "counts": {
            status: sum(1 for r in requests if r["status"] == status)
            for status in ("due", "planned", "uploaded", "rejected", "failed", "missed")
        },
    }
    folder = settings.folder(settings.reports)
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    (folder / f"{safe}.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    for receipt in report["uploads"]:
        log.info(
            "receipt %s -> %s: %d bytes, sha512 %s..., %.2f s, %.1f MB/s (%s)",
            receipt["file"],
            receipt["customer_id"],
            receipt["bytes"],
            receipt["sha512"][:16],
            receipt["duration_s"],
            receipt["mb_per_s"],
            receipt["outcome"],
        )
    failed = [r for r in requests if r["status"] == "failed"]
    if failed:
        raise fail_task(
            f"{len(failed)} upload(s) failed (report {folder / f'{safe}.json'}): "
            + "; ".join(f"{r['customer_id']}/{r['cop_file']}: {r['reason']}" for r in failed)
        )
    return report["counts"]
