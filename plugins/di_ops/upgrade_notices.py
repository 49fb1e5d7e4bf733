"""The e-mails of a planned upgrade: notice, rescheduled or re-planned notice, cancellation, completion,
and the operator's alert of a missed window (pure data).

Source: DOMAIN.md §2 (notice with the partner's answer deadline; one reschedule; a change not carried
out in its window is flagged and re-planned with a new notice; notices go to the partner and the
customer contacts on file). The calendar event keeps one UID per upgrade; every update (reschedule,
re-plan after a missed window) carries a higher SEQUENCE, a cancellation is METHOD:CANCEL (RFC 5546).
Times are shown in the window region's local time and in UTC. Sending lives in ``di_ops.adapters.mail``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any, Literal

from di_ops.notices import CalendarEvent, Notice, ics_text, local_and_utc
from di_ops.settings import regions_config

Kind = Literal["notice", "reschedule", "replan", "cancel", "done"]
_TITLES = {
    "notice": "Planned upgrade",
    "reschedule": "Rescheduled upgrade",
    "replan": "Re-planned upgrade",
    "cancel": "Cancelled upgrade",
    "done": "Completed upgrade",
}


def recipients(contacts: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Every partner and customer contact on file, once each, in a stable order."""
    return tuple(sorted({str(c["email"]).strip().lower() for c in contacts if c.get("email")}))


def dedupe_key(upgrade_id: str, kind: Kind | Literal["missed"], sequence: int) -> str:
    return f"upgrade:{upgrade_id}:{kind}:{sequence}"


def calendar_uid(upgrade_id: str) -> str:
    return f"upgrade-{upgrade_id}@di-ops"


def zone_of(region: str) -> str:
    return regions_config().regions[region].zone


def upgrade_notice(
    plan: Mapping[str, Any],
    customer: Mapping[str, Any],
    kind: Kind,
    *,
    at: datetime,
    organizer: str,
    answer_by: datetime | None = None,
    note: str = "",
) -> Notice | None:
    """The notice of ``kind`` for ``plan`` (a row of ``upgrade_plans``); None when nobody is on file to tell.

    ``plan["sequence"]`` is the SEQUENCE the event carries (callers raise it for a reschedule or a
    cancellation before building the notice).
    """
    to = recipients(customer.get("contacts") or [])
    if not to:
        return None
    zone = zone_of(plan["window_region"])
    start, end = plan["window_start"], plan["window_end"]
    window_text = f"{local_and_utc(start, zone)} to {local_and_utc(end, zone)}"
    title = _TITLES[kind]
    if kind == "notice" and plan.get("emergency"):
        title = "Emergency upgrade"
    elif kind == "replan" and plan.get("emergency"):
        title = "Re-planned emergency upgrade"
    subject = f"{title}: {plan['application']} {plan['cluster_id']} to {plan['target']}"
    if kind != "done":
        subject += f", window {local_and_utc(start, zone)}"
    triggers = "".join(f"<li>{escape(t['reason'])}</li>" for t in plan.get("triggers") or [])
    lines = [
        f"<h2>{escape(title)} of {escape(plan['application'])} cluster {escape(plan['cluster_id'])}</h2>",
        f"<p>Customer {escape(str(customer.get('name', plan['customer_id'])))} ({escape(plan['customer_id'])}), "
        f"partner {escape(str(customer.get('partner', '')))}.</p>",
        f"<p>From {escape(plan['from_version'])} to <b>{escape(plan['target'])}</b>.</p>",
        f"<p>Maintenance window ({escape(plan['window_region'])}): {escape(window_text)}.</p>",
    ]
    if kind in {"notice", "reschedule", "replan"}:
        if triggers:
            lines.append(f"<p>Why:</p><ul>{triggers}</ul>")
        if plan.get("emergency"):
            lines.append("<p><b>Emergency change</b>: it cannot be rescheduled (DOMAIN.md §2).</p>")
        elif kind in {"notice", "replan"}:
            if answer_by is not None:
                once = (
                    "The one reschedule allowed has been used."
                    if int(plan.get("reschedules") or 0) >= 1
                    else "The date may be rescheduled once, no later than 7 days before the window, onto another "
                    "operator window of the region."
                )
                lines.append(f"<p>Please answer a conflict by {escape(local_and_utc(answer_by, zone))}. {once}</p>")
        else:
            lines.append("<p>This was the one reschedule allowed; the date cannot be moved again.</p>")
    if note:
        lines.append(f"<p>{escape(note)}</p>")
    lines.append(f"<p>Upgrade id: <code>{escape(plan['upgrade_id'])}</code></p>")
    attachments: dict[str, str] = {}
    if kind != "done":
        event = CalendarEvent(
            uid=calendar_uid(plan["upgrade_id"]),
            sequence=int(plan["sequence"]),
            start=start,
            end=end,
            summary=f"{plan['application']} upgrade {plan['cluster_id']} to {plan['target']}",
            description=f"{title}: {plan['from_version']} to {plan['target']} ({plan['upgrade_id']})",
            location=f"{plan['window_region']} maintenance window",
            organizer=organizer,
            attendees=to,
        )
        method: Literal["REQUEST", "CANCEL"] = "CANCEL" if kind == "cancel" else "REQUEST"
        attachments["upgrade.ics"] = ics_text(event, method=method, dtstamp=at)
    return Notice(
        dedupe_key=dedupe_key(plan["upgrade_id"], kind, int(plan["sequence"])),
        kind=f"upgrade_{kind}",
        entity=plan["cluster_id"],
        to=to,
        subject=subject,
        html="\n".join(lines),
        attachments=attachments,
    )


