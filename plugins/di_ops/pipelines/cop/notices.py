"""The change notices of planned regular COP uploads (DOMAIN.md §2, §5): one e-mail with a
calendar invitation per plan of a request (a re-plan after a missed window is a new notice: same calendar
UID, SEQUENCE + 1), from an autoescaped Jinja2 template, sent once, every outcome recorded; and the
operator's alerts of missed windows (``di_ops.pipelines.cop.missed``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from di_ops.db.tables_cop import cop_requests
from di_ops.integrations.opsdb import ops_engine, pin_snapshot, snapshot_rows

log = logging.getLogger(__name__)


def cop_notice(item: dict[str, Any], customer: dict[str, Any], to: tuple[str, ...], sent_at: datetime) -> Any:
    """The change notice of a planned regular COP upload: HTML and plain text from
    ``templates/cop_notice.{html,txt}.j2`` (autoescaped HTML: inventory names are text, never markup)
    and the window as a calendar invitation (``text/calendar; method=REQUEST``, attached as ``cop-upload.ics``).

    ``item`` comes from ``cop_missed.notice_item``: its ``sequence`` is the event's SEQUENCE, its
    ``replaces`` the missed window a re-plan replaces (None for the first notice). The partner's
    answer deadline is ``sent_at`` + ``policy.change.partner_answer_days``.
    Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file; a change not
    carried out in its window is re-planned with a new notice; partners answer a conflict within
    2-3 days), §5.
    """
    from di_ops.core.notices import CalendarEvent, Notice, calendar_part, local_and_utc, window_text
    from di_ops.core.templating import one_line, render
    from di_ops.rules.change import partner_answer_deadline
    from di_ops.rules.common import region_zone

    start, end = datetime.fromisoformat(item["window_start"]), datetime.fromisoformat(item["window_end"])
    zone = region_zone(item["region"]).key
    replaces = item.get("replaces")
    missed = None
    if replaces:
        missed_start, missed_end = (datetime.fromisoformat(v) for v in replaces)
        missed = window_text(missed_start, missed_end, zone, length=False)
    sequence = int(item.get("sequence") or 0)
    name = customer.get("name") or item["customer_id"]
    title = "Re-planned maintenance" if missed else "Planned maintenance"
    event = CalendarEvent(
        uid=f"cop-{item['request_id']}@di-ops",
        sequence=sequence,
        start=start,
        end=end,
        summary=f"COP upload {item['cop_file']} ({item['customer_id']})",
        description=(
            f"The operator uploads the signed COP file {item['cop_file']} to the SFTP server of your "
            "instance; the partner installs it."
        ),
        location=f"{item['region']} maintenance window",
        attendees=to,
    )
    context = {
        "title": title,
        "customer_name": name,
        "customer_id": item["customer_id"],
        "partner_name": customer.get("partner") or "",
        "cop_file": item["cop_file"],
        "region": item["region"],
        "window": window_text(start, end, zone),
        "missed_window": missed,
        "answer_by": local_and_utc(partner_answer_deadline(sent_at), zone),
    }
    return Notice(
        dedupe_key=item.get("dedupe_key") or f"cop:{item['request_id']}",
        kind="cop_upload",
        entity=f"{item['customer_id']}/{item['cop_file']}",
        to=to,
        subject=one_line(f"{title}: COP upload {item['cop_file']} for {name}"),
        html=render("cop_notice.html.j2", **context),
        text=render("cop_notice.txt.j2", **context),
        calendar=calendar_part(event, method="REQUEST", dtstamp=sent_at, filename="cop-upload.ics"),
    )


def _bad_input(exc: BaseException) -> bool:
    """A send the mail library or server refused because of the contact data on file (every
    recipient refused, an address or header the library cannot write) - not a fault a retry fixes."""
    import smtplib
    from email.errors import MessageError

    return isinstance(exc, smtplib.SMTPRecipientsRefused | MessageError | ValueError | UnicodeError)


def _record_notified(engine: Any, item: dict[str, Any], as_of: datetime) -> None:
    """The plan's notice went out: its notice period counts from the run's ``as_of`` (DOMAIN.md §2)."""
    with engine.begin() as conn:
        conn.execute(
            update(cop_requests)
            .where(
                cop_requests.c.request_id == item["request_id"],
                cop_requests.c.sequence == int(item.get("sequence") or 0),
                cop_requests.c.notified_at.is_(None),
            )
            .values(notified_at=as_of.astimezone(UTC))
        )


def send_notices(
    items: list[dict[str, Any]],
    *,
    dag_id: str,
    run_id: str,
    as_of: datetime,
    started_at: datetime,
    dry_run: bool,
    alerts: list[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """A change notice (with an .ics event) per plan of a planned regular upload, once per plan;
    then the operator's alert of each missed window (``pipelines.yaml: alerts.to``), once per miss.

    Returns the outcome by dedupe key. A sent notice records the plan's ``notified_at`` (the run's
    ``as_of``): intake uploads a regular upload only once its notice is ``sent``.

    Every notice is tried; each outcome is recorded (``notices`` table) before the task decides.
    Any notice not sent fails the task: a fault (the SMTP server unreachable, a timeout) is raised
    plainly (retries, then the on-call alert; a retry sends only what is not sent yet); a refusal
    caused by the contact data on file (no contact, every recipient refused, an address the mail
    library cannot write) is a :func:`~di_ops.core.tasks.refused` (no retry, no alert: fix
    the inventory). Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file).
    """
    from di_ops.core.settings import pipelines
    from di_ops.core.tasks import refused
    from di_ops.integrations.mail import send_notice
    from di_ops.pipelines.cop.missed import missed_alert

    alerts = alerts or []
    if not items and not alerts:
        return {}
    engine = ops_engine()
    snapshot = pin_snapshot(engine, dag_id, run_id, as_of, started_at)
    customers = {c["customer_id"]: c for c in snapshot_rows(engine, snapshot)["customers"]} if snapshot else {}
    results: dict[str, str] = {}
    faults: list[str] = []
    refusals: list[str] = []
    for item in items:
        what = f"{item['customer_id']}/{item['cop_file']}"
        customer = customers.get(item["customer_id"], {})
        to = tuple(sorted({c["email"] for c in customer.get("contacts") or [] if c.get("email")}))
        key = item.get("dedupe_key") or f"cop:{item['request_id']}"
        if not to:
            results[key] = "refused"
            refusals.append(f"{what}: customer {item['customer_id']} has no contacts on file")
            continue
        try:
            notice = cop_notice(item, customer, to, started_at)
            results[key] = send_notice(engine, notice, dag_id=dag_id, run_id=run_id, now=started_at, dry_run=dry_run)
        except Exception as exc:  # noqa: BLE001 - recorded (failed) by send_notice; decided below
            results[key] = "failed"
            (refusals if _bad_input(exc) else faults).append(f"{what}: {type(exc).__name__}: {exc}")
            log.warning("change notice for %s not sent: %s: %s", what, type(exc).__name__, exc)
            continue
        if not dry_run:
            _record_notified(engine, item, as_of)
    to_operator = pipelines().alerts.to
    for alert in alerts:
        what = f"missed window alert {alert['customer_id']}/{alert['cop_file']}"
        try:
            results[alert["dedupe_key"]] = send_notice(
                engine, missed_alert(alert, to_operator), dag_id=dag_id, run_id=run_id, now=started_at, dry_run=dry_run
            )
        except Exception as exc:  # noqa: BLE001 - recorded (failed) by send_notice; decided below
            results[alert["dedupe_key"]] = "failed"
            faults.append(f"{what}: {type(exc).__name__}: {exc}")  # the operator's own address: a fault
            log.warning("%s not sent: %s: %s", what, type(exc).__name__, exc)
    if faults:
        raise RuntimeError(
            f"{len(faults)} notice(s) or alert(s) could not be sent (recorded as failed; a retry or the next "
            "run sends them): " + "; ".join(faults + refusals)
        )
    if refusals:
        raise refused(
            f"{len(refusals)} change notice(s) refused because of the contact data on file (fix the "
            "inventory's contacts, then re-run): " + "; ".join(refusals)
        )
    return results
