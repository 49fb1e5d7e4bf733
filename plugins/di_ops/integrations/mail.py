"""Sending notices through Airflow's SMTP provider, once per dedupe key, recorded in the ops DB.

A notice row is written *before* the send (status ``pending``) and marked ``sent`` after;
a rerun finds the row and sends nothing. Should a worker die between the send and the mark,
the retry sends again with the same Message-ID, so mail clients show one message.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from di_ops.core.notices import Notice
from di_ops.db import schema

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
SendResult = Literal["sent", "already_sent", "dry_run"]


def message_id(dedupe_key: str) -> str:
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}@di-ops>"


def send_notice(
    engine: Engine,
    notice: Notice,
    *,
    dag_id: str,
    run_id: str,
    now: datetime,
    dry_run: bool,
    conn_id: str = SMTP_CONN_ID,
) -> SendResult:
    """Send ``notice`` unless a notice with its dedupe key was already sent (or recorded as a dry run)."""
    t = schema.notices
    with engine.begin() as conn:
        row = conn.execute(select(t.c.status).where(t.c.dedupe_key == notice.dedupe_key)).first()
    if row is not None and row[0] in {"sent", "dry_run"}:
        if not (row[0] == "dry_run" and not dry_run):
            return "already_sent"
    values = {
        "kind": notice.kind,
        "entity": notice.entity,
        "recipients": list(notice.to),
        "subject": notice.subject,
        "message_id": message_id(notice.dedupe_key),
        "dag_id": dag_id,
        "run_id": run_id,
        "created_at": now,
        "status": "dry_run" if dry_run else "pending",
        "error": None,
    }
    with engine.begin() as conn:
        if row is None:
            try:
                conn.execute(insert(t).values(dedupe_key=notice.dedupe_key, **values))
            except IntegrityError:  # a parallel task recorded it first
                return "already_sent"
        else:
            conn.execute(update(t).where(t.c.dedupe_key == notice.dedupe_key).values(**values))
    if dry_run:
        log.info("dry run: would send %r to %s", notice.subject, ", ".join(notice.to))
        return "dry_run"
    try:
        _smtp_send(notice, conn_id)
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(
                update(t).where(t.c.dedupe_key == notice.dedupe_key).values(status="failed", error=str(exc)[:2000])
            )
        raise
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.dedupe_key == notice.dedupe_key).values(status="sent", sent_at=now))
    log.info("sent %r to %s", notice.subject, ", ".join(notice.to))
    return "sent"


def _smtp_send(notice: Notice, conn_id: str) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with tempfile.TemporaryDirectory(prefix="di-ops-mail-") as folder:
        files = []
        for name, content in notice.attachments.items():
            path = Path(folder) / Path(name).name
            path.write_text(content, encoding="utf-8")
            files.append(str(path))
        with SmtpHook(smtp_conn_id=conn_id) as hook:
            hook.send_email_smtp(
                to=list(notice.to),
                subject=notice.subject,
                html_content=notice.html,
                files=files,
                custom_headers={"Message-ID": message_id(notice.dedupe_key)},
            )
