"""Every planned change of every pipeline, as one list the change calendar shows.

Read from the pipelines' own tables in the ops DB (``db/tables_<pipeline>.py``): certificate renewal
plans, upgrade plans and COP upload requests. Each becomes a :class:`Change` with one vocabulary of
states (docs/console.md):

| state | meaning |
|---|---|
| ``planned`` | in a window, the partner not told yet |
| ``notified`` | the notice went out, the partner may still answer (upgrades) |
| ``scheduled`` | due in its window (notice sent, or an emergency) |
| ``done`` | carried out |
| ``missed`` | its window closed without it (re-planned as a new change, or flagged) |
| ``cancelled`` | withdrawn |

The pipeline's own word stays beside it (``detail_state``). Lead time = window opening − notice
sent. Light at import: SQLAlchemy only inside the functions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

STATES = ("planned", "notified", "scheduled", "done", "missed", "cancelled")
KINDS = ("certificate", "upgrade", "cop", "emergency")

# the pipelines' words -> the calendar's
_CERTIFICATE_STATES = {
    "scheduled": "scheduled",
    "emergency": "scheduled",
    "renewed": "done",
    "failed": "missed",
    "missed": "missed",
    "expired": "missed",
}
_UPGRADE_STATES = {
    "proposed": "planned",
    "notified": "notified",
    "scheduled": "scheduled",
    "done": "done",
    "missed": "missed",
    "cancelled": "cancelled",
}
_COP_STATES = {"due": "scheduled", "uploaded": "done", "failed": "missed", "missed": "missed", "cancelled": "cancelled"}


@dataclass(frozen=True)
class Change:
    """One planned change in one maintenance window (``window_start`` None: not in a window yet)."""

    uid: str  # stable across updates: the calendar export's UID
    kind: str  # certificate | upgrade | cop | emergency
    title: str
    customer_id: str
    cluster_id: str
    region: str
    window_start: datetime | None
    window_end: datetime | None
    state: str
    detail_state: str
    notice_sent_at: datetime | None
    sequence: int
    dag_id: str
    run_id: str
    reason: str = ""

    @property
    def lead_time_hours(self) -> float | None:
        """Hours from the notice to the window's opening (None without either)."""
        if self.notice_sent_at is None or self.window_start is None:
            return None
        return round((self.window_start - self.notice_sent_at).total_seconds() / 3600, 1)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("window_start", "window_end", "notice_sent_at"):
            value = data[key]
            data[key] = value.astimezone(UTC).isoformat() if value is not None else None
        data["lead_time_hours"] = self.lead_time_hours
        return data


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for aware columns: they are UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _certificate_changes(engine: Engine) -> list[Change]:
    from sqlalchemy import select

    from di_ops.db import schema
    from di_ops.db.tables_certificates import certificate_plans as t

    notices = schema.notices
    sent = (
        select(notices.c.dedupe_key, notices.c.sent_at)
        .where(notices.c.status == "sent", notices.c.dedupe_key.like("certificate:%"))
        .subquery()
    )
    query = select(t, sent.c.sent_at).outerjoin(sent, sent.c.dedupe_key == ("certificate:" + t.c.plan_id))
    changes = []
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            emergency = row["status"] == "emergency"
            changes.append(
                Change(
                    uid=f"certificate-{row['plan_id']}",
                    kind="emergency" if emergency else "certificate",
                    title=f"Renew the certificate of {row['host']}",
                    customer_id=row["customer_id"],
                    cluster_id=row["cluster_id"],
                    region=row["region"],
                    window_start=aware(row["window_start"]),
                    window_end=aware(row["window_end"]),
                    state=_CERTIFICATE_STATES.get(row["status"], row["status"]),
                    detail_state=row["status"],
                    notice_sent_at=aware(row["sent_at"]),
                    sequence=int(row["revision"]),
                    dag_id=row["dag_id"],
                    run_id=row["run_id"],
                    reason=row["error"] or "",
                )
            )
    return changes


def _upgrade_changes(engine: Engine) -> list[Change]:
    from sqlalchemy import select

    from di_ops.db.tables_upgrades import upgrade_plans as t

    changes = []
    with engine.connect() as conn:
        for row in conn.execute(select(t)).mappings():
            changes.append(
                Change(
                    uid=f"upgrade-{row['upgrade_id']}",
                    kind="emergency" if row["emergency"] else "upgrade",
                    title=f"Upgrade {row['application']} from {row['from_version']} to {row['target']}",
                    customer_id=row["customer_id"],
                    cluster_id=row["cluster_id"],
                    region=row["window_region"],
                    window_start=aware(row["window_start"]),
                    window_end=aware(row["window_end"]),
                    state=_UPGRADE_STATES.get(row["state"], row["state"]),
                    detail_state=row["state"],
                    notice_sent_at=aware(row["notified_at"]),
                    sequence=int(row["sequence"]),
                    dag_id="upgrade_eligibility",
                    run_id=row["updated_run_id"],
                )
            )
    return changes


def _cop_state(status: str, notified: bool) -> str:
    if status == "planned":
        return "scheduled" if notified else "planned"
    return _COP_STATES.get(status, status)


def _cop_changes(engine: Engine, regions: dict[str, str]) -> list[Change]:
    from sqlalchemy import select

    from di_ops.db.tables_cop import cop_requests as t

    changes = []
    with engine.connect() as conn:
        # a rejected request never reached a window: it is in the COP run report, not the calendar
        for row in conn.execute(select(t).where(t.c.status != "rejected")).mappings():
            changes.append(
                Change(
                    uid=f"cop-{row['request_id']}",
                    kind="emergency" if row["emergency"] else "cop",
                    title=f"Upload {row['cop_file']}",
                    customer_id=row["customer_id"],
                    cluster_id="",
                    region=regions.get(row["customer_id"], ""),
                    window_start=aware(row["window_start"]),
                    window_end=aware(row["window_end"]),
                    state=_cop_state(row["status"], row["notified_at"] is not None),
                    detail_state=row["status"],
                    notice_sent_at=aware(row["notified_at"]),
                    sequence=int(row["sequence"]),
                    dag_id=row["dag_id"],
                    run_id=row["run_id"],
                    reason=row["last_error"] or row["reason"] or "",
                )
            )
    return changes


def customer_regions(engine: Engine) -> dict[str, str]:
    """Customer id -> region, from the latest inventory snapshot (empty before the first)."""
    from di_ops.integrations.opsdb import latest_snapshot_id, snapshot_rows

    snapshot = latest_snapshot_id(engine)
    if snapshot is None:
        return {}
    return {str(c["customer_id"]): str(c.get("region") or "") for c in snapshot_rows(engine, snapshot)["customers"]}


def all_changes(engine: Engine) -> list[Change]:
    """Every change of every pipeline, ordered by window (changes without a window last)."""
    changes = _certificate_changes(engine) + _upgrade_changes(engine) + _cop_changes(engine, customer_regions(engine))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(changes, key=lambda c: (c.window_start or far, c.region, c.customer_id, c.uid))
