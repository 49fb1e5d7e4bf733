"""The upload and report tasks of ``cop_upload``: the customer's SFTP target, the per-customer
lease, the receipt, the run report.

Airflow pools are global, so one upload per customer at a time is a lease row in the ops DB
(``cop_leases``); a retry of the same task re-enters its own lease, a crashed worker's lease
expires after ``lease_seconds``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from di_ops.core.run_folders import run_folder_name
from di_ops.db.tables_cop import cop_leases, cop_requests, cop_uploads
from di_ops.integrations.opsdb import ops_engine, write_audit
from di_ops.pipelines.cop.missed import as_utc
from di_ops.pipelines.cop.settings import CopSettings, cop_settings
from di_ops.pipelines.cop.tasks import fail_task

log = logging.getLogger(__name__)


# --- per-customer lease -----------------------------------------------------------------------


class LeaseBusy(RuntimeError):
    """Another upload to the same customer holds the lease (transient: a retry waits again)."""


def _try_lease(engine: Engine, customer_id: str, holder: str, ttl: timedelta) -> str | None:
    """Take the lease; None on success, else the current holder."""
    now = datetime.now(UTC)  # a lease is about wall-clock liveness, not a decision of the run
    with engine.begin() as conn:
        row = conn.execute(select(cop_leases).where(cop_leases.c.customer_id == customer_id)).mappings().first()
        if row is None:
            try:
                conn.execute(
                    insert(cop_leases).values(
                        customer_id=customer_id, holder=holder, acquired_at=now, expires_at=now + ttl
                    )
                )
            except IntegrityError:
                return "another task (just now)"
            return None
        expires = as_utc(row["expires_at"])
        if row["holder"] != holder and expires is not None and expires > now:
            return str(row["holder"])
        taken = conn.execute(
            update(cop_leases)
            .where(cop_leases.c.customer_id == customer_id, cop_leases.c.holder == row["holder"])
            .values(holder=holder, acquired_at=now, expires_at=now + ttl)
        )
        return None if taken.rowcount == 1 else "another task (just now)"


@contextmanager
def customer_lease(
    engine: Engine, customer_id: str, holder: str, *, ttl_s: float, wait_s: float, poll_s: float
) -> Iterator[None]:
    """Hold the customer's upload lease for the block: one upload per customer at a time."""
    deadline = time.monotonic() + wait_s
    while (other := _try_lease(engine, customer_id, holder, timedelta(seconds=ttl_s))) is not None:
        if time.monotonic() >= deadline:
            raise LeaseBusy(f"an upload to customer {customer_id} is running ({other}); retrying later")
        time.sleep(poll_s)
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                cop_leases.delete().where(cop_leases.c.customer_id == customer_id, cop_leases.c.holder == holder)
            )


# --- upload -----------------------------------------------------------------------------------


def sftp_target(customer_id: str, settings: CopSettings | None = None) -> Any:
    """The SFTP target of a customer from its Airflow connection (read inside the task).

    Source: docs/pipelines/cop.md (Connections); the connection is read by
    :class:`~di_ops.integrations.sftp.hook.DiOpsSftpHook`.
    """
    from di_ops.integrations.sftp.hook import DiOpsSftpHook

    settings = settings or cop_settings()
    return DiOpsSftpHook(settings.connection_id(customer_id)).target(settings.remote_folder)


