"""A small fleet over every train and region, the feeds that go with it, and loading it into the ops DB."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AS_OF = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # a Monday; no release is near its EOL yet
REGION = {"A001": "AMER", "A002": "APJC", "A003": "AUS", "A004": "EMEA", "A005": "EMEA", "A006": "AMER"}
CLUSTERS: list[tuple[str, str, str, str]] = [  # customer, application, version, SME publishing region
    ("A001", "CUCM", "15.0 SU2", ""),
    ("A001", "IMP", "15.0 SU2", ""),
    ("A001", "CUCxN", "15.0 SU2", ""),
    ("A001", "Expressway", "X14.3", ""),
    ("A001", "SME", "15.0 SU2", "EMEA"),
    ("A002", "CUCM", "14.0 SU4", ""),
    ("A002", "IMP", "14.0 SU4", ""),
    ("A002", "CUCxN", "14.0 SU3", ""),
    ("A003", "CUCM", "12.5 SU7a", ""),
    ("A003", "IMP", "12.5 SU7a", ""),
    ("A003", "CUCxN", "15.0 SU1", ""),
    ("A003", "SME", "12.5 SU7a", "APJC"),
    ("A004", "CUCM", "11.5 SU9", ""),
    ("A004", "CER", "16.0 SU1", ""),
    ("A005", "CUCM", "15.0 SU1", ""),
    ("A005", "IMP", "15.0 SU1", ""),
    ("A006", "CUCM", "15.0 SU2", ""),
    ("A006", "IMP", "15.0 SU1", ""),
]
ADVISORIES: list[dict[str, Any]] = [
    {
        "advisory_id": "ADV-1",
        "application": "CUCM",
        "affected_versions": ["15.0 SU1"],
        "fixed_in": "15.0 SU2",
        "remedy": "upgrade",
        "published": "2026-05-20T00:00:00Z",
        "severity": "critical",
    },
    {
        "advisory_id": "ADV-2",
        "application": "IMP",
        "affected_versions": ["14.0"],
        "fixed_in": None,
        "remedy": "COP",
        "published": "2026-05-21T00:00:00Z",
        "severity": "medium",
    },
    {  # published after as_of: not seen yet
        "advisory_id": "ADV-3",
        "application": "CUCM",
        "affected_versions": ["15.0 SU2"],
        "fixed_in": "15.0 SU3",
        "remedy": "upgrade",
        "published": "2026-07-01T00:00:00Z",
        "severity": "critical",
    },
]
REQUESTS: list[dict[str, Any]] = [
    {
        "request_id": "TAC-123",
        "customer_id": "A006",
        "application": "IMP",
        "reason": "needs the 15.0 SU2 feature set",
        "requested_at": "2026-05-25T09:00:00Z",
    }
]


def fleet_rows(versions: dict[str, str] | None = None) -> dict[str, list[dict[str, str]]]:
    """Inventory export rows; ``versions`` overrides cluster versions by cluster id (an upgrade done)."""
    rows: dict[str, list[dict[str, str]]] = {"customers": [], "contacts": [], "clusters": [], "nodes": []}
    for cid, region in REGION.items():
        rows["customers"].append({"customer_id": cid, "name": f"Customer {cid}", "region": region, "partner": "P"})
        rows["contacts"].append(
            {
                "customer_id": cid,
                "name": "NOC",
                "email": f"noc@{cid.lower()}.partner.example",
                "phone": "",
                "role": "partner",
            }
        )
        rows["contacts"].append(
            {"customer_id": cid, "name": "IT", "email": f"it@{cid.lower()}.example", "phone": "", "role": "customer"}
        )
    for cid, app, version, sme in CLUSTERS:
        cluster_id = f"{cid}-{app.lower()}"
        rows["clusters"].append(
            {
                "cluster_id": cluster_id,
                "customer_id": cid,
                "application": app,
                "version": (versions or {}).get(cluster_id, version),
                "sso_enabled": "false",
                "sme_publishing_region": sme,
            }
        )
        rows["nodes"].append(
            {
                "node_id": f"{cluster_id}-pub",
                "cluster_id": cluster_id,
                "host": f"{cluster_id}.example",
                "port": "8443",
                "role": "publisher",
            }
        )
    return rows


def write_inventory(folder: Path, versions: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in fleet_rows(versions).items():
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return folder


def load_inventory(engine: Any, folder: Path, at: datetime) -> str:
    """Store the exports in ``folder`` as a snapshot (what inventory_sync does); returns the snapshot id."""
    from di_ops.core.inventory import read_inventory
    from di_ops.integrations.opsdb import store_inventory

    inventory = read_inventory(folder)
    assert not inventory.rejects, inventory.rejects
    return str(store_inventory(engine, inventory, at)["snapshot_id"])


def write_feeds(
    data_dir: Path, advisories: list[dict[str, Any]] | None = None, requests: list[dict[str, Any]] | None = None
) -> None:
    folder = data_dir / "upgrades"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "advisories.json").write_text(
        json.dumps(ADVISORIES if advisories is None else advisories), encoding="utf-8"
    )
    (folder / "partner_requests.json").write_text(
        json.dumps(REQUESTS if requests is None else requests), encoding="utf-8"
    )
