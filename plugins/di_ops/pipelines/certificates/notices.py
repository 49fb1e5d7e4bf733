"""Notices of the certificate pipelines: change notices with a calendar invitation, and alerts.

Source: DOMAIN.md §2 (notices go to the partner and the customer contacts on file) and §4
(emergencies and expired certificates are alerted at once). One notice per plan revision,
sent once through ``di_ops.integrations.mail.send_notice`` (dedupe key ``certificate:<plan_id>``).

Short notice (DOMAIN.md §2: at least 10 business days, counted from the moment the notice is
sent): a scheduled renewal whose plan is ``short_notice``, or whose window opens before the notice
period that starts at the sending instant has run, says **SHORT NOTICE** in its subject and text;
a plan found short only when its notice goes out (sent later than planned) is marked so then.

The text is ``templates/certificate_notice.html.j2`` (autoescaped: a host name from the inventory is
text, never markup) and its plain-text twin ``certificate_notice.txt.j2``; times in the region's
local time and UTC; the subject is one header line (:func:`di_ops.core.templating.one_line`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from di_ops.pipelines.certificates.settings import certificates_config
from di_ops.pipelines.certificates.store import ACTIVE, all_plans, update_plan

log = logging.getLogger(__name__)


def recipients(contacts: Iterable[Mapping[str, Any]], *, alert: bool) -> tuple[str, ...]:
    """Partner and customer contacts on file (DOMAIN.md §2); alerts also go to the operator's address."""
    cfg = certificates_config().notices
    found = [c["email"] for c in contacts if c.get("role") in cfg.contact_roles and c.get("email")]
    if alert or not found:
        found += list(cfg.operator_alerts)
    return tuple(dict.fromkeys(found))


def is_short_notice(plan: Mapping[str, Any], now: datetime) -> bool:
    """A scheduled plan announced at ``now`` without the full notice before its window (DOMAIN.md §2)."""
    from di_ops.rules.certificates import notice_due

    if plan["status"] != "scheduled" or plan["window_start"] is None:
        return False
    return bool(plan.get("short_notice")) or notice_due(plan["region"], now) > plan["window_start"]


_TITLES = {
    "scheduled": "Planned certificate renewal",
    "emergency": "Emergency certificate renewal",
    "expired": "Expired certificate",
}


def partner_reason(plan: Mapping[str, Any], now: datetime) -> str:
    """Why the renewal runs when it does, in words a partner reads (DOMAIN.md §4): never the planner's
    ``reason`` string (its ISO ranges and fallback counts are for the operator's reports)."""
    from di_ops.core.notices import duration_text
    from di_ops.core.settings import policy

    rules = policy().certificates
    earliest, latest = rules.renew_earliest_days_before, rules.renew_latest_days_before
    if plan["status"] == "scheduled":
        return (
            f"A certificate is renewed in a weekday maintenance window of {plan['region']} that opens "
            f"between {latest} and {earliest} days before it expires."
        )
    if plan["status"] != "emergency" or plan["window_start"] is None or now >= plan["not_after"]:
        return "The certificate has expired: this is an incident, and the operator renews it at once."
    start, end = plan["window_start"], plan["window_end"]
    which = "the maintenance window open now" if start <= now < end else "the next maintenance window, weekend included"
    text = (
        f"The certificate expires in {duration_text(plan['not_after'] - now)}: too late for a planned renewal "
        f"(on a weekday, between {latest} and {earliest} days before expiry), so it is renewed as an emergency change in {which}."
    )
    if start >= plan["not_after"]:
        text += " That window opens after the certificate expires: the operator renews it at once."
    return text