def upload_request(
    item: dict[str, Any], *, dag_id: str, run_id: str, holder: str, dry_run: bool, last_try: bool
) -> dict[str, Any]:
    """Upload one request's COP file under the customer's lease; record the receipt once.

    A planned upload (``item["window_end"]`` set) that fails keeps its error in ``last_error``: a
    refused one (host key, checksum, conflict) is ``failed``; a transient one (server down, lease
    busy, a timeout) stays ``planned`` after the last try, as a refusal (no on-call alert): the next
    run inside the window tries again, and a window that closes without the upload is missed - one
    alert to the operator and a re-plan (``di_ops.pipelines.cop.missed``, DOMAIN.md §2).
    """
    from di_ops.core.tasks import refused
    from di_ops.integrations.sftp.upload import PermanentUploadError, TransferTuning, upload_file

    settings = cop_settings()
    if dry_run:
        target = sftp_target(item["customer_id"], settings)
        log.info("dry run: would upload %s (%s bytes) to %s", item["cop_file"], item["bytes"], target.describe())
        return {**item, "outcome": "dry_run", "target": target.describe()}
    engine = ops_engine()
    with engine.connect() as conn:
        done = (
            conn.execute(select(cop_uploads).where(cop_uploads.c.request_id == item["request_id"])).mappings().first()
        )
    if done is not None:
        log.info("request %s was uploaded before (%s): nothing to do", item["request_id"][:12], done["outcome"])
        return dict(done["detail"]) | {"request_id": item["request_id"]}
    target = sftp_target(item["customer_id"], settings)
    local = settings.folder(settings.repository) / item["cop_file"]
    tuning = TransferTuning(
        packets_per_request=settings.transfer.packets_per_request, max_outstanding=settings.transfer.max_outstanding
    )

    windowed = item.get("window_end") is not None

    def mark(status: str | None, reason: str) -> None:
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if status is not None:
            values |= {"status": status, "reason": reason}
        if windowed:
            values["last_error"] = reason
        with engine.begin() as conn:
            conn.execute(update(cop_requests).where(cop_requests.c.request_id == item["request_id"]).values(**values))

    try:
        with customer_lease(
            engine,
            item["customer_id"],
            holder,
            ttl_s=settings.lease_seconds,
            wait_s=settings.lease_wait_seconds,
            poll_s=settings.lease_poll_seconds,
        ):
            receipt = upload_file(target, local, item["cop_file"], expected_sha512=item["sha512"], tuning=tuning)
    except PermanentUploadError as exc:
        mark("failed", str(exc))
        raise fail_task(f"upload of {item['cop_file']} to {item['customer_id']} refused: {exc}") from exc
    except Exception as exc:
        if windowed:
            mark(None, f"{type(exc).__name__}: {exc}")
            if last_try:
                raise refused(
                    f"upload of {item['cop_file']} to {item['customer_id']} not done ({exc}); it stays planned: "
                    f"the next run inside its window (until {item['window_end']}) tries again, else it is marked "
                    "missed, the operator alerted and the upload re-planned"
                ) from exc
        elif last_try:
            mark("failed", f"gave up after retries: {exc}")
        raise
    finished = datetime.now(UTC)
    detail = receipt.as_dict()
    with engine.begin() as conn:
        try:
            conn.execute(
                insert(cop_uploads).values(
                    request_id=item["request_id"],
                    customer_id=item["customer_id"],
                    cop_file=item["cop_file"],
                    remote_path=receipt.remote_path,
                    bytes=receipt.bytes,
                    sha512=receipt.sha512,
                    outcome=receipt.outcome,
                    bytes_sent=receipt.bytes_sent,
                    duration_s=receipt.duration_s,
                    mb_per_s=receipt.mb_per_s,
                    detail=detail,
                    dag_id=dag_id,
                    run_id=run_id,
                    finished_at=finished,
                )
            )
        except IntegrityError:
            pass
        conn.execute(
            update(cop_requests)
            .where(cop_requests.c.request_id == item["request_id"])
            .values(status="uploaded", reason=f"{receipt.outcome} to {receipt.remote_path}", updated_at=finished)
        )
    write_audit(
        engine,
        [
            {
                "at": finished,
                "dag_id": dag_id,
                "run_id": run_id,
                "entity": f"{item['customer_id']}/{item['cop_file']}",
                "action": "cop_uploaded",
                "detail": detail,
                "actor": None,
            }
        ],
    )
    return detail | {"request_id": item["request_id"]}


# --- report -----------------------------------------------------------------------------------


def _notice_outcomes(engine: Engine, items: list[dict[str, Any]]) -> dict[str, str]:
    """The recorded status of each notice or alert the run had to send, by dedupe key
    (``not recorded`` when none)."""
    from di_ops.db.schema import notices

    keys = {item.get("dedupe_key") or f"cop:{item['request_id']}" for item in items}
    with engine.connect() as conn:
        found = {r.dedupe_key: r.status for r in conn.execute(select(notices).where(notices.c.dedupe_key.in_(keys)))}
    return {key: found.get(key, "not recorded") for key in sorted(keys)}


