"""The contact-data gate of ``inventory_sync`` and what it stores beside the snapshot.

Source: DOMAIN.md §2 (contact data: a customer without at least one partner contact and one customer
contact with a well-formed e-mail is a data-quality defect, reported, not guessed) and §8 (the declared
knowledge workers and workspace devices). docs/pipelines/inventory.md describes the outputs:

* each defect is a row of the snapshot's rejects (``inventory_rejects``, file ``contacts``, line 0) and
  of ``contact_defects`` (customer id, partner, missing roles, reason); the customer stays in the snapshot;
* the declared numbers go to ``customer_declarations`` (null = not declared);
* once per snapshot, by the run that first sees it (GX takes seconds to start; the sync is hourly),
  ``<data>/reports/inventory/<run folder>/``: ``rejects.csv``, ``contact_defects.csv``,
  ``summary.json`` and the GX result with its Data Docs (``gx/``); then the marker
  ``<data>/reports/inventory/snapshots/<snapshot id>.json`` names that folder and the GX outcome, and a
  later run of the same snapshot returns it. A run that dies before the marker is written leaves the
  gate to its retry (or the next run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from di_ops.core.csv_safe import SafeWriter
from di_ops.core.inventory import ContactDefect, Inventory
from di_ops.core.run_folders import run_folder
from di_ops.db.tables_inventory import contact_defects, customer_declarations

REJECT_COLUMNS = ("source_file", "line", "reason", "raw")
DEFECT_COLUMNS = ("customer_id", "name", "partner", "missing_roles", "contacts_on_file", "reason")


def store_gate(engine: Engine, inventory: Inventory, defects: Sequence[ContactDefect]) -> bool:
    """Store the snapshot's declarations and contact defects once (a rerun or retry writes nothing)."""
    sid = inventory.snapshot_id
    with engine.begin() as conn:
        done = conn.execute(
            select(customer_declarations.c.customer_id).where(customer_declarations.c.snapshot_id == sid).limit(1)
        ).first()
        if done is not None or not inventory.customers:
            return False
        conn.execute(
            insert(customer_declarations),
            [
                {
                    "snapshot_id": sid,
                    "customer_id": c.customer_id,
                    "knowledge_workers": c.knowledge_workers,
                    "workspace_devices": c.workspace_devices,
                }
                for c in inventory.customers
            ],
        )
        if defects:
            conn.execute(
                insert(contact_defects),
                [
                    {
                        "snapshot_id": sid,
                        "customer_id": d.customer_id,
                        "partner": d.partner,
                        "missing_roles": list(d.missing_roles),
                        "contacts_on_file": d.contacts_on_file,
                        "reason": d.reason,
                    }
                    for d in defects
                ],
            )
    return True


def snapshot_contact_defects(engine: Engine, snapshot_id: str) -> list[dict[str, Any]]:
    """The contact defects stored for a snapshot (what the console's customer page shows)."""
    t = contact_defects
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.snapshot_id == snapshot_id).order_by(t.c.customer_id)).mappings()
        return [dict(r) for r in rows]


def defect_rows(defects: Sequence[ContactDefect]) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": d.customer_id,
            "name": d.name,
            "partner": d.partner,
            "missing_roles": list(d.missing_roles),
            "contacts_on_file": d.contacts_on_file,
            "reason": d.reason,
        }
        for d in defects
    ]


def write_reports(
    run_dir: Path, inventory: Inventory, defects: Sequence[ContactDefect], summary: dict[str, Any]
) -> None:
    """``rejects.csv`` (every reject, the gate's included), ``contact_defects.csv`` and ``summary.json``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "rejects.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh, lineterminator="\n")
        writer.writerow(REJECT_COLUMNS)
        writer.writerows([r.source_file, r.line, r.reason, r.raw] for r in inventory.rejects)
    with (run_dir / "contact_defects.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh, lineterminator="\n")
        writer.writerow(DEFECT_COLUMNS)
        writer.writerows(
            [d.customer_id, d.name, d.partner, " ".join(d.missing_roles), d.contacts_on_file, d.reason] for d in defects
        )
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True, default=str), encoding="utf-8")


def gate_once(inventory: Inventory, defects: Sequence[ContactDefect], summary: dict[str, Any]) -> dict[str, Any]:
    """The GX outcome of the snapshot's contact gate: validated and reported now, or the marker's copy."""
    from di_ops.pipelines.inventory.quality import validate_contacts
    from di_ops.pipelines.inventory.settings import inventory_settings

    cfg = inventory_settings()
    reports = cfg.path("reports_folder")
    marker = reports / "snapshots" / f"{inventory.snapshot_id}.json"
    if marker.is_file():
        return {**json.loads(marker.read_text(encoding="utf-8")), "validated_now": False}
    run_dir = run_folder(reports, str(summary["run_id"]))
    quality = validate_contacts(
        inventory, cfg.contact_gate.required_roles, gx_root=cfg.path("gx_folder"), run_dir=run_dir
    )
    gate = {**quality, "report_folder": str(run_dir), "run_id": summary["run_id"]}
    write_reports(run_dir, inventory, defects, {**summary, "contact_gate": gate})
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(gate, indent=1, sort_keys=True), encoding="utf-8")
    return {**gate, "validated_now": True}
