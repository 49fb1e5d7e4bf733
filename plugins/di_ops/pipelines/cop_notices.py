"""The change notices of planned regular COP uploads (DOMAIN.md §2, §5): one e-mail with an
``.ics`` event per request, from an autoescaped Jinja2 template, sent once, every outcome recorded.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime
from typing import Any

from di_ops.adapters.opsdb import ops_engine, pin_snapshot, snapshot_rows

log = logging.getLogger(__name__)


def _one_line(text: object) -> str:
    """A value for a mail header: control characters (a CR/LF would start a new header) become spaces."""
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(text)).split())


def cop_notice(item: dict[str, Any], customer: dict[str, Any], to: tuple[str, ...], sent_at: datetime) -> Any:
    """The change notice of a planned regular COP upload: HTML from ``templates/cop_notice.html.j2``
    (autoescaped: inventory names are text, never markup) and the window as an .ics event.

    Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file), §5.
    """
    from di_ops.notices import CalendarEvent, Notice, ics_text, local_and_utc
    from di_ops.rules.common import region_zone
    from di_ops.templating import render

    start, end = datetime.fromisoformat(item["window_start"]), datetime.fromisoformat(item["window_end"])
    zone = region_zone(item["region"]).key
    when = f"{local_and_utc(start, zone)} - {local_and_utc(end, zone)}"
    name = customer.get("name", item["customer_id"])
    event = CalendarEvent(
        uid=f"cop-{item['request_id']}@di-ops",
        sequence=0,
        start=start,
        end=end,
        summary=f"COP upload {item['cop_file']} ({item['customer_id']})",
        description=f"The operator uploads {item['cop_file']} to your instance's SFTP server; the partner installs it.",
        attendees=to,
    )
    return Notice(
        dedupe_key=f"cop:{item['request_id']}",
        kind="cop_upload",
        entity=f"{item['customer_id']}/{item['cop_file']}",
        to=to,
        subject=_one_line(f"Planned maintenance: COP upload {item['cop_file']} for {name}"),
        html=render(
            "cop_notice.html.j2",
            customer_name=name,
            partner_name=customer.get("partner", "?"),
            cop_file=item["cop_file"],
            window=when,
        ),
        attachments={"cop-upload.ics": ics_text(event, method="REQUEST", dtstamp=sent_at)},
    )


def _bad_input(exc: BaseException) -> bool:
    """A send the mail library or server refused because of the contact data on file (every
    recipient refused, an address or header the library cannot write) - not a fault a retry fixes."""
    import smtplib
    from email.errors import MessageError

    return isinstance(exc, smtplib.SMTPRecipientsRefused | MessageError | ValueError | UnicodeError)


def send_notices(
    items: list[dict[str, Any]], *, dag_id: str, run_id: str, as_of: datetime, started_at: datetime, dry_run: bool
) -> dict[str, str]:
    """A change notice (with an .ics event) per planned regular upload, once per request.

    Every notice is tried; each outcome is recorded (``notices`` table) before the task decides.
    Any notice not sent fails the task: a fault (the SMTP server unreachable, a timeout) is raised
    plainly (retries, then the on-call alert; a retry sends only what is not sent yet); a refusal
    caused by the contact data on file (no contact, every recipient refused, an address the mail
    library cannot write) is a :func:`~di_ops.pipelines.common.refused` (no retry, no alert: fix
    the inventory). Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file).
    """
    from di_ops.adapters.mail import send_notice
    from di_ops.pipelines.common import refused

    if not items:
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
        if not to:
            results[item["request_id"]] = "refused"
            refusals.append(f"{what}: customer {item['customer_id']} has no contacts on file")
            continue
        try:
            notice = cop_notice(item, customer, to, started_at)
            results[item["request_id"]] = send_notice(
                engine, notice, dag_id=dag_id, run_id=run_id, now=started_at, dry_run=dry_run
            )
        except Exception as exc:  # noqa: BLE001 - recorded (failed) by send_notice; decided below
            results[item["request_id"]] = "failed"
            (refusals if _bad_input(exc) else faults).append(f"{what}: {type(exc).__name__}: {exc}")
            log.warning("change notice for %s not sent: %s: %s", what, type(exc).__name__, exc)
    if faults:
        raise RuntimeError(
            f"{len(faults)} change notice(s) could not be sent (recorded as failed; a retry sends them): "
            + "; ".join(faults + refusals)
        )
    if refusals:
        raise refused(
            f"{len(refusals)} change notice(s) refused because of the contact data on file (fix the "
            "inventory's contacts, then re-run): " + "; ".join(refusals)
        )
    return results
