"""A small fleet for the certificate pipelines' tests: inventory exports, a lab serving it, the connections.

Certificates expire at chosen offsets from ``AS_OF`` (a Monday, 09:00 UTC):

| node | customer / region | expires | expected |
|---|---|---|---|
| E1-cucm-pub, E1-cucm-sub | E1 EMEA, SSO on | +10 d, +10 d 3 h | scheduled, EMEA window of Thu 3 Dec |
| A1-sme-pub | A1 AMER, SME published in EMEA | +10 d | scheduled in the EMEA window |
| A1-imp-pub | A1 AMER | +2 d | emergency (window open at as_of, weekend) |
| A1-cer-pub | A1 AMER | -1 d | expired (incident) |
| A1-cucm-pub | A1 AMER | +60 d | not due (outside the lookahead) |
| A1-cucm-sub | A1 AMER | (down) | unreachable, recorded |
| E1-imp-pub | E1 EMEA | +9 d, self-signed | scheduled, trust self_signed |
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from include.lab.server import Lab, NodeSpec

AS_OF = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# Every Param explicitly: dag.test() runs tasks in-process, and Param values given to one run can
# stick to the DAG object that the session's DagBag shares between tests.
SWEEP_CONF = {"as_of": AS_OF.isoformat(), "customers": [], "lookahead_days": None, "dry_run": False}

CUSTOMERS = [
    {"customer_id": "E1", "name": "Emea One", "region": "EMEA", "partner": "Polder Telecom"},
    {"customer_id": "A1", "name": "Amer One", "region": "AMER", "partner": "Northwind Voice"},
]
CONTACTS = [
    {"customer_id": "E1", "name": "Polder NOC", "email": "noc@polder.example", "phone": "", "role": "partner"},
    {"customer_id": "E1", "name": "E1 IT", "email": "it@e1.example", "phone": "", "role": "customer"},
    {"customer_id": "A1", "name": "Northwind NOC", "email": "noc@northwind.example", "phone": "", "role": "partner"},
]
CLUSTERS = [
    ("E1-cucm", "E1", "CUCM", "true", ""),
    ("E1-imp", "E1", "IMP", "false", ""),
    ("A1-cucm", "A1", "CUCM", "false", ""),
    ("A1-imp", "A1", "IMP", "false", ""),
    ("A1-cer", "A1", "CER", "false", ""),
    ("A1-sme", "A1", "SME", "false", "EMEA"),
]
# node_id, cluster_id, expires_in, self_signed, down
NODES = [
    ("E1-cucm-pub", "E1-cucm", timedelta(days=10), False, False),
    ("E1-cucm-sub", "E1-cucm", timedelta(days=10, hours=3), False, False),
    ("E1-imp-pub", "E1-imp", timedelta(days=9), True, False),
    ("A1-sme-pub", "A1-sme", timedelta(days=10), False, False),
    ("A1-imp-pub", "A1-imp", timedelta(days=2), False, False),
    ("A1-cer-pub", "A1-cer", timedelta(days=-1), False, False),
    ("A1-cucm-pub", "A1-cucm", timedelta(days=60), False, False),
    ("A1-cucm-sub", "A1-cucm", timedelta(days=30), False, True),
]
SSO_CLUSTERS = {"E1-cucm": True}
IDP_METADATA = b'<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.e1.example"/>'


def host(node_id: str) -> str:
    return f"{node_id.lower()}.di.example"


def write_inventory(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "customers": CUSTOMERS,
        "contacts": CONTACTS,
        "clusters": [
            dict(
                zip(
                    ("cluster_id", "customer_id", "application", "sso_enabled", "sme_publishing_region"),
                    row,
                    strict=True,
                )
            )
            | {"version": "15.0 SU2"}
            for row in CLUSTERS
        ],
        "nodes": [
            {
                "node_id": node_id,
                "cluster_id": cluster,
                "host": host(node_id),
                "port": "8443",
                "role": "publisher" if node_id.endswith("pub") else "subscriber",
            }
            for node_id, cluster, *_ in NODES
        ],
    }
    for name, rows in tables.items():
        with (folder / f"{name}.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def load_inventory(folder: Path) -> str:
    from di_ops.core.inventory import read_inventory
    from di_ops.integrations.opsdb import ops_engine, store_inventory

    inventory = read_inventory(folder)
    assert not inventory.rejects, inventory.rejects
    store_inventory(ops_engine(), inventory, AS_OF - timedelta(hours=1))
    return inventory.snapshot_id


def start_lab(state: Path) -> Lab:
    specs = [
        NodeSpec(node_id=n, host=host(n), cluster_id=c, expires_in=e, self_signed=s, down=d) for n, c, e, s, d in NODES
    ]
    return Lab(specs, SSO_CLUSTERS, state_dir=state, now=AS_OF).start()


def setup_fleet(tmp_path: Path, data_dir: Path, monkeypatch) -> Lab:  # type: ignore[no-untyped-def]
    """Inventory loaded into the ops DB, the lab serving it, ``di_uc_admin`` pointing at the lab."""
    write_inventory(tmp_path / "inventory")
    lab = start_lab(tmp_path / "lab")
    monkeypatch.setenv("AIRFLOW_CONN_DI_UC_ADMIN", json.dumps(lab.connection()))
    load_inventory(tmp_path / "inventory")
    metadata = data_dir / "certificates" / "idp_metadata"
    metadata.mkdir(parents=True)
    (metadata / "E1.xml").write_bytes(IDP_METADATA)
    return lab