_MISSED_HTML = """\
<h2>Missed upgrade window: {{ plan.application }} cluster {{ plan.cluster_id }}</h2>
<p>Customer {{ plan.customer_id }}; upgrade <code>{{ plan.upgrade_id }}</code>, {{ plan.from_version }} to
<b>{{ plan.target }}</b>{% if plan.emergency %} (emergency change){% endif %}.</p>
<p>The window {{ window }} ({{ plan.window_region }}) has closed and the inventory does not show the target:
{{ reason }}</p>
{% if next_window %}<p>Re-planned for {{ next_window }}; a new notice goes to the partner and the customer.</p>
{% else %}<p>Not re-planned yet: {{ pending }}</p>{% endif %}
<p>DOMAIN.md §2: a change not carried out in its window is flagged and re-planned with a new notice.</p>
"""


def missed_alert(
    plan: Mapping[str, Any],
    *,
    to: Iterable[str],
    reason: str,
    next_window: tuple[datetime, datetime] | None,
    pending: str = "",
) -> Notice:
    """The operator's alert (``pipelines.yaml: alerts.to``) that an upgrade missed its window; once per miss.

    ``plan`` is the plan as it was announced (its window and SEQUENCE before the re-plan): the dedupe key
    ``upgrade:<id>:missed:<sequence>`` makes a retry or a later sweep send nothing twice, and a second
    miss of the re-planned window (a higher SEQUENCE) alert again.
    """
    from di_ops.templating import environment

    zone = zone_of(plan["window_region"])
    window = f"{local_and_utc(plan['window_start'], zone)} to {local_and_utc(plan['window_end'], zone)}"
    later = f"{local_and_utc(next_window[0], zone)} to {local_and_utc(next_window[1], zone)}" if next_window else ""
    html = (
        environment()
        .from_string(_MISSED_HTML)
        .render(plan=plan, window=window, reason=reason, next_window=later, pending=pending)
    )
    return Notice(
        dedupe_key=dedupe_key(plan["upgrade_id"], "missed", int(plan["sequence"])),
        kind="upgrade_missed",
        entity=plan["cluster_id"],
        to=tuple(dict.fromkeys(to)),
        subject=f"MISSED upgrade window: {plan['application']} {plan['cluster_id']} to {plan['target']}, "
        f"window {local_and_utc(plan['window_start'], zone)}",
        html=html,
    )
