"""Escalation candidates of ``incident_watch``: state changes, on-call alerts for S1/S2, the daily S3/S4 digest.

Source: DOMAIN.md §7 (escalation data), §7a (status and action plan; escalation candidates; channel);
docs/pipelines/incident_watch.md (Escalation candidates). Only cases whose ``review_at`` has come
are judged (:func:`di_ops.pipelines.sla.watch_state.cases_to_review`); the judgement is the pure
rule :func:`di_ops.rules.incidents.escalation_state`. An S1/S2 case entering a candidate state
alerts ``pipelines.yaml alerts.to`` once per state change (the dedupe key names the state and the
instant it counts from); S3/S4 candidates wait for the digest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from di_ops.pipelines.sla.settings import sla_settings

log = logging.getLogger(__name__)

DAG_ID = "incident_watch"
PROACTIVE = ("S1", "S2")
DIGESTED = ("S3", "S4")
LISTED = 200


def review_states(engine: Any, plan: dict[str, Any], as_of: datetime, clock: Callable[[], datetime]) -> dict[str, Any]:
    """Judge the cases due a look, alert on-call for S1/S2 cases that became candidates, store the states."""
    from di_ops.core.settings import pipelines
    from di_ops.integrations.mail import send_notice
    from di_ops.pipelines.sla.watch_notices import escalation_alert
    from di_ops.pipelines.sla.watch_state import aware, cases_to_review, store_states
    from di_ops.rules.incidents import escalation_state

    states, alerts, failed, listed = [], 0, [], []
    for case in cases_to_review(engine, as_of):
        for column in ("opened_at", "first_response_at", "last_update_at", "closed_at", "candidate_since"):
            case[column] = aware(case[column])
        candidate = escalation_state(
            case["severity"],
            case["region"],
            case["opened_at"],
            case["first_response_at"],
            case["last_update_at"],
            case["closed_at"],
            as_of,
            tracks_updates=case["tracks_updates"],
        )
        changed = (candidate.state, candidate.since) != (case["candidate_state"], case["candidate_since"])
        # none: look again when the response or next status falls due; a candidate or a closed case
        # changes only with new export data (which sets review_at again)
        review_at = candidate.due_at if candidate.state == "none" and case["is_open"] else None
        states.append(
            {
                "case_id": case["case_id"],
                "candidate_state": candidate.state,
                "candidate_since": candidate.since,
                "review_at": review_at,
                "changed": changed,
                "changed_at": as_of,
            }
        )
        if not changed or candidate.state == "none":
            continue
        if len(listed) < LISTED:
            listed.append({"case_id": case["case_id"], "severity": case["severity"], "state": candidate.state})
        if case["severity"] in PROACTIVE:
            assert candidate.since is not None and candidate.due_at is not None
            alert = escalation_alert(
                case, candidate.state, candidate.since, candidate.due_at, tuple(pipelines().alerts.to)
            )
            try:
                send_notice(engine, alert, dag_id=DAG_ID, run_id=plan["run_id"], now=clock(), dry_run=False)
                alerts += 1
            except Exception as exc:  # its state is not stored: the retry (or next run) alerts again
                log.error("escalation alert %s failed: %s", alert.dedupe_key, exc)
                failed.append(case["case_id"])
    unsent = set(failed)
    with engine.begin() as conn:
        store_states(conn, [s for s in states if s["case_id"] not in unsent])
    if failed:
        raise RuntimeError(f"{len(failed)} escalation alert(s) not sent: {', '.join(failed[:10])}")
    return {
        "reviewed": len(states),
        "changed": sum(1 for s in states if s["changed"]),
        "alerts": alerts,
        "candidates": listed,
    }


def send_digest(engine: Any, plan: dict[str, Any], as_of: datetime, clock: Callable[[], datetime]) -> dict[str, Any]:
    """The day's S3/S4 digest, once, in the first run from ``watch.digest_hour_utc`` on that has anything to list."""
    from sqlalchemy import select

    from di_ops.core.settings import pipelines
    from di_ops.db import schema
    from di_ops.integrations.mail import send_notice
    from di_ops.pipelines.sla.watch_notices import digest_notice, digest_rows
    from di_ops.pipelines.sla.watch_state import aware, deviations_since, open_candidates
    from di_ops.rules.incidents import digest_day

    day = digest_day(as_of, sla_settings().watch.digest_hour_utc)
    if day is None:
        return {"day": None}
    key = f"incident-digest:{day.isoformat()}"
    with engine.connect() as conn:
        row = conn.execute(select(schema.notices.c.status).where(schema.notices.c.dedupe_key == key)).first()
    if row is not None and row[0] == "sent":
        return {"day": day.isoformat(), "result": "already_sent"}
    candidates = open_candidates(engine, DIGESTED)
    for case in candidates:
        case["candidate_since"] = aware(case["candidate_since"])
    deviations = deviations_since(engine, as_of - timedelta(days=1))
    if not candidates and not deviations:
        return {"day": day.isoformat(), "result": "nothing to list"}
    notice = digest_notice(day, digest_rows(candidates), deviations, tuple(pipelines().alerts.to))
    result = send_notice(engine, notice, dag_id=DAG_ID, run_id=plan["run_id"], now=clock(), dry_run=False)
    return {
        "day": day.isoformat(),
        "result": result,
        "sent": result == "sent",
        "candidates": len(candidates),
        "deviations": len(deviations),
    }
