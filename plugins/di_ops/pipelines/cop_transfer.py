"""The upload task of ``cop_upload``: the customer's SFTP target, the per-customer lease, the receipt.

Airflow pools are global, so one upload per customer at a time is a lease row in the ops DB
(``cop_leases``); a retry of the same task re-enters its own lease, a crashed worker's lease
expires after ``lease_seconds``.
"""

from __future__ import annotations

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
