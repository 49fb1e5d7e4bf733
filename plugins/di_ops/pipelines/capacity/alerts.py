"""``alert_breaches``: one e-mail to on-call per customer that *enters* breach, its state in the ops DB.

Source: DOMAIN.md §8 (above 100 % without an approved expansion is a breach of the process);
docs/pipelines/capacity.md ("Alerts"). ``capacity_states`` holds each customer's verdict and the run
that entered it. Per customer the alert is sent *before* the state is written, under the dedupe key
``capacity-breach:<customer>:<run that entered breach>``: a retry re-sends nothing (``send_notice``
finds the key) and a crash between the two steps only repeats a no-op. *not measured* leaves the state
as it was (an admin API without counts for a week must not re-arm the alert); a run whose ``as_of`` lies
before the stored state's (a what-if on an older instant) changes no state and sends nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from di_ops.core.notices import Notice
from di_ops.core.templating import one_line, render
from di_ops.db.tables_capacity import capacity_states
from di_ops.rules.capacity import is_new_breach

log = logging.getLogger(__name__)
KIND = "capacity_breach"


def breach_alert(customer: dict[str, Any], *, as_of: str, run_id: str, report: str, to: tuple[str, ...]) -> Notice:
    """The on-call alert of a customer that entered breach (HTML and plain text from templates)."""
    context = {"customer": customer, "as_of": as_of, "report": report}
    return Notice(
        dedupe_key=f"capacity-breach:{customer['customer_id']}:{run_id}"[:250],
        kind=KIND,
        entity=customer["customer_id"],
        to=to,
        subject=one_line(
            f"[di-ops] Capacity breach: {customer['customer_id']} ({customer['name']}) above its declared numbers"
        ),
        html=render("capacity_breach.html.j2", **context),
        text=render("capacity_breach.txt.j2", **context),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite returns naive UTC


def alert_breaches(engine: Engine, audit: dict[str, Any], *, report: str) -> dict[str, Any]:
    """Send the breach alerts the audit calls for and record every customer's state; returns what happened."""
    from di_ops.core.settings import pipelines
    from di_ops.integrations.mail import send_notice

    t = capacity_states
    run_id, as_of = audit["run_id"], datetime.fromisoformat(audit["as_of"])
    to = tuple(pipelines().alerts.to)
    with engine.connect() as conn:
        states = {r["customer_id"]: dict(r) for r in conn.execute(select(t)).mappings()}
    out: dict[str, Any] = {"sent": [], "already_sent": [], "state_changes": [], "stale": False}
    for customer in audit["customers"]:
        cid, verdict = customer["customer_id"], customer["verdict"]
        if verdict == "not_measured":
            continue
        state = states.get(cid)
        if state is not None and _aware(state["updated_at"]) > as_of:
            out["stale"] = True  # an older instant than the state's: report only
            continue
        # a retry of the run that entered breach finds its own state: the alert is still due (sent once)
        entered_here = state is not None and state["since_run_id"] == run_id
        previous = None if state is None else state["verdict"]
        if verdict == "breach" and (entered_here or is_new_breach(previous, verdict)):
            notice = breach_alert(customer, as_of=audit["as_of"], run_id=run_id, report=report, to=to)
            result = send_notice(engine, notice, dag_id=audit["dag_id"], run_id=run_id, now=as_of, dry_run=False)
            out["sent" if result == "sent" else "already_sent"].append(cid)
        _record(engine, cid, verdict, state, run_id, as_of, out)
    log.info("capacity alerts: %d sent, %d already sent", len(out["sent"]), len(out["already_sent"]))
    return out


def _record(
    engine: Engine,
    customer_id: str,
    verdict: str,
    state: dict[str, Any] | None,
    run_id: str,
    as_of: datetime,
    out: dict[str, Any],
) -> None:
    t = capacity_states
    with engine.begin() as conn:
        if state is None:
            conn.execute(
                insert(t).values(
                    customer_id=customer_id,
                    verdict=verdict,
                    since=as_of,
                    since_run_id=run_id,
                    updated_at=as_of,
                    updated_run_id=run_id,
                )
            )
            out["state_changes"].append({"customer_id": customer_id, "from": None, "to": verdict})
        elif state["verdict"] != verdict:
            conn.execute(
                update(t)
                .where(t.c.customer_id == customer_id)
                .values(verdict=verdict, since=as_of, since_run_id=run_id, updated_at=as_of, updated_run_id=run_id)
            )
            out["state_changes"].append({"customer_id": customer_id, "from": state["verdict"], "to": verdict})
        else:
            conn.execute(
                update(t).where(t.c.customer_id == customer_id).values(updated_at=as_of, updated_run_id=run_id)
            )
