"""The lifecycle of a planned COP upload after intake: uploaded in its window with its notice sent,
else re-planned; a window that closed without the upload is missed (alert, re-plan, new notice).

Source: DOMAIN.md §2 ("a plan is only as good as its execution": a change planned for a window is
carried out in it, or flagged and re-planned with a new notice the moment it is known that it was
not; a notice never names a window that has begun; the notice period counts from the sending) and
§5 (regular operator COPs are planned maintenance with notice; emergencies the next window). The
states and who moves them: ``docs/pipelines/cop.md`` (lifecycle of a planned upload).

Every run's intake reviews the waiting rows of ``cop_requests`` as of its ``as_of``:

- a regular upload whose change notice (``notices`` table, key :func:`notice_key`) is not ``sent``
  is never uploaded; its window is computed again from ``as_of`` and the notice tried again, so the
  window a notice names is always >= 10 business days after the run that sent it; a stored window
  that began while the notice was unsent is reported as re-planned;
- a row inside its window (start <= as_of < end, DOMAIN.md §0) is due;
- a row whose window ended (end <= as_of) without the upload is missed: an audit entry with the
  reason, one alert to the operator (``pipelines.yaml: alerts.to``, key :func:`alert_key`), a row
  of the run report, and a re-plan (``sequence`` + 1, a new window, a new notice for a regular
  upload - the next maintenance window for an emergency); every miss is kept in ``misses``, and an
  alert that could not be sent is tried again by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from di_ops.db.tables_cop import cop_requests
from di_ops.pipelines.cop.settings import CopSettings
from di_ops.rules.change import earliest_change_window
from di_ops.rules.maintenance import Window, next_window, window_at

# The statuses a row with a window can be reviewed in (``missed``: rows written before cop_0002).
WAITING = ("planned", "due", "failed", "missed")


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: the ops DB stores UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def needs_notice(row: dict[str, Any]) -> bool:
    """A regular operator upload is planned maintenance with notice (DOMAIN.md §5, §2)."""
    return row["origin"] == "operator" and not row["emergency"]


def notice_key(request_id: str, sequence: int) -> str:
    """The change notice of one plan of a request: ``cop:<id>`` first, ``cop:<id>:<n>`` per re-plan."""
    return f"cop:{request_id}" if sequence == 0 else f"cop:{request_id}:{sequence}"


def alert_key(request_id: str, sequence: int) -> str:
    """The operator's alert that plan ``sequence`` of a request missed its window (sent once)."""
    return f"cop:{request_id}:missed:{sequence}"


def work_item(row: dict[str, Any]) -> dict[str, Any]:
    """What an upload task needs (small, JSON-safe for XCom); ``window_end`` None: no window."""
    item = {k: row[k] for k in ("request_id", "customer_id", "cop_file", "sha512", "bytes")}
    return item | {"window_end": _iso(as_utc(row.get("window_end"))), "sequence": int(row.get("sequence") or 0)}


def notice_item(row: dict[str, Any]) -> dict[str, Any]:
    """What ``send_notices`` needs for the change notice of the row's current plan."""
    sequence = int(row.get("sequence") or 0)
    misses = row.get("misses") or []
    miss = misses[-1] if sequence > 0 and misses else None
    return {
        "request_id": row["request_id"],
        "customer_id": row["customer_id"],
        "cop_file": row["cop_file"],
        "region": row["region"],
        "window_start": _iso(as_utc(row["window_start"])),
        "window_end": _iso(as_utc(row["window_end"])),
        "sequence": sequence,
        "dedupe_key": notice_key(row["request_id"], sequence),
        # the missed window this notice replaces (a re-plan), shown to the partner and customer
        "replaces": [miss["window_start"], miss["window_end"]] if isinstance(miss, dict) else None,
    }


def replan_window(row: dict[str, Any], as_of: datetime, settings: CopSettings) -> Window:
    """The window a re-plan takes at ``as_of``: a regular upload the earliest change window a notice
    sent now may name (>= 10 business days, weekday); an emergency the next maintenance window,
    weekend included (an open one when ``emergency_uses_open_window``). Source: DOMAIN.md §2, §5."""
    region = str(row["region"])
    if needs_notice(row):
        return earliest_change_window(region, as_of)
    if settings.emergency_uses_open_window and (current := window_at(region, as_of)) is not None:
        return current
    return next_window(region, as_of, allow_weekend=True)


def miss_reason(row: dict[str, Any], start: datetime, end: datetime) -> str:
    """Why a window closed without the upload, from what the row records."""
    if row["status"] == "failed":
        why = f"the upload failed: {row['last_error'] or row['reason']}"
    elif row.get("last_error"):
        why = f"the last upload attempt failed: {row['last_error']}"
    else:
        why = "no upload was attempted inside it (no run of cop_upload fell inside the window: paused, a change freeze)"
    return f"its window {_iso(start)} - {_iso(end)} ({row['region']}) closed without the upload: {why}"


