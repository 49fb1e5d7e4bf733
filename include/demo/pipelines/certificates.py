"""Demo part of the certificate pipelines: the DI lab serves the demo fleet; one sweep runs.

The demo fleet's hosts are fake DNS names: the lab serves each node on its own loopback port
(``DI_OPS_LAB_TLS_BASE_PORT`` + i, default 9400) and publishes the host -> port map as
``{data_dir}/lab/endpoints.json``, which the ``di_uc_admin`` connection names in its
``tls_endpoints`` extra (the probe still sends the node's host as SNI). Lab credentials are demo-only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from include.demo.fleet import fleet_rows

# make demo sets both (include.demo.runs ports: checked, or chosen free); the defaults for a run by hand
LAB_ADMIN_PORT = int(os.environ.get("DI_OPS_LAB_ADMIN_PORT", "8943"))
LAB_TLS_BASE_PORT = int(os.environ.get("DI_OPS_LAB_TLS_BASE_PORT", "9400"))

ENV = {
    "AIRFLOW_CONN_DI_UC_ADMIN": json.dumps(
        {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": LAB_ADMIN_PORT,
            "schema": "http",
            "login": "di-ops",
            "password": "lab-secret",
            "extra": {"tls_endpoints": "{data_dir}/lab/endpoints.json", "ca_bundle": "{data_dir}/lab/ca.pem"},
        }
    )
}

SERVICES = [
    [
        "python",
        "-m",
        "include.lab",
        "--inventory",
        "{data_dir}/inventory",
        "--state",
        "{data_dir}/lab",
        "--admin-port",
        str(LAB_ADMIN_PORT),
        "--tls-base-port",
        str(LAB_TLS_BASE_PORT),
        "--counts",  # configured users/devices for capacity_audit (include.demo.pipelines.capacity)
        "{data_dir}/lab/capacity_counts.json",
        "--access-log",
    ]
]

DEMO_RUNS: list[tuple[str, dict[str, object]]] = [("certificate_sweep", {})]


def prepare(data_dir: Path) -> None:
    """IdP metadata for every demo customer (the SSO runbook re-imports it after a renewal)."""
    folder = data_dir / "certificates" / "idp_metadata"
    folder.mkdir(parents=True, exist_ok=True)
    for customer in fleet_rows()["customers"]:
        cid = customer["customer_id"]
        (folder / f"{cid}.xml").write_text(
            '<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'entityID="https://idp.{cid.lower()}.example/saml"/>\n'
        )