def write_report(intake_summary: dict[str, Any] | None, *, dag_id: str, run_id: str, dry_run: bool) -> dict[str, Any]:
    """The run report (JSON in the reports folder): requests by status, rejections with their
    reasons, change notices, the upload receipts, and the lifecycle of planned uploads: ``missed``
    (a window that closed without the upload: reason, alert, the re-planned window), ``replanned``
    (a window reached with its notice unsent: not uploaded), ``awaiting_notice`` and
    ``not_uploaded`` (due this run, not uploaded: a planned one stays planned for the next run in
    its window). See docs/pipelines/cop.md.

    A dry run records no request rows: its requests and counts come from the plan intake returned,
    so the report counts what intake rejected. A refused manual request (the run's Params) fails
    the run as a refusal naming the Param, after the inbox was handled. The report fails the run when an upload failed
    (a fault: alerted) or a notice, alert or due upload was not done (the task that tried failed
    and alerted, or refused, itself: the report only keeps the run from ending green, as a refusal).
    """
    from di_ops.core.tasks import refused

    settings = cop_settings()
    if intake_summary is None:  # the run stopped before intake (change freeze, an intake failure)
        raise fail_task("intake did not run (change freeze or an earlier failure): nothing was read or uploaded")
    due = intake_summary.get("due", [])
    missed = intake_summary.get("missed", [])
    lifecycle = missed + intake_summary.get("replanned", []) + intake_summary.get("awaiting_notice", [])
    ids = [i["request_id"] for i in due] + [e["request_id"] for e in lifecycle]
    ids += intake_summary.get("planned", []) + [r["request_id"] for r in intake_summary.get("rejected", [])]
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
    if dry_run:  # nothing was recorded: the plan stands for the rows, a missed window is not re-planned
        known = {r["request_id"] for r in requests}
        requests += [dict(r) for r in intake_summary.get("dry_run_plan", []) if r["request_id"] not in known]
        would_miss = {e["request_id"] for e in missed}
        requests = [r | {"status": "missed"} if r["request_id"] in would_miss else r for r in requests]
    notices = _notice_outcomes(engine, intake_summary.get("notify", []) + intake_summary.get("alerts", []))
    alert_status = {e["alert"]: notices.get(e["alert"], "not recorded") for e in missed}
    by_id = {r["request_id"]: r for r in requests}
    not_uploaded = (
        []
        if dry_run
        else [
            {
                "request_id": i["request_id"],
                "customer_id": i["customer_id"],
                "cop_file": i["cop_file"],
                "status": by_id.get(i["request_id"], {}).get("status"),
                "error": by_id.get(i["request_id"], {}).get("last_error"),
                "window_end": i.get("window_end"),
            }
            for i in due
            if by_id.get(i["request_id"], {}).get("status") not in ("uploaded", "failed")
        ]
    )
    counts = {
        status: sum(1 for r in requests if r["status"] == status)
        for status in ("due", "planned", "uploaded", "rejected", "failed")
    }
    report = {
        "dag_id": dag_id,
        "run_id": run_id,
        "dry_run": dry_run,
        "requests": sorted(requests, key=lambda r: r["request_id"]),
        "rejected": intake_summary.get("rejected", []),
        "notices": notices,
        "uploads": sorted(receipts, key=lambda r: r["request_id"]),
        "missed": [e | {"alert_status": alert_status[e["alert"]]} for e in missed],
        "replanned": intake_summary.get("replanned", []),
        "awaiting_notice": intake_summary.get("awaiting_notice", []),
        "not_uploaded": not_uploaded,
        "dry_run_plan": intake_summary.get("dry_run_plan", []),
        # inbox requests left unread because no inventory snapshot existed yet (read by the next run)
        "waiting_for_inventory": intake_summary.get("waiting_for_inventory", 0),
        "counts": counts
        | {
            "missed": len(missed),
            "replanned": len(intake_summary.get("replanned", [])),
            "awaiting_notice": len(intake_summary.get("awaiting_notice", [])),
        },
    }
    folder = settings.folder(settings.reports)
    folder.mkdir(parents=True, exist_ok=True)
    where = folder / f"{run_folder_name(run_id)}.json"
    where.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
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
    for entry in report["missed"]:
        log.warning("MISSED %s/%s: %s", entry["customer_id"], entry["cop_file"], entry["reason"])
    unsent = {key: status for key, status in notices.items() if status not in ("sent", "already_sent", "dry_run")}
    failed = [r for r in requests if r["status"] == "failed"]
    if failed:
        raise fail_task(
            f"{len(failed)} upload(s) failed (report {where}): "
            + "; ".join(f"{r['customer_id']}/{r['cop_file']}: {r['reason']}" for r in failed)
            + (f"; {len(unsent)} notice(s) not sent" if unsent else "")
        )
    manual = intake_summary.get("manual") or {}
    if manual.get("status") == "rejected":  # the operator's own request: the run must not end green
        raise refused(f"Param {manual['param']}: manual request refused: {manual['reason']}", param=manual["param"])
    problems = [f"{key}: {status}" for key, status in unsent.items()]
    problems += [
        f"upload {n['customer_id']}/{n['cop_file']} not done ({n['error'] or n['status']})" for n in not_uploaded
    ]
    if problems:
        raise refused(
            f"{len(unsent)} notice(s) or alert(s) not sent, {len(not_uploaded)} due upload(s) not done (see the "
            f"send_notices and upload tasks; report {where}): " + ", ".join(problems)
        )
    return report["counts"]
