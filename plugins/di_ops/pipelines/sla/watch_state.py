"""The state ``incident_watch`` keeps per case in the ops DB (``sla_watch_cases``, ``sla_watch_notices``).

Source: DOMAIN.md §7a; docs/pipelines/incident_watch.md (State). A case's row holds what the newest
export said about it (severity as filed or raised later, the timestamps, channel, the escalation data
of §7) and the watch's own judgement: the escalation candidate state, when it changed, and
``review_at``, the instant the state may next change without new data (the response or next status
due) — so a run over unchanged exports looks only at the few open cases whose ``review_at`` has come.
Instants are stored in UTC; SQLite gives them back naive, :func:`aware` puts the zone back.
pandas is imported inside functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from di_ops.db.tables_sla import sla_watch_cases, sla_watch_notices
from di_ops.pipelines.sla.cases import ESCALATION_COLUMNS

# What a new export row may change in a case's row (everything but the watch's own judgement).
DATA_COLUMNS = (
    "customer_id",
    "region",
    "severity",
    "opened_at",
    "first_response_at",
    "last_update_at",
    "closed_at",
    "is_open",
    "tracks_updates",
    "channel",
    "channel_deviation",
    "details",
)
CHUNK = 2000


def aware(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC instant (SQLite returns stored instants naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _instants(series: Any) -> list[datetime | None]:
    """A UTC datetime column as Python datetimes (None where missing)."""
    return [None if v is None else v.to_pydatetime() for v in series.astype(object).where(series.notna(), None)]


def _texts(series: Any) -> list[str | None]:
    """A text column as stripped strings (None where missing or blank)."""
    values = series.astype(object).where(series.notna(), None).tolist()
    return [None if v is None or not str(v).strip() else str(v).strip() for v in values]


def case_records(raw: Any, prepared: Any, accepted: Any) -> list[dict[str, Any]]:
    """One record per accepted row (``accepted``: a boolean mask), in export order, for :func:`upsert_cases`."""
    from di_ops.pipelines.sla.instants import read_instants, utc_series
    from di_ops.rules.incidents import channel_deviation

    rows = prepared[accepted]
    count = len(rows)
    tracks = "last_update_at" in raw.columns
    updates: list[datetime | None] = [None] * count
    if tracks:  # not a blocking column: an unreadable value counts as no update
        ns, _ = read_instants(raw["last_update_at"][accepted])
        updates = _instants(utc_series(ns, rows.index))
    channels = _texts(raw["channel"][accepted]) if "channel" in raw.columns else [None] * count
    severity = [str(v) for v in rows["severity_filed"].astype(object)]
    closed = _instants(rows["closed_at_utc"])
    columns = {
        "case_id": [str(v) for v in rows["case_id"]],
        "customer_id": [str(v) for v in rows["customer_id"]],
        "region": [str(v) for v in rows["region_norm"].astype(object)],
        "opened_at": _instants(rows["opened_at_utc"]),
        "first_response_at": _instants(rows["first_response_at_utc"]),
        "source_file": [str(v) for v in rows["_source_file"]],
        "line": [int(v) for v in rows["_line"]],
    }
    detail_columns = {"impact": "impact_norm", "urgency": "urgency_norm", "caller_account": "caller_account_norm"}
    detail_columns |= {c: c for c in ESCALATION_COLUMNS if c != "caller_account"}
    details = {name: _texts(rows[column]) for name, column in detail_columns.items()}
    raw_caller = _texts(rows["caller_account"])
    deviations: dict[tuple[str, str | None], str | None] = {}
    out = []
    for i in range(count):
        key = (severity[i], channels[i])
        if key not in deviations:  # few distinct (severity, channel) pairs
            deviations[key] = channel_deviation(*key)
        case_details = {name: values[i] for name, values in details.items()}
        case_details["caller_account"] = case_details["caller_account"] or raw_caller[i]
        out.append(
            {
                **{name: values[i] for name, values in columns.items()},
                "severity": severity[i],
                "last_update_at": updates[i],
                "closed_at": closed[i],
                "is_open": closed[i] is None,
                "tracks_updates": tracks,
                "channel": channels[i],
                "channel_deviation": deviations[key],
                "details": case_details,
            }
        )
    return out


def _existing(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    t = sla_watch_cases
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        for row in conn.execute(select(t).where(t.c.case_id.in_(part))).mappings():
            found[row["case_id"]] = dict(row)
    return found


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    for column in DATA_COLUMNS:
        a, b = old[column], new[column]
        if isinstance(a, datetime) or isinstance(b, datetime):
            a, b = aware(a), aware(b)
        if a != b:
            return False
    return True


def upsert_cases(conn: Connection, records: Iterable[dict[str, Any]], *, now: datetime) -> dict[str, Any]:
    """Insert new cases, update changed ones (inside the caller's transaction); a later record of the
    same case wins. Returns counts and the ids of new and changed cases (their state is reviewed now)."""
    latest = {r["case_id"]: r for r in records}
    existing = _existing(conn, list(latest))
    new, changed = [], []
    for case_id, record in latest.items():
        old = existing.get(case_id)
        if old is None:
            new.append(
                {
                    **record,
                    "first_seen_at": now,
                    "updated_at": now,
                    "candidate_state": "none",
                    "candidate_since": None,
                    "candidate_changed_at": None,
                    "review_at": now if record["is_open"] else None,  # a case first seen closed is no candidate
                }
            )
        elif not _same(old, record):
            changed.append(case_id)
            values = {k: record[k] for k in (*DATA_COLUMNS, "source_file", "line")}
            conn.execute(
                update(sla_watch_cases)
                .where(sla_watch_cases.c.case_id == case_id)
                .values(**values, updated_at=now, review_at=now)
            )
    for start in range(0, len(new), CHUNK):
        conn.execute(insert(sla_watch_cases), new[start : start + CHUNK])
    return {"new": len(new), "changed": len(changed), "unchanged": len(latest) - len(new) - len(changed)}


def recent_cases(engine: Engine, severities: tuple[str, ...], since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Cases of ``severities`` opened in ``[since, until]``, each with ``notified`` (severities already told)."""
    t, n = sla_watch_cases, sla_watch_notices
    with engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(t).where(t.c.severity.in_(severities), t.c.opened_at >= since, t.c.opened_at <= until)
            ).mappings()
        ]
        ids = [r["case_id"] for r in rows]
        told: dict[str, set[str]] = {}
        for start in range(0, len(ids), CHUNK):
            query = select(n.c.case_id, n.c.severity).where(n.c.case_id.in_(ids[start : start + CHUNK]))
            for case_id, severity in conn.execute(query):
                told.setdefault(case_id, set()).add(severity)
    for row in rows:
        row["notified"] = frozenset(told.get(row["case_id"], ()))
    return rows


