"""Sending notices through Airflow's SMTP connection, once per dedupe key, recorded in the ops DB.

The message is a calendar invitation mail clients offer to accept or decline (text/plain, text/html
and ``text/calendar; method=...`` alternatives, the .ics also attached; :func:`build_message`).

A notice row is written *before* the send (status ``pending``) and marked ``sent`` after;
a rerun finds the row and sends nothing. Should a worker die between the send and the mark,
the retry sends again with the same Message-ID, so mail clients show one message.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import Literal

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from di_ops.core.notices import Notice
from di_ops.db import schema

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
# On the wire: CRLF, and header lines up to RFC 5322's hard limit of 998 characters, unfolded as
# Airflow's SMTP provider writes them (a long subject reads whole also to a script that does not unfold).
WIRE = SMTP.clone(max_line_length=998)
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


def build_message(notice: Notice, from_email: str) -> EmailMessage:
    """The MIME message of ``notice`` (stdlib ``email``), as mail clients expect an invitation (iMIP, RFC 6047)::

        multipart/mixed
          multipart/alternative
            text/plain; charset=utf-8                       (when the notice has a text)
            text/html; charset=utf-8
            text/calendar; charset=utf-8; method=REQUEST    (or CANCEL: the METHOD of the .ics)
          application/ics; name=<file>.ics                  (the same invitation as a file)
          <other attachments>

    A notice without a calendar or attachments is just the alternatives (or the HTML alone).
    """
    import mimetypes

    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = from_email
    message["To"] = ", ".join(notice.to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(notice.dedupe_key)
    # quoted-printable text and base64 calendar: 7-bit safe on any relay, the .ics byte for byte (CRLF)
    if notice.text:
        message.set_content(notice.text, subtype="plain", charset="utf-8", cte="quoted-printable")
        message.add_alternative(notice.html, subtype="html", charset="utf-8", cte="quoted-printable")
    else:
        message.set_content(notice.html, subtype="html", charset="utf-8", cte="quoted-printable")
    calendar = notice.calendar
    if calendar is not None:
        if not notice.text:  # an invitation is an alternative of a multipart/alternative body
            message.make_alternative()
        message.add_alternative(
            calendar.ics.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            cte="base64",
            params={"charset": "utf-8", "method": calendar.method},
        )
    for name, content in notice.attachments.items():
        if calendar is not None and name == calendar.filename:
            maintype, subtype = "application", "ics"  # as Google Calendar attaches its invite.ics
        else:
            guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
            maintype, subtype = guessed.split("/", 1)
        message.add_attachment(content.encode("utf-8"), maintype=maintype, subtype=subtype, filename=name)
    return message


def _smtp_send(notice: Notice, conn_id: str) -> None:
    """Send through the SMTP connection ``conn_id``, read by the SMTP provider's hook.

    The provider's public sending API (``SmtpHook.send_email_smtp``, smtp provider 3.2.0) writes an
    HTML body with ``application/octet-stream`` files only, and its SMTP client is private: the hook
    reads the connection (host, port, SSL/STARTTLS, login, timeout, ``from_email``, ``retry_limit``)
    through its public properties, and ``smtplib`` sends the message :func:`build_message` wrote.
    """
    import smtplib
    import ssl

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from di_ops.core.refusals import PermanentFailure

    hook = SmtpHook(smtp_conn_id=conn_id)
    hook.smtp_connection = hook.get_connection(conn_id)  # what get_conn() loads, without its session
    if not hook.from_email:  # the connection's setup, not the notice: a retry cannot fix it
        raise PermanentFailure(f"the SMTP connection {conn_id!r} has no from_email in its extra")
    message = build_message(notice, hook.from_email)
    for attempt in range(hook.smtp_retry_limit + 1):
        try:
            client: smtplib.SMTP
            if hook.use_ssl:
                client = smtplib.SMTP_SSL(
                    hook.host, hook.port or 0, timeout=hook.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(hook.host, hook.port or 0, timeout=hook.timeout)
            with client:
                if hook.smtp_starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if hook.smtp_user and hook.smtp_password:
                    client.login(hook.smtp_user, hook.smtp_password)
                client.sendmail(hook.from_email, list(notice.to), message.as_bytes(policy=WIRE))
            return
        except smtplib.SMTPServerDisconnected:
            if attempt == hook.smtp_retry_limit:
                raise
