"""The simulated world of the month: the fleet's exports, the DI lab's certificates, the backup store,
TAC case exports, the advisory feed and the COP inbox, and the events that change them on given days.

Everything is deterministic (seeded) and written with the simulated instant as its file time, so the
pipelines that judge file times (the SLA audit's "nothing in the future", housekeeping's ages) see
the simulated clock, not the wall clock. See docs/simulation.md.
"""

from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from include.demo.backups import ZONES, backup_id_for, write_backup, write_backup_store
from include.demo.fleet import REGIONS, fleet_rows, sme_publishing_region
from include.lab.server import NodeSpec

START = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)  # a Monday; EMEA (25 Oct) and AMER (1 Nov) leave DST in the month
DAYS = 30
END = START + timedelta(days=DAYS)
DAY = timedelta(days=1)
CUSTOMERS = 8  # two per region (include.demo.fleet assigns regions in turn)
BACKUP_NIGHTS = 40  # history already in the store on day 0
APPS = ("CUCM", "IMP", "CUCxN", "CER", "Expressway")

# above its declared devices until its expansion is approved (include.demo.fleet.DEMO_EXPANSIONS)
CAPACITY_BREACH = ("C005", datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
LATE_CONTACTS = ("C007", START + 3 * DAY + timedelta(hours=10))  # its contacts reach the export on day 3
LATE_NODE = "C006-cucm-sub2"  # added to the inventory on day 12, expiring 2 days later: an emergency
LATE_NODE_SEEN = START + 12 * DAY + timedelta(hours=3)
LATE_NODE_EXPIRES = START + 14 * DAY + timedelta(hours=2)
REFUSED_ONCE = "C002-cucm-sub1"  # the lab refuses its first renewal call (a busy CA): the retry renews it
MISSED_CUSTOMERS = ("C004",)  # planned upgrades of these customers are not carried out in their window
TRUNCATED = ("C002", "IMP", 9)  # (customer, application, day): that night's backup is SUCCESS but truncated
FAILED_SHARE = 0.05


def host(node_id: str) -> str:
    return f"{node_id.lower()}.sim.example"


def instant_files(paths: list[Path], at: datetime) -> None:
    """Give files the simulated instant as their modification time."""
    for path in paths:
        os.utime(path, (at.timestamp(), at.timestamp()))


# --- the inventory exports --------------------------------------------------------------------


@dataclass
class Fleet:
    """The exports as rows; ``write`` puts them in the inventory folder with the instant as file time."""

    rows: dict[str, list[dict[str, str]]]
    late_node_listed: bool = False
    contacts_withheld: bool = True

    @classmethod
    def initial(cls) -> Fleet:
        return cls(fleet_rows(CUSTOMERS))

    def region(self, customer_id: str) -> str:
        return next(c["region"] for c in self.rows["customers"] if c["customer_id"] == customer_id)

    def nodes(self) -> list[dict[str, str]]:
        extra = []
        if self.late_node_listed:
            extra.append(
                {"node_id": LATE_NODE, "cluster_id": "C006-cucm", "host": "", "port": "8443", "role": "subscriber"}
            )
        return [*self.rows["nodes"], *extra]

    def set_version(self, cluster_id: str, version: str) -> None:
        row = next(c for c in self.rows["clusters"] if c["cluster_id"] == cluster_id)
        row["version"] = version

    def version(self, cluster_id: str) -> str:
        return next(c["version"] for c in self.rows["clusters"] if c["cluster_id"] == cluster_id)

    def write(self, folder: Path, at: datetime) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        withheld = LATE_CONTACTS[0] if self.contacts_withheld else None
        tables = {
            "customers": self.rows["customers"],
            "contacts": [c for c in self.rows["contacts"] if c["customer_id"] != withheld],
            "clusters": self.rows["clusters"],
            "nodes": [{**n, "host": host(n["node_id"])} for n in self.nodes()],
        }
        written = []
        for name, rows in tables.items():
            path = folder / f"{name}.csv"
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            written.append(path)
        instant_files(written, at)


# --- certificates (the lab) --------------------------------------------------------------------


def certificate_expiries(fleet: Fleet) -> dict[str, datetime]:
    """node_id -> notAfter: spread over day 9 .. day 48 at varied hours, plus the late node."""
    out = {}
    for i, node in enumerate(sorted(n["node_id"] for n in fleet.rows["nodes"])):
        out[node] = START + timedelta(days=9 + (i * 11) % 40, hours=(i * 7) % 24, minutes=(i * 13) % 60)
    out[LATE_NODE] = LATE_NODE_EXPIRES
    return out


def lab_specs(fleet: Fleet, expiries: dict[str, datetime]) -> tuple[list[NodeSpec], dict[str, bool]]:
    cluster_of = {n["node_id"]: n["cluster_id"] for n in fleet.rows["nodes"]} | {LATE_NODE: "C006-cucm"}
    specs = [
        NodeSpec(node_id=n, host=host(n), cluster_id=cluster_of[n], expires_in=not_after - START)
        for n, not_after in sorted(expiries.items())
    ]
    sso = {c["cluster_id"]: c["sso_enabled"] == "true" for c in fleet.rows["clusters"]}
    return specs, sso


# --- backups -------------------------------------------------------------------------------------


@dataclass
class Backup:
    path: str  # relative to the store root
    series: str
    taken_at: datetime
    good: bool


@dataclass
class BackupStore:
    """The store on disk and what was written into it (the oracle's view of every backup)."""

    root: Path
    backups: dict[str, Backup] = field(default_factory=dict)

    def seed(self) -> None:
        write_backup_store(self.root, as_of=START, customers=CUSTOMERS, nights=BACKUP_NIGHTS, anomalies=False)
        for manifest in self.root.glob("*/*/*/*/manifest.json"):
            data = json.loads(manifest.read_text())
            self._register(manifest.parent, data["taken_at"], data["status"] == "SUCCESS")

    def _register(self, folder: Path, taken_at: str, good: bool) -> None:
        rel = folder.relative_to(self.root)
        series = "/".join(rel.parts[:3])
        self.backups[str(rel)] = Backup(str(rel), series, datetime.fromisoformat(taken_at).astimezone(UTC), good)

    def nightly(self, day: int) -> list[tuple[datetime, str, str, str]]:
        """(taken_at UTC, customer, cluster, application) of the backups of the night starting on START + day."""
        out = []
        for i in range(1, CUSTOMERS + 1):
            customer = f"C{i:03d}"
            zone = ZoneInfo(ZONES[REGIONS[(i - 1) % len(REGIONS)]])
            local = (START + day * DAY).astimezone(zone).date()
            taken = datetime(local.year, local.month, local.day, 23, 30, tzinfo=zone).astimezone(UTC)
            out += [(taken, customer, f"{customer}-{app.lower()}", app) for app in APPS]
            publishing = sme_publishing_region(i)  # its SME cluster, backed up in its publishing region
            if publishing is not None:
                local = (START + day * DAY).astimezone(ZoneInfo(ZONES[publishing])).date()
                taken = datetime(local.year, local.month, local.day, 23, 30, tzinfo=ZoneInfo(ZONES[publishing]))
                out.append((taken.astimezone(UTC), customer, f"{customer}-sme", "SME"))
        return out

    def arrive(self, taken_at: datetime, customer: str, cluster: str, app: str) -> None:
        rng = random.Random(f"{cluster}/{taken_at.isoformat()}")
        status = "FAILED" if rng.random() < FAILED_SHARE else "SUCCESS"
        day = (taken_at - START).days
        truncate = "backup.tar.enc" if (customer, app, day) == TRUNCATED else None
        folder = write_backup(self.root, customer, cluster, app, taken_at, status=status, truncate=truncate)
        files = [*folder.iterdir(), folder]
        instant_files(files, taken_at + timedelta(minutes=20))
        self._register(folder, taken_at.isoformat(), status == "SUCCESS" and truncate is None)
        assert backup_id_for(cluster, taken_at) == folder.name

    def alive(self) -> set[str]:
        return {rel for rel in self.backups if (self.root / rel).is_dir()}


# --- TAC cases, advisories, COP inbox ------------------------------------------------------------


def write_day_cases(folder: Path, day_end: datetime, day: int) -> Path:
    """The TAC cases opened in the day before ``day_end`` (a few per day), as their own export file."""
    from include.demo.tac_cases import case_frame

    frame = case_frame(6, end=day_end, days=1, seed=100 + day, customers=CUSTOMERS)
    frame["case_id"] = [f"TAC-D{day:02d}-{i}" for i in range(len(frame))]
    path = folder / f"cases-{day_end:%Y%m%d}.csv"
    frame.to_csv(path, index=False, lineterminator="\n")
    instant_files([path], day_end)
    return path


# Incidents reported as they happen: (export arrival, severity, customer); each case was opened 6 minutes
# before its export arrived and answered 4 minutes after opening. One lands at 23:55 on a Saturday (UTC).
LIVE_INCIDENTS: list[tuple[datetime, str, str]] = [
    (START + 5 * DAY + timedelta(hours=23, minutes=55), "S1", "C001"),
    (START + 9 * DAY + timedelta(hours=14, minutes=2), "S2", "C004"),
    (START + 16 * DAY + timedelta(hours=3, minutes=31), "S1", "C006"),
    (START + 23 * DAY + timedelta(hours=9, minutes=48), "S2", "C008"),
]
LIVE_OPENED_BEFORE = timedelta(minutes=6)


def write_live_case(folder: Path, arrival: datetime, severity: str, customer: str, number: int) -> Path:
    """One new S1/S2 case, opened 6 minutes before ``arrival`` and answered 4 minutes after opening, as its own
    export file (the columns of include.demo.tac_cases)."""
    import csv

    from include.demo.tac_cases import case_frame

    opened = arrival - LIVE_OPENED_BEFORE
    row = case_frame(1, end=arrival, days=1, seed=500 + number, customers=CUSTOMERS).iloc[0].to_dict()
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    region = next(c["region"] for c in Fleet.initial().rows["customers"] if c["customer_id"] == customer)
    row.update(
        case_id=f"TAC-L{number:02d}",
        customer_id=customer,
        region=region,
        opened_at=opened.strftime(stamp),
        first_response_at=(opened + timedelta(minutes=4)).strftime(stamp),
        closed_at="",
        impact="Widespread",
        urgency="Critical" if severity == "S1" else "High",
        severity=severity,
    )
    if severity == "S2":
        row["impact"] = "Large"
    path = folder / f"live-{arrival:%Y%m%dT%H%M}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row), lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
    instant_files([path], arrival)
    return path


def write_history_cases(folder: Path) -> list[Path]:
    from include.demo.tac_cases import case_frame

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cases.csv"
    case_frame(400, end=START, days=180, seed=11, customers=CUSTOMERS).to_csv(path, index=False, lineterminator="\n")
    instant_files([path], START)
    return [path]


def write_feeds(data_dir: Path) -> None:
    """The demo advisory feed: a critical CUCM 15.0 SU1 advisory published 2 Nov (inside the month)."""
    from include.demo.pipelines.upgrades import write_feeds as demo_feeds

    demo_feeds(data_dir)
    (data_dir / "upgrades" / "partner_requests.json").write_text("[]", encoding="utf-8")


COP_REQUESTS: list[tuple[datetime, str, dict[str, Any]]] = [
    (
        START + timedelta(days=1, hours=9, minutes=7),
        "op-locale-C008.json",
        {"customer_id": "C008", "cop_file": "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn", "origin": "operator"},
    ),
    (
        START + timedelta(days=2, hours=14, minutes=40),
        "sr-2001-C001.json",
        {
            "customer_id": "C001",
            "cop_file": "cmterm-devicepack15.0.1.13010-1.cop.sgn",
            "origin": "customer",
            "requested_by": "TAC SR 2001",
        },
    ),
    (
        START + timedelta(days=19, hours=16, minutes=3),
        "op-psirt-C003.json",
        {
            "customer_id": "C003",
            "cop_file": "ciscocm.CSCwk12345-v1.0.k4.cop.sgn",
            "origin": "operator",
            "emergency": True,
        },
    ),
]


def drop_request(inbox: Path, name: str, body: dict[str, Any], at: datetime) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_text(json.dumps({**body, "requested_at": at.isoformat()}, indent=1), encoding="utf-8")
    instant_files([path], at)
