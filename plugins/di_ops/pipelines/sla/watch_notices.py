"""The e-mails of ``incident_watch`` as :class:`~di_ops.core.notices.Notice` values (templates
``incident_*.html.j2``), with their dedupe keys.

Source: DOMAIN.md §7a (proactive S1/S2 e-mail; status and action plan; escalation data of §7) and §2
(a customer without a partner contact is a data gap); docs/pipelines/incident_watch.md (E-mails).
Pure apart from rendering: every instant is passed in. Subjects are one header line
(:func:`di_ops.core.templating.one_line`).

Dedupe keys (``integrations.mail.send_notice`` sends each once):
``incident:<case>:<severity>`` (partner notice), ``incident-gap:<case>:<severity>`` (no partner
contact), ``incident-escalation:<case>:<severity>:<state>:<since>`` (one alert per state change),
``incident-digest:<day>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from di_ops.core.notices import Notice, local_and_utc
from di_ops.core.templating import one_line, render
from di_ops.rules.common import region_zone

STATE_TEXT = {
    "no_first_response": "no first response within the objective",
    "no_status_update": "no status update within one objective interval",
}
ESCALATION_LABELS = (
    ("contract_number", "Contract number"),
    ("caller_account", "Caller"),
    ("contact_name", "Partner representative"),
    ("contact_phone", "Phone"),
    ("contact_email", "E-mail"),
)
MISSING = "(missing)"


def when(moment: datetime, region: str) -> str:
    """The region's local time and UTC, as every notice shows instants."""
    return local_and_utc(moment, region_zone(region).key)


def partner_emails(contacts: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The e-mail addresses of the customer's partner contacts on file (DOMAIN.md §2, §7a)."""
    found = [
        str(c["email"]).strip() for c in contacts if c.get("role") == "partner" and str(c.get("email") or "").strip()
    ]
    return tuple(dict.fromkeys(found))


def proactive_notice(
    case: Mapping[str, Any],
    customer_name: str,
    to: tuple[str, ...],
    *,
    next_update: datetime,
    raised_from: str | None,
) -> Notice:
    """The proactive e-mail of an S1/S2 case to its partner contacts (DOMAIN.md §7a)."""
    details = case["details"]
    html = render(
        "incident_notice.html.j2",
        severity=case["severity"],
        raised_from=raised_from,
        case_id=case["case_id"],
        customer_id=case["customer_id"],
        customer_name=customer_name,
        region=case["region"],
        impact=details.get("impact") or MISSING,
        urgency=details.get("urgency") or MISSING,
        opened=when(case["opened_at"], case["region"]),
        next_update=when(next_update, case["region"]),
    )
    subject = one_line(
        f"[{case['severity']}] TAC case {case['case_id']}: incident at {customer_name} ({case['customer_id']})"
    )
    return Notice(
        dedupe_key=f"incident:{case['case_id']}:{case['severity']}",
        kind="incident_notice",
        entity=str(case["case_id"]),
        to=to,
        subject=subject,
        html=html,
    )


def _escalation_rows(case: Mapping[str, Any]) -> list[tuple[str, str]]:
    details = case["details"]
    return [(label, str(details.get(key) or MISSING)) for key, label in ESCALATION_LABELS]


def gap_alert(case: Mapping[str, Any], to: tuple[str, ...], snapshot_id: str | None) -> Notice:
    """The operator's alert that a case's customer has no partner contact (DOMAIN.md §2 data gap)."""
    html = render(
        "incident_alert.html.j2",
        kind="no_partner_contact",
        severity=case["severity"],
        case_id=case["case_id"],
        customer_id=case["customer_id"],
        snapshot_id=snapshot_id or "(none)",
        region=case["region"],
        opened=when(case["opened_at"], case["region"]),
        escalation=_escalation_rows(case),
        state_text="",
        reason="",
    )
    subject = one_line(
        f"[di-ops] DATA GAP: no partner contact for {case['customer_id']}, {case['severity']} case {case['case_id']}"
    )
    return Notice(
        dedupe_key=f"incident-gap:{case['case_id']}:{case['severity']}",
        kind="incident_gap",
        entity=str(case["case_id"]),
        to=to,
        subject=subject,
        html=html,
    )


def escalation_alert(
    case: Mapping[str, Any], state: str, since: datetime, due_at: datetime, to: tuple[str, ...]
) -> Notice:
    """The on-call alert of an S1/S2 escalation candidate, once per case and state change (DOMAIN.md §7a)."""
    what = "first response" if state == "no_first_response" else "status update"
    reason = f"The {what} was due {when(due_at, case['region'])}."
    html = render(
        "incident_alert.html.j2",
        kind=state,
        severity=case["severity"],
        case_id=case["case_id"],
        customer_id=case["customer_id"],
        snapshot_id="",
        region=case["region"],
        opened=when(case["opened_at"], case["region"]),
        escalation=_escalation_rows(case),
        state_text=STATE_TEXT[state],
        reason=reason,
    )
    subject = one_line(
        f"[di-ops] ESCALATE {case['severity']} case {case['case_id']} ({case['customer_id']}): {STATE_TEXT[state]}"
    )
    return Notice(
        dedupe_key=f"incident-escalation:{case['case_id']}:{case['severity']}:{state}:{since.isoformat()}"[:250],
        kind="incident_escalation",
        entity=str(case["case_id"]),
        to=to,
        subject=subject,
        html=html,
    )


def digest_rows(candidates: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for case in candidates:
        details = case["details"]
        rep = " / ".join(str(details.get(k) or MISSING) for k in ("contact_name", "contact_phone", "contact_email"))
        rows.append(
            {
                "case_id": str(case["case_id"]),
                "severity": str(case["severity"]),
                "customer_id": str(case["customer_id"]),
                "why": STATE_TEXT.get(str(case["candidate_state"]), str(case["candidate_state"])),
                "since": when(case["candidate_since"], case["region"]) if case["candidate_since"] else "",
                "contract": str(details.get("contract_number") or MISSING),
                "caller": str(details.get("caller_account") or MISSING),
                "rep": rep,
            }
        )
    return rows


def digest_notice(
    day: date, candidates: list[dict[str, str]], deviations: list[Mapping[str, Any]], to: tuple[str, ...]
) -> Notice:
    """The daily digest: S3/S4 escalation candidates and channel deviations (DOMAIN.md §7a)."""
    shown = [
        {
            "case_id": d["case_id"],
            "customer_id": d["customer_id"],
            "channel": d["channel"],
            "reason": d["channel_deviation"],
        }
        for d in deviations
    ]
    html = render("incident_digest.html.j2", day=day.isoformat(), candidates=candidates, deviations=shown)
    subject = (
        f"[di-ops] TAC case digest {day.isoformat()}: {len(candidates)} S3/S4 candidate(s), {len(shown)} deviation(s)"
    )
    return Notice(
        dedupe_key=f"incident-digest:{day.isoformat()}",
        kind="incident_digest",
        entity=day.isoformat(),
        to=to,
        subject=subject,
        html=html,
    )
