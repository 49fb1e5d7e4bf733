"""Helpers of the upgrade lifecycle tests: an ops DB on SQLite, inventories loaded at chosen instants,
and sweeps (weekly or the daily emergency check) run through the real task bodies."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from tests.pipelines.upgrades.fleet import fleet_rows

WEEKLY = "upgrade_eligibility"
DAILY = "upgrade_emergency_check"


def write_fleet(folder: Path, versions: dict[str, str] | None = None, without_contacts: Iterable[str] = ()) -> Path:
    """The test fleet's exports; ``without_contacts``: customers with no contact on file."""
    rows = fleet_rows(versions)
    gone = set(without_contacts)
    rows["contacts"] = [c for c in rows["contacts"] if c["customer_id"] not in gone]
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in rows.items():
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(fleet_rows()[name][0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(table)
    return folder


def load(engine: Any, folder: Path, at: datetime, **kwargs: Any) -> str:
    """Store the fleet as ``inventory_sync`` would at ``at``; returns the snapshot id."""
    from tests.pipelines.upgrades.fleet import load_inventory

    return load_inventory(engine, write_fleet(folder, **kwargs), at)


def run_sweep(at: datetime, run_id: str, *, daily: bool = False) -> dict[str, Any]:
    """One sweep as its DAG runs it: assess, apply, report."""
    from di_ops.pipelines.upgrades.sweep import apply_plans, sweep, write_report

    dag_id = DAILY if daily else WEEKLY
    found = sweep(
        dag_id=dag_id, run_id=run_id, as_of=at, started_at=at, customers=None, announce=None, emergency_only=daily
    )
    applied = apply_plans(dag_id=dag_id, run_id=run_id, as_of=at, folder=found["folder"], dry_run=False)
    return {**applied, **write_report(found["folder"]), "folder": found["folder"]}


def write_advisories(data_dir: Path, advisories: list[dict[str, Any]], requests: list[dict[str, Any]]) -> None:
    folder = data_dir / "upgrades"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "advisories.json").write_text(json.dumps(advisories), encoding="utf-8")
    (folder / "partner_requests.json").write_text(json.dumps(requests), encoding="utf-8")


def mails(outbox: Path) -> list[Message]:
    return [message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]  # names sort by arrival


def ics(msg: Message) -> str:
    for part in msg.walk():
        if part.get_filename() == "upgrade.ics":
            return part.get_payload(decode=True).decode().replace("\r\n ", "")
    raise AssertionError(f"no .ics in {msg['Subject']}")


def body(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no html part")


def to_of(msg: Message) -> set[str]:
    return set(msg["To"].replace(" ", "").split(","))
