"""The operator's alerts: a series that became *overdue* or *not DR-ready*, once per state change.

State per series and kind lives in ``backup_health_alert_state`` (active, since). A kind that turns
active sends one notice (``integrations.mail.send_notice``, dedupe key
``backup_health:<kind>:<customer>/<cluster>/<application>:<since>``), then the state is stored; a kind
that clears is stored inactive without a mail, so the next time it turns active alerts again. A retry
of the same run recomputes the same ``since`` and so the same dedupe key: the mail goes once.
Source: DOMAIN.md §3; docs/pipelines/backup_health.md ("Alerts").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, tuple_

from di_ops.core.notices import Notice
from di_ops.core.templating import one_line, render
from di_ops.db.tables_backup_health import backup_health_alert_state as state_table
from di_ops.integrations.mail import send_notice

KINDS = ("overdue", "not_dr_ready")
HEADLINES = {"overdue": "Backups overdue", "not_dr_ready": "Not DR-ready"}
WHAT = {
    "overdue": "No good backup for two nights in a row",
    "not_dr_ready": "The latest good backup cannot be relied on for a disaster-recovery restore",
}
RULES = {
    "overdue": "DOMAIN.md §3: every application is backed up nightly; none for two nights is overdue.",
    "not_dr_ready": (
        "DOMAIN.md §3: after a failure the operator builds a new publisher from the DRS backup within one"
        " business day; that needs a restore-ready, intact backup (checksums verified, archive readable)."
    ),
}


def active_kinds(row: Mapping[str, Any]) -> set[str]:
    kinds = set()
    if row["freshness"] == "overdue":
        kinds.add("overdue")
    if not row["dr_ready"]:
        kinds.add("not_dr_ready")
    return kinds


def _series(row: Mapping[str, Any]) -> str:
    return f"{row['customer_id']}/{row['cluster_id']}/{row['application']}"


def alert_notice(
    kind: str, row: Mapping[str, Any], *, since: datetime, as_of: str, report: str, to: Sequence[str]
) -> Notice:
    context = {
        "headline": HEADLINES[kind],
        "what": WHAT[kind],
        "rule": RULES[kind],
        "row": row,
        "as_of": as_of,
        "report": report,
    }
    return Notice(
        dedupe_key=f"backup_health:{kind}:{_series(row)}:{since.isoformat()}"[:250],
        kind=f"backup_health.{kind}",
        entity=_series(row),
        to=tuple(to),
        subject=one_line(
            f"[di-ops] {HEADLINES[kind]}: {row['customer_id']} {row['cluster_id']} ({row['application']})"
        ),
        html=render("backup_health_alert.html.j2", **context),
        text=render("backup_health_alert.txt.j2", **context),
    )


def send_alerts(
    engine: Engine,
    rows: Sequence[Mapping[str, Any]],
    *,
    dag_id: str,
    run_id: str,
    as_of: datetime,
    report: str,
    to: Sequence[str],
    dry_run: bool,
    now: datetime,
    conn_id: str = "smtp_default",
) -> dict[str, Any]:
    """Alert every series whose overdue / not-DR-ready state turned on; store every state. Returns counts."""
    with engine.connect() as conn:
        known = {
            (r["customer_id"], r["cluster_id"], r["application"], r["kind"]): dict(r)
            for r in conn.execute(select(state_table)).mappings()
        }
    sent: dict[str, int] = {kind: 0 for kind in KINDS}
    results: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        on = active_kinds(row)
        for kind in KINDS:
            key = (row["customer_id"], row["cluster_id"], row["application"], kind)
            before = known.get(key)
            was_on = bool(before and before["active"])
            # a retry of this run finds the state it stored: the same `since`, so the same dedupe key
            repeat = before is not None and before["updated_run_id"] == run_id and was_on
            if kind in on and (not was_on or repeat):
                since = _aware(before["since"]) if repeat and before["since"] else as_of
                notice = alert_notice(kind, row, since=since, as_of=as_of.isoformat(), report=report, to=to)
                outcome = send_notice(
                    engine, notice, dag_id=dag_id, run_id=run_id, now=now, dry_run=dry_run, conn_id=conn_id
                )
                results.append({"series": _series(row), "kind": kind, "result": outcome})
                sent[kind] += outcome in {"sent", "dry_run"}
                updates.append(_state(key, True, since, run_id, now))
            elif (kind in on) != was_on or before is None:
                updates.append(
                    _state(key, kind in on, _aware(before["since"]) if was_on and before else None, run_id, now)
                )
    if not dry_run:  # a dry run records its would-be notices (send_notice) but no state: the real run alerts
        _store(engine, updates)
    return {"alerts": sent, "notices": results, "dry_run": dry_run}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite returns naive UTC


def _state(
    key: tuple[str, str, str, str], active: bool, since: datetime | None, run_id: str, now: datetime
) -> dict[str, Any]:
    customer, cluster, application, kind = key
    return {
        "customer_id": customer,
        "cluster_id": cluster,
        "application": application,
        "kind": kind,
        "active": active,
        "since": since,
        "updated_run_id": run_id,
        "updated_at": now,
    }


def _store(engine: Engine, updates: Sequence[dict[str, Any]]) -> None:
    if not updates:
        return
    keys = [(u["customer_id"], u["cluster_id"], u["application"], u["kind"]) for u in updates]
    t = state_table
    with engine.begin() as conn:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            conn.execute(delete(t).where(tuple_(t.c.customer_id, t.c.cluster_id, t.c.application, t.c.kind).in_(chunk)))
        conn.execute(insert(t), list(updates))
