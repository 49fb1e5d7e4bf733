"""Run the DI lab for the demo fleet.

    python -m include.lab --inventory .data/inventory --state .data/lab --admin-port 8943 --tls-base-port 9400

Reads ``nodes.csv`` and ``clusters.csv`` of the inventory exports and serves every node on its
own loopback TLS port (``tls-base-port`` + i, in node-id order) with a certificate expiring over
the next weeks; ``<state>/endpoints.json`` maps each node's ``host:port`` to its port and
``<state>/ca.pem`` is the lab's root CA (both named in the ``di_uc_admin`` connection extra).
A few nodes show the faults the sweep must record: a self-signed certificate, a node that is
down, an already expired certificate. ``--counts FILE`` (JSON ``{customer_id: {"users": n, "devices": n}}``,
written by ``include.demo.pipelines.capacity``) gives the configured users and devices the capacity call
answers; a missing file means no counts (every customer 404). ``--access-log`` logs each admin API request (``make demo``
sends this output to ``.airflow/logs/demo/``). A port in use (the admin port, or any of the TLS
range's) stops the lab at once (exit code 1) with a message naming the port and the option.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from include.lab.ports import LabPortBusy
from include.lab.server import Lab, NodeSpec


def demo_specs(inventory: Path) -> tuple[list[NodeSpec], dict[str, bool]]:
    with (inventory / "clusters.csv").open(newline="") as fh:
        clusters = {r["cluster_id"]: r for r in csv.DictReader(fh)}
    with (inventory / "nodes.csv").open(newline="") as fh:
        nodes = sorted(csv.DictReader(fh), key=lambda r: r["node_id"])
    specs = []
    for i, row in enumerate(nodes):
        # Expiries spread over the next six weeks, at varied hours; some faults on purpose.
        expires = timedelta(days=1 + (i * 5) % 42, hours=(i * 7) % 24)
        if i % 37 == 3:
            expires = timedelta(days=-2)
        specs.append(
            NodeSpec(
                node_id=row["node_id"],
                host=row["host"],
                port=int(row["port"]),
                cluster_id=row["cluster_id"],
                expires_in=expires,
                self_signed=i % 29 == 5,
                down=i % 31 == 7,
            )
        )
    sso = {cid: str(r.get("sso_enabled", "")).strip().lower() in {"true", "1", "yes"} for cid, r in clusters.items()}
    return specs, sso


def demo_counts(path: Path | None) -> dict[str, dict[str, int]]:
    """The configured users and devices per customer from ``path`` (none when it is not given or missing)."""
    if path is None or not path.is_file():
        return {}
    return {
        str(k): {"users": int(v["users"]), "devices": int(v["devices"])}
        for k, v in json.loads(path.read_text()).items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--admin-port", type=int, default=8943)
    parser.add_argument("--tls-base-port", type=int, default=9400)
    parser.add_argument("--login", default="di-ops")
    parser.add_argument("--password", default="lab-secret")
    parser.add_argument("--access-log", action="store_true", help="log every admin API request")
    parser.add_argument("--counts", type=Path, help="JSON {customer_id: {users, devices}} the capacity call serves")
    args = parser.parse_args()
    specs, sso = demo_specs(args.inventory)
    lab = Lab(
        specs,
        sso,
        state_dir=args.state,
        login=args.login,
        password=args.password,
        capacity=demo_counts(args.counts),
    )
    try:
        lab.start(admin_port=args.admin_port, tls_base_port=args.tls_base_port, access_log=args.access_log)
    except LabPortBusy as busy:
        first = args.tls_base_port
        tls = f"ports {first}-{first + len(specs) - 1}" if first else "any free ports"
        sys.exit(
            f"DI lab: cannot listen: {busy.strerror} (--admin-port {args.admin_port}, --tls-base-port "
            f"{first}: {tls}); choose free ports"
        )
    print(
        f"DI lab: admin API {lab.admin_url}, {len(lab.endpoints)} TLS endpoints "
        f"({args.tls_base_port}-{args.tls_base_port + len(specs) - 1}), map {args.state}/endpoints.json",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        lab.stop()


if __name__ == "__main__":
    main()
