"""Deterministic demo fleet: inventory exports for a dozen customers in all four regions.

    python -m include.demo.fleet --out .data/inventory

Writes customers.csv, contacts.csv, clusters.csv and nodes.csv. The same arguments
always give the same bytes (so the same inventory snapshot id). One deliberately
bad cluster row shows how the sync rejects rows with their reasons.

Data-quality and capacity cases on purpose (DOMAIN.md §2, §8; docs/pipelines/capacity.md):

| customer | what |
|---|---|
| C011 | no partner contact on file: a contact defect of inventory_sync's gate |
| C009 | configured devices at 95 % of the declared number: a capacity warning |
| C010 | configured devices at 104 % of the declared number: a capacity breach |
| C005 | devices at 107.5 % of the declared number, raised by an approved expansion (``DEMO_EXPANSIONS``) |
| C012 | no declared numbers: not declared (not judged) |

The configured counts the DI lab serves (:func:`configured_counts`) are the demo's truth of the
UC applications' admin API; the lab reads them from the file ``include.demo.pipelines.capacity`` writes.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

REGIONS = ("AMER", "APJC", "AUS", "EMEA")
PARTNERS = {"AMER": "Northwind Voice", "APJC": "Sakura Comms", "AUS": "Wattle Networks", "EMEA": "Polder Telecom"}
RELEASES = ("15.0 SU2", "15.0 SU1", "14.0 SU4", "14.0 SU3", "12.5 SU7a", "11.5 SU9")
APPS = ("CUCM", "IMP", "CUCxN", "CER", "Expressway")
CITY = {"AMER": "nyc", "APJC": "tyo", "AUS": "syd", "EMEA": "ams"}
NO_PARTNER_CONTACT = {"C011"}
UNDECLARED = {"C012"}
# customer -> (declared workspace devices, configured devices): the cases of the table above
DEVICE_CASES = {"C009": (400, 380), "C010": (250, 260), "C005": (200, 215)}
DEMO_EXPANSIONS = [
    {
        "customer_id": "C005",
        "knowledge_workers": "",
        "workspace_devices": "260",
        "approved_by": "Capacity board (demo)",
        "approved_at": "2026-11-02T10:00:00Z",
        "change_reference": "TAC-EXP-5005",
    }
]


def sme_publishing_region(i: int) -> str | None:
    """Every fourth customer (1, 5, 9, ...) has an SME cluster, published from the next region."""
    return REGIONS[i % len(REGIONS)] if i % 4 == 1 else None


def declared(i: int) -> tuple[int, int]:
    """Customer ``i``'s declared knowledge workers and workspace devices (DOMAIN.md §8)."""
    cid = f"C{i:03d}"
    workers = 100 * i + 200
    return workers, DEVICE_CASES.get(cid, (workers + 50, 0))[0]


def configured_counts(customers: int = 12) -> dict[str, dict[str, int]]:
    """What the demo's UC applications have configured per customer: ``{customer_id: {users, devices}}``.

    Most customers sit at 70 % (users) and 75 % (devices) of their declaration; the cases of the module
    docstring are set exactly; undeclared customers still have counts (they are reported, not judged).
    """
    out = {}
    for i in range(1, customers + 1):
        cid = f"C{i:03d}"
        workers, devices = declared(i)
        users = workers * 70 // 100
        configured = DEVICE_CASES[cid][1] if cid in DEVICE_CASES else devices * 75 // 100
        out[cid] = {"users": users, "devices": configured}
    return out


def fleet_rows(customers: int = 12, seed: int = 7) -> dict[str, list[dict[str, str]]]:
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, str]]] = {"customers": [], "contacts": [], "clusters": [], "nodes": []}
    for i in range(1, customers + 1):
        region = REGIONS[(i - 1) % len(REGIONS)]
        cid = f"C{i:03d}"
        domain = f"c{i:03d}.{CITY[region]}.di.example"
        workers, devices = ("", "") if cid in UNDECLARED else (str(n) for n in declared(i))
        rows["customers"].append(
            {
                "customer_id": cid,
                "name": f"Customer {i:03d} ({region})",
                "region": region,
                "partner": PARTNERS[region],
                "knowledge_workers": workers,
                "workspace_devices": devices,
            }
        )
        if cid not in NO_PARTNER_CONTACT:
            rows["contacts"].append(
                {
                    "customer_id": cid,
                    "name": f"{PARTNERS[region]} NOC",
                    "email": f"noc@partner-{region.lower()}.example",
                    "phone": f"+1 555 01{i:02d}",
                    "role": "partner",
                }
            )
        rows["contacts"].append(
            {
                "customer_id": cid,
                "name": f"IT desk {cid}",
                "email": f"it@{domain}",
                "phone": f"+31 20 555 {i:04d}",
                "role": "customer",
            }
        )
        release = RELEASES[rng.randrange(len(RELEASES))]
        sso = "true" if i % 3 == 0 else "false"
        apps = list(APPS)
        for app in apps:
            version = "X14.3" if app == "Expressway" else release
            cluster_id = f"{cid}-{app.lower()}"
            rows["clusters"].append(
                {
                    "cluster_id": cluster_id,
                    "customer_id": cid,
                    "application": app,
                    "version": version,
                    "sso_enabled": sso if app == "CUCM" else "false",
                    "sme_publishing_region": "",
                }
            )
            for n in range(1 if app in {"CER", "Expressway"} else 2):
                role = "publisher" if n == 0 else "subscriber"
                rows["nodes"].append(
                    {
                        "node_id": f"{cluster_id}-{'pub' if n == 0 else f'sub{n}'}",
                        "cluster_id": cluster_id,
                        "host": f"{app.lower()}-{n + 1}.{domain}",
                        "port": "8443",
                        "role": role,
                    }
                )
        publishing = sme_publishing_region(i)
        if publishing is not None:
            cluster_id = f"{cid}-sme"
            rows["clusters"].append(
                {
                    "cluster_id": cluster_id,
                    "customer_id": cid,
                    "application": "SME",
                    "version": release,
                    "sso_enabled": "false",
                    "sme_publishing_region": publishing,
                }
            )
            rows["nodes"].append(
                {
                    "node_id": f"{cluster_id}-pub",
                    "cluster_id": cluster_id,
                    "host": f"sme-1.{domain}",
                    "port": "8443",
                    "role": "publisher",
                }
            )
    # One deliberately bad row: an unknown application, rejected with its reason by inventory_sync.
    rows["clusters"].append(
        {
            "cluster_id": "C001-fax",
            "customer_id": "C001",
            "application": "FaxServer",
            "version": "1.0",
            "sso_enabled": "false",
            "sme_publishing_region": "",
        }
    )
    return rows


def write_fleet(out: Path, customers: int = 12, seed: int = 7) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, rows in fleet_rows(customers, seed).items():
        with (out / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        counts[name] = len(rows)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(write_fleet(args.out, args.customers, args.seed))


if __name__ == "__main__":
    main()