def plan_notice(plan: Mapping[str, Any], contacts: Iterable[Mapping[str, Any]], now: datetime) -> Any:
    """The notice of one plan revision: a change notice with a calendar invitation for a scheduled
    (or emergency) renewal, an alert otherwise; HTML and plain text from
    ``templates/certificate_notice.{html,txt}.j2``."""
    from zoneinfo import ZoneInfo

    from di_ops.core.notices import CalendarEvent, Notice, calendar_part, local_and_utc, window_text
    from di_ops.core.settings import policy
    from di_ops.core.templating import one_line, render
    from di_ops.rules.certificates import notice_due
    from di_ops.rules.common import region_zone

    status = plan["status"]
    zone = region_zone(plan["region"]).key
    # a revision > 0 replaces a plan whose window closed without the renewal (DOMAIN.md §2: a missed
    # change is flagged): the operator is told too, not only the partner
    replanned = int(plan["revision"]) > 0
    to = recipients(contacts, alert=status != "scheduled" or replanned)
    expires = local_and_utc(plan["not_after"], zone)
    short = is_short_notice(plan, now)
    title = _TITLES.get(status, _TITLES["expired"])
    calendar = None
    window = ""
    if plan["window_start"] is not None:
        window = window_text(plan["window_start"], plan["window_end"], zone)
        event = CalendarEvent(
            uid=f"certificate-{plan['node_id']}-{plan['serial']}@di-ops",
            sequence=int(plan["revision"]),
            start=plan["window_start"],
            end=plan["window_end"],
            summary=f"{title}: {plan['host']} ({plan['cluster_id']})",
            description=(
                f"The operator renews the certificate of {plan['host']} (cluster {plan['cluster_id']}, "
                f"customer {plan['customer_id']}); it expires {expires}."
            ),
            location=f"{plan['region']} maintenance window",
            attendees=to,
        )
        calendar = calendar_part(event, method="REQUEST", dtstamp=now, filename="certificate-renewal.ics")
    if status == "scheduled":
        day = plan["window_start"].astimezone(ZoneInfo(zone))
        subject = f"Planned certificate renewal: {plan['host']} in the window of {day:%Y-%m-%d}"
        subject = f"SHORT NOTICE: {subject}" if short else subject
        subject = f"RE-PLANNED after a missed window: {subject}" if replanned else subject
    elif status == "emergency":
        subject = f"EMERGENCY certificate renewal: {plan['host']} expires {plan['not_after']:%Y-%m-%d %H:%M} UTC"
    else:
        subject = f"INCIDENT: certificate of {plan['host']} expired {plan['not_after']:%Y-%m-%d %H:%M} UTC"
    rules = policy()
    context = {
        "title": title,
        "status": status,
        "short": short,
        "days": rules.change.planned_notice_business_days,
        "earliest_days": rules.certificates.renew_earliest_days_before,
        "latest_days": rules.certificates.renew_latest_days_before,
        "due": local_and_utc(notice_due(plan["region"], now), zone) if short else "",
        "host": plan["host"],
        "cluster_id": plan["cluster_id"],
        "customer_id": plan["customer_id"],
        "serial": plan["serial"],
        "region": plan["region"],
        "expires": expires,
        "window": window,
        "why": partner_reason(plan, now),
        "replanned": replanned,
        "sso": bool(plan["sso_enabled"]),
    }
    return Notice(
        dedupe_key=f"certificate:{plan['plan_id']}",
        kind=f"certificate_{status}{'_short_notice' if short else ''}",
        entity=plan["node_id"],
        to=to,
        subject=one_line(subject),
        html=render("certificate_notice.html.j2", **context),
        text=render("certificate_notice.txt.j2", **context),
        calendar=calendar,
    )


def send_plan_notices(
    engine: Any,
    dag_id: str,
    run_id: str,
    contacts: Mapping[str, list[dict[str, Any]]],
    now: datetime,
    dry_run: bool,
    customers: Iterable[str] | None = None,
) -> dict[str, int]:
    """One notice per active plan revision, sent once (task ``send_notices``); dry run: recorded only."""
    from di_ops.integrations.mail import send_notice

    wanted = set(customers or [])
    results: dict[str, int] = {}
    for plan in all_plans(engine):
        if plan["status"] not in (*ACTIVE, "expired") or (wanted and plan["customer_id"] not in wanted):
            continue
        notice = plan_notice(plan, contacts.get(plan["customer_id"], []), now)
        outcome = send_notice(engine, notice, dag_id=dag_id, run_id=run_id, now=now, dry_run=dry_run)
        if outcome == "sent" and notice.kind.endswith("_short_notice") and not plan.get("short_notice"):
            update_plan(engine, plan["plan_id"], short_notice=True)  # planned in time, announced too late
        results[outcome] = results.get(outcome, 0) + 1
    log.info("notices: %s", results)
    return results