def cases_to_review(engine: Engine, as_of: datetime) -> list[dict[str, Any]]:
    """Cases whose ``review_at`` has come: new or changed ones (a closing included), and open ones whose
    response or next status has fallen due (one indexed range query)."""
    t = sla_watch_cases
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t).where(t.c.review_at <= as_of)).mappings()]


def store_states(conn: Connection, states: list[dict[str, Any]]) -> None:
    """Write each case's candidate state, the instant it changed (if it did) and its next review."""
    for state in states:
        values = {k: state[k] for k in ("candidate_state", "candidate_since", "review_at")}
        if state.get("changed"):
            values["candidate_changed_at"] = state["changed_at"]
        conn.execute(update(sla_watch_cases).where(sla_watch_cases.c.case_id == state["case_id"]).values(**values))


def open_candidates(engine: Engine, severities: tuple[str, ...]) -> list[dict[str, Any]]:
    """Open escalation candidates of ``severities``, oldest first (the daily digest)."""
    t = sla_watch_cases
    query = (
        select(t)
        .where(t.c.is_open.is_(True), t.c.candidate_state != "none", t.c.severity.in_(severities))
        .order_by(t.c.candidate_since, t.c.case_id)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def deviations_since(engine: Engine, since: datetime) -> list[dict[str, Any]]:
    """Cases seen or changed since ``since`` whose channel deviates (§7a), by case id."""
    t = sla_watch_cases
    query = (
        select(t.c.case_id, t.c.customer_id, t.c.severity, t.c.channel, t.c.channel_deviation)
        .where(t.c.channel_deviation.is_not(None), t.c.updated_at >= since)
        .order_by(t.c.case_id)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def record_notice(conn: Connection, row: dict[str, Any]) -> None:
    """Record the proactive notice (or data-gap alert) of one case and severity, replacing an earlier record."""
    from sqlalchemy import delete

    n = sla_watch_notices
    conn.execute(delete(n).where(n.c.case_id == row["case_id"], n.c.severity == row["severity"]))
    conn.execute(insert(n).values(**row))


def notices_for(engine: Engine, opened_from: datetime, opened_to: datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """Proactive notices of cases opened in ``[opened_from, opened_to)`` by (case id, severity)."""
    n = sla_watch_notices
    query = select(n).where(n.c.opened_at >= opened_from, n.c.opened_at < opened_to)
    with engine.connect() as conn:
        return {(r["case_id"], r["severity"]): dict(r) for r in conn.execute(query).mappings()}


def watch_started(engine: Engine) -> datetime | None:
    """When the incident watch first read an export on this ops DB (its earliest high-water mark)."""
    from sqlalchemy import func

    from di_ops.db.tables_sla import sla_watch_files

    with engine.connect() as conn:
        return aware(conn.execute(select(func.min(sla_watch_files.c.seen_at))).scalar())


def proactive_figures(engine: Engine, judged: Any, as_of: datetime) -> dict[str, Any] | None:
    """``sla_audit``'s "proactive notices: sent within objective n/N" (docs/pipelines/sla.md).

    N: the audited S1/S2 cases the watch was due to announce (opened since its first run less
    ``watch.lookback_hours``), less those whose notice is not due yet and not sent (pending);
    n: those whose notice for their severity as filed was sent by ``opened_at`` + the objective.
    None when the watch never ran on this ops DB."""
    import pandas as pd

    from di_ops.pipelines.sla.settings import sla_settings
    from di_ops.rules.sla import objective_for

    started = watch_started(engine)
    if started is None:
        return None
    start = started - timedelta(hours=sla_settings().watch.lookback_hours)  # what its first run was due to tell
    severity = judged["severity"].astype(str)
    scope = judged[severity.isin(["S1", "S2"]).to_numpy() & (judged["opened_at"] >= start).to_numpy()]
    levels = scope["severity"].astype(str)
    minutes = levels.map({level: objective_for(level).minutes for level in ("S1", "S2")}).astype("int64")
    due = scope["opened_at"] + pd.to_timedelta(minutes.to_numpy(), unit="min")  # S1/S2: elapsed minutes (§7)
    notices = notices_for(engine, start, as_of)
    sent = [
        aware(row["sent_at"]) if row and row["kind"] == "proactive" else None
        for row in (notices.get(key) for key in zip(scope["case_id"].astype(str), levels, strict=True))
    ]
    sent_at = pd.Series(pd.to_datetime(sent, utc=True), index=scope.index)
    pending = int((sent_at.isna() & (due > as_of)).sum())
    within = int((sent_at <= due).sum())  # rules.incidents.sent_within_objective, vectorised
    return {"sent_within": within, "cases": len(scope) - pending, "pending": pending, "since": start.isoformat()}
