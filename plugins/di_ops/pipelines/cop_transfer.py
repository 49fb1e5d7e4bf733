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
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from di_ops.adapters.opsdb import ops_engine, write_audit
from di_ops.db.tables_cop import cop_leases, cop_requests, cop_uploads
from di_ops.pipelines.cop import as_utc, fail_task
from di_ops.settings_cop import CopSettings, cop_settings

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
    """The SFTP target of a customer from its Airflow connection (read inside the task)."""
    from airflow.sdk import BaseHook

    from di_ops.adapters.sftp_upload import SftpTarget

    settings = settings or cop_settings()
    conn = BaseHook.get_connection(settings.connection_id(customer_id))
    extra = conn.extra_dejson
    if extra.get("no_host_key_check"):
        log.warning("connection %s sets no_host_key_check: ignored, host keys are always checked", conn.conn_id)
    keys = extra.get("host_key") or []
    host_keys = tuple([keys] if isinstance(keys, str) else keys)
    if extra.get("known_hosts"):
        host_keys += (str(extra["known_hosts"]),)
    if extra.get("known_hosts_file"):  # known_hosts lines or an OpenSSH .pub file
        try:
            host_keys += (Path(str(extra["known_hosts_file"])).read_text(encoding="utf-8"),)
        except OSError as exc:
            log.warning("connection %s: known_hosts_file unreadable: %s", conn.conn_id, exc)
    return SftpTarget(
        host=conn.host or "",
        port=int(conn.port or 22),
        username=conn.login or "",
        remote_folder=str(extra.get("remote_folder") or settings.remote_folder),
        host_keys=host_keys,
        private_key=extra.get("private_key"),
        key_file=extra.get("key_file"),
        passphrase=extra.get("private_key_passphrase") or conn.password or None,
        remote_hash=extra.get("remote_hash", "auto"),
        timeout=float(extra.get("conn_timeout", 30)),
    )


def upload_request(
    item: dict[str, Any], *, dag_id: str, run_id: str, holder: str, dry_run: bool, last_try: bool
) -> dict[str, Any]:
    """Upload one request's COP file under the customer's lease; record the receipt once."""
    from di_ops.adapters.sftp_upload import PermanentUploadError, TransferTuning, upload_file

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

    def mark(status: str, reason: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                update(cop_requests)
                .where(cop_requests.c.request_id == item["request_id"])
                .values(status=status, reason=reason, updated_at=datetime.now(UTC))
            )

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
        if last_try:
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


def _notice_outcomes(engine: Engine, notify: list[dict[str, Any]]) -> dict[str, str]:
    """The recorded status of each change notice the run had to send (``not recorded`` when none)."""
    from di_ops.db.schema import notices

    keys = {f"cop:{item['request_id']}": item["request_id"] for item in notify}
    with engine.connect() as conn:
        found = {r.dedupe_key: r.status for r in conn.execute(select(notices).where(notices.c.dedupe_key.in_(keys)))}
    return {request_id: found.get(key, "not recorded") for key, request_id in keys.items()}


def write_report(intake_summary: dict[str, Any] | None, *, dag_id: str, run_id: str, dry_run: bool) -> dict[str, Any]:
    """The run report (JSON in the reports folder): requests by status, rejections with their
    reasons, change notices and the upload receipts.

    A dry run records no request rows: its requests and counts come from the plan intake returned,
    so the report counts what intake rejected. The report fails the run when an upload failed
    (a fault: alerted) or a change notice was not sent (the notices task failed and alerted, or
    refused, itself: the report only keeps the run from ending green, as a refusal).
    """
    from di_ops.pipelines.common import refused

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
    if dry_run:  # nothing was recorded: the plan stands for the rows, a missed window is not marked
        known = {r["request_id"] for r in requests}
        requests += [dict(r) for r in intake_summary.get("dry_run_plan", []) if r["request_id"] not in known]
        missed = set(intake_summary.get("missed", []))
        requests = [r | {"status": "missed"} if r["request_id"] in missed else r for r in requests]
    notices = _notice_outcomes(engine, intake_summary.get("notify", []))
    report = {
        "dag_id": dag_id,
        "run_id": run_id,
        "dry_run": dry_run,
        "requests": sorted(requests, key=lambda r: r["request_id"]),
        "rejected": intake_summary.get("rejected", []),
        "notices": notices,
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
    unsent = {rid: status for rid, status in notices.items() if status not in ("sent", "dry_run")}
    failed = [r for r in requests if r["status"] == "failed"]
    if failed:
        raise fail_task(
            f"{len(failed)} upload(s) failed (report {folder / f'{safe}.json'}): "
            + "; ".join(f"{r['customer_id']}/{r['cop_file']}: {r['reason']}" for r in failed)
            + (f"; {len(unsent)} change notice(s) not sent" if unsent else "")
        )
    if unsent:
        raise refused(
            f"{len(unsent)} change notice(s) not sent (see the send_notices task; report "
            f"{folder / f'{safe}.json'}): " + ", ".join(f"request {rid[:12]}: {st}" for rid, st in unsent.items())
        )
    return report["counts"]