@dataclass
class Review:
    """What one run's review found: work and notices for this run, and entries for its report."""

    due: list[dict[str, Any]] = field(default_factory=list)
    notify: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    replanned: list[dict[str, Any]] = field(default_factory=list)
    awaiting_notice: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


def _notice_statuses(conn: Any, keys: set[str]) -> dict[str, str]:
    from di_ops.db.schema import notices

    if not keys:
        return {}
    return {r.dedupe_key: r.status for r in conn.execute(select(notices).where(notices.c.dedupe_key.in_(keys)))}


class _Reviewer:
    def __init__(self, conn: Any, *, as_of: datetime, now: datetime, settings: CopSettings, run: dict[str, Any]):
        self.conn, self.as_of, self.now, self.settings, self.run = conn, as_of.astimezone(UTC), now, settings, run
        self.review = Review()

    def audit(self, row: dict[str, Any], action: str, detail: dict[str, Any]) -> None:
        self.review.audit.append(
            {
                "at": self.now,
                "dag_id": self.run["dag_id"],
                "run_id": self.run["run_id"],
                "entity": f"{row['customer_id']}/{row['cop_file']}",
                "action": action,
                "detail": {"request_id": row["request_id"], **detail},
                "actor": None,
            }
        )

    def store(self, row: dict[str, Any], **values: Any) -> None:
        """Write the step (guarded by the sequence read, so a step is taken once)."""
        if not self.run["dry_run"]:
            self.conn.execute(
                update(cop_requests)
                .where(cop_requests.c.request_id == row["request_id"], cop_requests.c.sequence == row["sequence"])
                .values(updated_at=self.now, **values)
            )

    def unannounced(self, row: dict[str, Any], notice_status: str) -> None:
        """No notice sent for the current plan: never uploaded; the window a notice sent now may name."""
        start, end = as_utc(row["window_start"]), as_utc(row["window_end"])
        window = earliest_change_window(str(row["region"]), self.as_of)
        new_start, new_end = window.start.astimezone(UTC), window.end.astimezone(UTC)
        entry = {
            "request_id": row["request_id"],
            "customer_id": row["customer_id"],
            "cop_file": row["cop_file"],
            "sequence": row["sequence"],
            "notice": notice_status,
            "window_start": _iso(start),
            "window_end": _iso(end),
            "new_window_start": _iso(new_start),
            "new_window_end": _iso(new_end),
        }
        if start is not None and start <= self.as_of:
            entry["reason"] = (
                f"its change notice ({notice_key(row['request_id'], row['sequence'])}: {notice_status}) was not sent "
                f"by its window {_iso(start)} - {_iso(end)}: not uploaded (DOMAIN.md §2: no change without its "
                "notice); re-planned in the window a notice sent now may name"
            )
            self.review.replanned.append(entry)
            self.audit(row, "cop_request_replanned", {k: v for k, v in entry.items() if k != "request_id"})
        else:
            self.review.awaiting_notice.append(entry)
        if (new_start, new_end) != (start, end) or row["status"] != "planned":
            self.store(row, status="planned", window_start=new_start, window_end=new_end)
        self.review.notify.append(
            notice_item({**row, "window_start": new_start, "window_end": new_end, "status": "planned"})
        )

    def miss(self, row: dict[str, Any], start: datetime, end: datetime) -> None:
        """The window closed without the upload: missed (audit, alert, report), re-planned."""
        reason = miss_reason(row, start, end)
        window = replan_window(row, self.as_of, self.settings)
        new_start, new_end = window.start.astimezone(UTC), window.end.astimezone(UTC)
        sequence = int(row["sequence"])
        miss = {
            "found_at": _iso(self.as_of),
            "sequence": sequence,
            "status": row["status"],
            "window_start": _iso(start),
            "window_end": _iso(end),
            "region": row["region"],
            "reason": reason,
            "new_sequence": sequence + 1,
            "new_window_start": _iso(new_start),
            "new_window_end": _iso(new_end),
            "new_notice": needs_notice(row),
        }
        self.store(
            row,
            status="planned",
            sequence=sequence + 1,
            window_start=new_start,
            window_end=new_end,
            notified_at=None,
            last_error=None,
            misses=[*(row.get("misses") or []), miss],
            reason=f"re-planned (plan {sequence + 1}) after the missed window {_iso(start)} - {_iso(end)}",
        )
        self.audit(row, "cop_request_missed", miss)
        self.audit(row, "cop_request_replanned", {"sequence": sequence + 1, "window_start": _iso(new_start)})
        basics = {k: row[k] for k in ("request_id", "customer_id", "cop_file")}
        self.review.missed.append(basics | miss | {"alert": alert_key(row["request_id"], sequence)})
        self.review.alerts.append(basics | {"miss": miss, "dedupe_key": alert_key(row["request_id"], sequence)})
        after = {
            **row,
            "status": "planned",
            "sequence": sequence + 1,
            "window_start": new_start,
            "window_end": new_end,
            "misses": [*(row.get("misses") or []), miss],
        }
        if needs_notice(row):
            self.review.notify.append(notice_item(after))
        elif new_start <= self.as_of < new_end:
            self.review.due.append(work_item(after))


