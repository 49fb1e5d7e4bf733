"""A small fleet and its generated backup store for the backup_health tests.

The store is include/demo/backups.py's (``write_backup_store`` with its anomalies: C004 CUCM missed
last night, C005 IMP overdue, C006's Unity Connection backup without voicemail, C007 CER with a corrupt
archive); the inventory is written here (8 customers, 5 applications each, plus C008's SME cluster
that has no backup at all).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.demo.backups import APPS, REGIONS, write_backup_store

AS_OF = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
CUSTOMERS = 8
NIGHTS = 6


def fleet_rows(customers: int = CUSTOMERS) -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = {"customers": [], "contacts": [], "clusters": [], "nodes": []}
    for i in range(1, customers + 1):
        cid, region = f"C{i:03d}", REGIONS[(i - 1) % len(REGIONS)]
        rows["customers"].append({"customer_id": cid, "name": f"Customer {cid}", "region": region, "partner": "P"})
        rows["contacts"].append(
            {"customer_id": cid, "name": "NOC", "email": f"noc@{cid.lower()}.example", "role": "partner"}
        )
        for app in APPS:
            cluster = f"{cid}-{app.lower()}"
            rows["clusters"].append(
                {
                    "cluster_id": cluster,
                    "customer_id": cid,
                    "application": app,
                    "version": "15.0 SU2",
                    "sme_publishing_region": "",
                }
            )
            rows["nodes"].append(
                {
                    "node_id": f"{cluster}-pub",
                    "cluster_id": cluster,
                    "host": f"{cluster}.example",
                    "port": "443",
                    "role": "publisher",
                }
            )
    last = f"C{customers:03d}"
    rows["clusters"].append(
        {
            "cluster_id": f"{last}-sme",
            "customer_id": last,
            "application": "SME",
            "version": "15.0 SU2",
            "sme_publishing_region": "EMEA",
        }
    )
    rows["nodes"].append(
        {
            "node_id": f"{last}-sme-pub",
            "cluster_id": f"{last}-sme",
            "host": "sme.example",
            "port": "443",
            "role": "publisher",
        }
    )
    return rows


def write_inventory(folder: Path, customers: int = CUSTOMERS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in fleet_rows(customers).items():
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return folder


def load_inventory(engine: Any, folder: Path, at: datetime = AS_OF) -> str:
    """Store the exports as a snapshot (what inventory_sync does); returns the snapshot id."""
    from di_ops.core.inventory import read_inventory
    from di_ops.integrations.opsdb import store_inventory

    inventory = read_inventory(folder)
    assert not inventory.rejects, inventory.rejects
    return str(store_inventory(engine, inventory, at)["snapshot_id"])


def build_store(root: Path, customers: int = CUSTOMERS, nights: int = NIGHTS) -> int:
    """The demo store without its SME series: these tests' inventory (above) lists C008's SME cluster only,
    never backed up."""
    return write_backup_store(root, as_of=AS_OF, customers=customers, nights=nights, with_sme=False)


def fs_connection(root: Path) -> str:
    import json

    return json.dumps({"conn_type": "fs", "extra": {"path": str(root)}})
