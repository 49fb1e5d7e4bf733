"""Shared set-up of the incident_watch tests: an inventory snapshot, export files, a run, the outbox."""

from __future__ import annotations

import csv
import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path
from typing import Any

COLUMNS = ["case_id", "customer_id", "region", "opened_at", "first_response_at", "impact", "urgency", "severity"]
COLUMNS += ["closed_at", "contract_number", "caller_account", "contact_name", "contact_phone", "contact_email"]
NO_PARTNER = "C012"  # the customer whose partner contact is removed from the inventory
PARTNER = {"C004": "noc@partner-emea.example", "C001": "noc@partner-amer.example"}


def case(
    case_id: str, opened: str, severity: str = "S1", customer: str = "C004", region: str = "EMEA", **kw: str
) -> dict[str, str]:
    row = {"case_id": case_id, "customer_id": customer, "region": region, "opened_at": opened}
    row |= {"first_response_at": "", "impact": "Widespread", "urgency": "Critical", "severity": severity}
    row |= {"closed_at": "", "contract_number": "SVC-004004", "caller_account": "partner"}
    row |= {"contact_name": "Polder Telecom NOC", "contact_phone": "+31 20 555 0004"}
    row |= {"contact_email": "noc@polder-telecom.example"}
    return row | kw


def write_export(path: Path, rows: list[dict[str, str]], extra: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS + list(extra), lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def store_snapshot(folder: Path, at: datetime) -> None:
    """The demo fleet's inventory with the partner contact of NO_PARTNER removed, stored as the snapshot."""
    from di_ops.core.inventory import read_inventory
    from di_ops.integrations.opsdb import ops_engine, store_inventory
    from include.demo.fleet import write_fleet

    write_fleet(folder)
    contacts = folder / "contacts.csv"
    with contacts.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kept = [r for r in rows if not (r["customer_id"] == NO_PARTNER and r["role"] == "partner")]
    with contacts.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    store_inventory(ops_engine(), read_inventory(folder), at)


def run_watch(exports: Path, as_of: datetime, run_id: str, *, sent_at: datetime | None = None) -> dict[str, Any]:
    """One watch run through its task bodies, in order; the send clock is ``sent_at`` (default as_of)."""
    from di_ops.pipelines.sla import watch

    clock = (lambda: sent_at) if sent_at else (lambda: as_of)
    plan = watch.scan_exports({"export_path": str(exports), "as_of": as_of.isoformat()}, run_id, None, as_of)
    ingested = watch.ingest_changes(plan)
    notified = watch.send_proactive_notices(plan, clock=clock)
    result = watch.review_escalations(plan, ingested, notified, clock=clock)
    return {"plan": plan, "ingested": ingested, "notified": notified, "result": result}


def mails(outbox: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        found.append(email.message_from_bytes(path.read_bytes(), policy=policy.default))
    return found  # type: ignore[return-value]


def body(message: Any) -> str:
    part = message.get_body(preferencelist=("html", "plain"))
    return str(part.get_content())


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
