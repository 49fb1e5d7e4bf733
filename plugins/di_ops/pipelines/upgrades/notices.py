"""The e-mails of a planned upgrade: notice, rescheduled or re-planned notice, cancellation, completion,
and the operator's alert of a missed window (pure data).

Source: DOMAIN.md §2 (notice with the partner's answer deadline; one reschedule; a change not carried
out in its window is flagged and re-planned with a new notice; notices go to the partner and the
customer contacts on file). The calendar event keeps one UID per upgrade; every update (reschedule,
re-plan after a missed window) carries a higher SEQUENCE, a cancellation is METHOD:CANCEL (RFC 5546).
Times are shown in the window region's local time and in UTC. Sending lives in ``di_ops.integrations.mail``.
The texts are ``templates/upgrade_notice.html.j2`` and ``templates/upgrade_missed.html.j2``
(autoescaped: inventory names are text, never markup) with their plain-text twins (``.txt.j2``);
the event travels as a calendar invitation (``text/calendar; method=REQUEST`` or ``CANCEL``, and
attached as ``upgrade.ics``); subjects are one header line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from di_ops.core.notices import CalendarEvent, Notice, calendar_part, local_and_utc, window_text
from di_ops.core.settings import regions_config
from di_ops.core.templating import one_line, render

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
    title = _TITLES[kind]
    if kind == "notice" and plan.get("emergency"):
        title = "Emergency upgrade"
    elif kind == "replan" and plan.get("emergency"):
        title = "Re-planned emergency upgrade"
    subject = f"{title}: {plan['application']} {plan['cluster_id']} to {plan['target']}"
    if kind != "done":
        subject += f", window {local_and_utc(start, zone)}"
    context = {
        "kind": kind,
        "title": title,
        "application": plan["application"],
        "cluster_id": plan["cluster_id"],
        "customer_name": customer.get("name") or plan["customer_id"],
        "customer_id": plan["customer_id"],
        "partner": customer.get("partner") or "",
        "from_version": plan["from_version"],
        "target": plan["target"],
        "window_region": plan["window_region"],
        "window": window_text(start, end, zone),
        "triggers": [t["reason"] for t in plan.get("triggers") or []],
        "emergency": bool(plan.get("emergency")),
        "answer_by": local_and_utc(answer_by, zone) if answer_by is not None else "",
        "reschedule_used": int(plan.get("reschedules") or 0) >= 1,
        "note": note,
        "upgrade_id": plan["upgrade_id"],
    }
    calendar = None
    if kind != "done":
        event = CalendarEvent(
            uid=calendar_uid(plan["upgrade_id"]),
            sequence=int(plan["sequence"]),
            start=start,
            end=end,
            summary=f"{plan['application']} upgrade {plan['cluster_id']} to {plan['target']}",
            description=(
                f"{title}: the operator upgrades {plan['application']} on cluster {plan['cluster_id']} from "
                f"{plan['from_version']} to {plan['target']}. Reference: {plan['upgrade_id']}."
            ),
            location=f"{plan['window_region']} maintenance window",
            organizer=organizer,
            attendees=to,
        )
        method: Literal["REQUEST", "CANCEL"] = "CANCEL" if kind == "cancel" else "REQUEST"
        calendar = calendar_part(event, method=method, dtstamp=at, filename="upgrade.ics")
    return Notice(
        dedupe_key=dedupe_key(plan["upgrade_id"], kind, int(plan["sequence"])),
        kind=f"upgrade_{kind}",
        entity=plan["cluster_id"],
        to=to,
        subject=one_line(subject),
        html=render("upgrade_notice.html.j2", **context),
        text=render("upgrade_notice.txt.j2", **context),
        calendar=calendar,
    )


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
    zone = zone_of(plan["window_region"])
    context = {
        "plan": plan,
        "window": window_text(plan["window_start"], plan["window_end"], zone, length=False),
        "reason": reason,
        "next_window": window_text(next_window[0], next_window[1], zone, length=False) if next_window else "",
        "pending": pending,
    }
    return Notice(
        dedupe_key=dedupe_key(plan["upgrade_id"], "missed", int(plan["sequence"])),
        kind="upgrade_missed",
        entity=plan["cluster_id"],
        to=tuple(dict.fromkeys(to)),
        subject=one_line(
            f"MISSED upgrade window: {plan['application']} {plan['cluster_id']} to {plan['target']}, "
            f"window {local_and_utc(plan['window_start'], zone)}"
        ),
        html=render("upgrade_missed.html.j2", **context),
        text=render("upgrade_missed.txt.j2", **context),
    )


def no_contacts_alert(plan: Mapping[str, Any], kind: str, *, to: Iterable[str]) -> Notice:
    """The operator's alert that the ``kind`` notice of ``plan`` has no recipient (DOMAIN.md §2: notices
    never silently go nowhere); once per plan, notice kind and SEQUENCE."""
    context = {"plan": plan, "kind": kind}
    return Notice(
        dedupe_key=dedupe_key(plan["upgrade_id"], f"no-contacts-{kind}", int(plan["sequence"])),
        kind="upgrade_no_contacts",
        entity=plan["cluster_id"],
        to=tuple(dict.fromkeys(to)),
        subject=one_line(
            f"[di-ops] DATA GAP: no contact for {plan['customer_id']}, upgrade notice of {plan['cluster_id']} not sent"
        ),
        html=render("upgrade_no_contacts.html.j2", **context),
        text=render("upgrade_no_contacts.txt.j2", **context),
    )