def review_waiting(
    engine: Engine,
    *,
    skip: set[str],
    as_of: datetime,
    now: datetime,
    settings: CopSettings,
    dag_id: str,
    run_id: str,
    dry_run: bool,
) -> Review:
    """Move every waiting request one step as of ``as_of`` (see the module docstring); ``skip``:
    the requests this run recorded. A dry run decides the same and writes nothing."""
    run = {"dag_id": dag_id, "run_id": run_id, "dry_run": dry_run}
    with engine.begin() as conn:
        rows = [
            dict(r) for r in conn.execute(select(cop_requests).where(cop_requests.c.status.in_(WAITING))).mappings()
        ]
        rows = [r | {"sequence": int(r["sequence"] or 0)} for r in rows if r["request_id"] not in skip]
        keys = {notice_key(r["request_id"], r["sequence"]) for r in rows if needs_notice(r)}
        reviewer = _Reviewer(conn, as_of=as_of, now=now, settings=settings, run=run)
        sent = _notice_statuses(conn, keys)
        for row in sorted(rows, key=lambda r: r["request_id"]):
            start, end = as_utc(row["window_start"]), as_utc(row["window_end"])
            if start is None or end is None:  # a customer's request: due until uploaded; failed stays failed
                if row["status"] == "due":
                    reviewer.review.due.append(work_item(row))
                continue
            status = sent.get(notice_key(row["request_id"], row["sequence"]), "not recorded")
            if needs_notice(row) and status != "sent":
                reviewer.unannounced(row, status)
            elif end <= reviewer.as_of:
                reviewer.miss(row, start, end)
            elif start <= reviewer.as_of and row["status"] in ("planned", "due"):
                reviewer.review.due.append(work_item(row))
        review = reviewer.review
        # an alert not sent yet (the mail server was down when the miss was found) goes out again
        listed = {a["dedupe_key"] for a in review.alerts}
        earlier = [
            (dict(r), miss)
            for r in conn.execute(select(cop_requests).where(cop_requests.c.sequence > 0)).mappings()
            for miss in (r["misses"] or [])
        ]
        keys = {alert_key(r["request_id"], miss["sequence"]) for r, miss in earlier}
        alerted = _notice_statuses(conn, keys)
        for row, miss in earlier:
            key = alert_key(row["request_id"], miss["sequence"])
            if key not in listed and alerted.get(key) != "sent":
                basics = {k: row[k] for k in ("request_id", "customer_id", "cop_file")}
                review.alerts.append(basics | {"miss": miss, "dedupe_key": key})
    return review


def missed_alert(item: dict[str, Any], to: tuple[str, ...]) -> Any:
    """The operator's alert (``pipelines.yaml: alerts.to``) that a planned upload missed its window;
    once per missed plan (dedupe key :func:`alert_key`), from ``templates/cop_missed.html.j2``
    (autoescaped: request values are text) and its plain-text twin ``cop_missed.txt.j2``."""
    from di_ops.core.notices import Notice, local_and_utc, window_text
    from di_ops.core.templating import one_line, render
    from di_ops.rules.common import region_zone

    miss = item["miss"]
    zone = region_zone(miss["region"]).key

    def span(a: str, b: str) -> str:
        return window_text(datetime.fromisoformat(a), datetime.fromisoformat(b), zone, length=False)

    context = {
        "item": item,
        "miss": miss,
        "window": span(miss["window_start"], miss["window_end"]),
        "next_window": span(miss["new_window_start"], miss["new_window_end"]),
    }
    return Notice(
        dedupe_key=item["dedupe_key"],
        kind="cop_missed",
        entity=f"{item['customer_id']}/{item['cop_file']}",
        to=tuple(dict.fromkeys(to)),
        subject=one_line(
            f"MISSED COP upload window: {item['cop_file']} for {item['customer_id']}, window "
            f"{local_and_utc(datetime.fromisoformat(miss['window_start']), zone)}"
        ),
        html=render("cop_missed.html.j2", **context),
        text=render("cop_missed.txt.j2", **context),
    )
