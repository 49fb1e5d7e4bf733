"""Task bodies of the ``cop_upload`` DAG: intake (inbox + manual request), notices, uploads, report.

Every step is safe to repeat: a request is recorded once (its id is a digest of the inbox file or
of the manual run), an inbox file is moved only after its request is recorded, an upload with a
receipt is not redone, notices go out once per request.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from di_ops.db.tables_cop import cop_requests
from di_ops.integrations.opsdb import ops_engine, pin_snapshot, snapshot_rows, write_audit
from di_ops.pipelines.cop.missed import notice_item, review_waiting, work_item
from di_ops.pipelines.cop.plan import (
    CopRequest,
    decide_timing,
    display_name,
    inbox_entries,
    inbox_request_id,
    manual_request_id,
    move_inbox_entry,
    parse_inbox_request,
    read_checksums,
    read_inbox_file,
    validate_request,
)
from di_ops.pipelines.cop.settings import CopSettings, cop_settings

log = logging.getLogger(__name__)


def fail_task(message: str) -> Exception:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


# --- intake -----------------------------------------------------------------------------------


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


def _unknown_request(request_id: str, source: str, at: datetime, inbox_file: str | None) -> CopRequest:
    """The stand-in for a request that could not be read: recorded (rejected) under its id."""
    return CopRequest(
        request_id=request_id,
        source=source,  # type: ignore[arg-type]
        origin="customer" if source == "inbox" else "operator",
        customer_id="?",
        cop_file="?",
        requested_at=at,
        inbox_file=inbox_file,
    )


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

    Returns ``due`` (work items to upload now), ``notify`` (change notices to send), ``alerts``
    (missed-window alerts to send), ``planned`` (request ids), ``rejected``, and the review's
    ``missed``, ``replanned`` and ``awaiting_notice`` entries (``di_ops.pipelines.cop.missed``).
    A dry run records nothing and moves nothing.
    """
    settings = cop_settings()
    engine = ops_engine()
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    if snapshot is None:
        if params.get("customer_id") or params.get("cop_file"):  # transient (retried): inventory_sync may be loading
            raise RuntimeError("no inventory snapshot in the ops DB yet: inventory_sync must run first")
        # A scheduled pickup before the first inventory: nothing can be validated, so nothing is
        # read, moved or rejected; the inbox waits for the next run (no failure, no alert).
        waiting = len(inbox_entries(settings.folder(settings.inbox)))
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
            "alerts": [],
            "missed": [],
            "replanned": [],
            "awaiting_notice": [],
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

    limits = settings.inbox_limits
    new_rows: list[tuple[dict[str, Any], Path | None]] = []
    for path in inbox_entries(inbox):
        read = read_inbox_file(path, limits.max_request_bytes)
        if read is None:  # gone since it was listed
            continue
        problem = read.problem
        if problem is None:
            try:
                request = parse_inbox_request(
                    path, read.content, settings.default_origin, now, max_depth=limits.max_json_depth
                )
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:  # unreadable: rejected under its entry's id, with the reason
            bad = _unknown_request(inbox_request_id(path, read.content), "inbox", now, display_name(path.name))
            new_rows.append((_row(bad, dag_id=dag_id, run_id=run_id, now=now, status="rejected", reason=problem), path))
            continue
        new_rows.append((_evaluate(request, **common), path))
    manual: dict[str, Any] | None = None
    if params.get("customer_id") or params.get("cop_file"):
        request_id = manual_request_id(dag_id, run_id, str(params.get("customer_id")), str(params.get("cop_file")))
        missing = [name for name in ("customer_id", "cop_file") if not params.get(name)]
        try:
            if missing:
                raise ValueError(f"a manual request needs both customer_id and cop_file; {missing[0]} is empty")
            request = CopRequest(
                request_id=request_id,
                source="manual",
                origin=params.get("origin") or "operator",
                emergency=bool(params.get("emergency")),
                customer_id=str(params.get("customer_id") or "?"),
                cop_file=str(params.get("cop_file") or "?"),
                requested_at=as_of,
                requested_by="Airflow UI",
            )
        except ValueError as exc:  # a Param no request can hold (a NUL, an over-long name)
            bad = _unknown_request(request_id, "manual", as_of, None)
            new_rows.append(
                (_row(bad, dag_id=dag_id, run_id=run_id, now=now, status="rejected", reason=str(exc)), None)
            )
        else:
            new_rows.append((_evaluate(request, **common), None))
        row = new_rows[-1][0]
        manual = {"request_id": request_id, "status": row["status"], "reason": row["reason"]}
        if row["status"] == "rejected":
            reason = str(row["reason"])
            manual["param"] = (
                missing[0]
                if missing
                else "customer_id"
                if reason.startswith(("customer ", "no Airflow SFTP connection"))
                else "cop_file"
            )

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
        if path is not None and not dry_run and os.path.lexists(path):
            folder = inbox / ("rejected" if row["status"] == "rejected" else "processed")
            move_inbox_entry(path, folder, row["request_id"], row["reason"] if row["status"] == "rejected" else None)
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

    review = review_waiting(
        engine,
        skip={r["request_id"] for r in recorded},
        as_of=as_of,
        now=now,
        settings=settings,
        dag_id=dag_id,
        run_id=run_id,
        dry_run=dry_run,
    )
    due = [work_item(r) for r in recorded if r["status"] == "due"] + review.due
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
            ]
            + review.audit,
        )
    summary = {
        "due": due,
        "notify": [notice_item(r) for r in recorded if r.get("notice")] + review.notify,
        "alerts": review.alerts,
        "planned": [r["request_id"] for r in recorded if r["status"] == "planned"],
        "rejected": [
            {"request_id": r["request_id"], "reason": r["reason"]} for r in recorded if r["status"] == "rejected"
        ],
        "manual": manual,
        "missed": review.missed,
        "replanned": review.replanned,
        "awaiting_notice": review.awaiting_notice,
        "dry_run_plan": [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in recorded]
        if dry_run
        else [],
    }
    log.info(
        "intake: %d due, %d planned, %d rejected, %d missed, %d re-planned (notice not sent by the window), "
        "%d awaiting their notice",
        len(summary["due"]),
        len(summary["planned"]),
        len(summary["rejected"]),
        len(review.missed),
        len(review.replanned),
        len(review.awaiting_notice),
    )
    return summary
