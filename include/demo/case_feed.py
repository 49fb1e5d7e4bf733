"""A small demo service: drops a few new TAC cases (some S1/S2) into the export folder over time.

    python -m include.demo.case_feed --dir .data/sla/exports [--interval 120] [--count 3] [--seed 5] [--once]
                                     [--follow-ups]

Every ``--interval`` seconds it writes one new export file ``feed-<UTC time>.csv`` (written aside and
renamed in, so the watch never reads half a file) with ``--count`` cases of the demo fleet's customers
opened a minute or two before (three in four already answered), with the export's usual columns plus
``channel`` and ``last_update_at``. With ``--follow-ups`` a file also re-exports a case of the previous file with its
severity raised from S2 to S1 (a new notice) or with its first response (the escalation ends); off by
default, because ``sla_audit`` reads the whole folder and quarantines a case id found in two files. The
``incident_watch`` DAG (every 5 minutes) then e-mails the partner contacts of each new S1/S2 case
(docs/pipelines/incident_watch.md). Stop with Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import argparse
import csv
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from include.demo.fleet import PARTNERS
from include.demo.tac_cases import demo_customers

COLUMNS = (
    "case_id",
    "customer_id",
    "region",
    "opened_at",
    "first_response_at",
    "last_update_at",
    "impact",
    "urgency",
    "severity",
    "closed_at",
    "channel",
    "contract_number",
    "caller_account",
    "contact_name",
    "contact_phone",
    "contact_email",
)
# (impact, urgency, severity as filed, channel): mostly as the source wants, one S3 by phone (a deviation)
KINDS = (
    ("Widespread", "Critical", "S1", "phone"),
    ("Localized", "High", "S2", "phone"),
    ("Personalized", "Medium", "S3", "case manager"),
    ("Personalized", "Low", "S4", "case manager"),
    ("Personalized", "Medium", "S3", "phone"),
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_rows(now: datetime, count: int, rng: random.Random, serial: int) -> list[dict[str, str]]:
    """``count`` new cases opened in the two minutes before ``now``."""
    fleet = demo_customers()
    rows = []
    for i in range(count):
        customer, region = fleet[rng.randrange(len(fleet))]
        impact, urgency, severity, channel = KINDS[rng.randrange(len(KINDS))]
        partner = PARTNERS[region]
        opened = now - timedelta(seconds=rng.randrange(30, 120))
        # most cases are answered within a minute (already in this export); the rest become escalation candidates
        answered = rng.random() < 0.75
        rows.append(
            {
                "case_id": f"FEED-{now:%Y%m%d%H%M%S}-{serial:04d}-{i}",
                "customer_id": customer,
                "region": region,
                "opened_at": iso(opened),
                "first_response_at": iso(opened + timedelta(seconds=20)) if answered else "",
                "last_update_at": iso(opened + timedelta(seconds=20)) if answered else "",
                "impact": impact,
                "urgency": urgency,
                "severity": severity,
                "closed_at": "",
                "channel": channel,
                "contract_number": f"SVC-{int(customer[1:]) * 7919 % 100000:06d}",
                "caller_account": "partner",
                "contact_name": f"{partner} NOC",
                "contact_phone": f"+1 555 01{int(customer[1:]):02d}",
                "contact_email": f"noc@{partner.lower().replace(' ', '-')}.example",
            }
        )
    return rows


def follow_up(previous: list[dict[str, str]], now: datetime, serial: int) -> list[dict[str, str]]:
    """A later export of one earlier case: an S2 raised to S1, else the first response to the first case."""
    if not previous:
        return []
    for row in previous:
        if row["severity"] == "S2":
            return [{**row, "severity": "S1", "impact": "Widespread", "urgency": "Critical"}]
    row = previous[0]
    return [{**row, "first_response_at": iso(now), "last_update_at": iso(now)}] if serial % 2 == 0 else []


def write_file(folder: Path, rows: list[dict[str, str]], now: datetime) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"feed-{now:%Y%m%dT%H%M%SZ}.csv"
    part = folder / f".{target.name}.part"  # not an export suffix: never read half-written
    with part.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    part.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="the TAC case export folder the watch reads")
    parser.add_argument("--interval", type=float, default=120.0, help="seconds between two files")
    parser.add_argument("--count", type=int, default=3, help="new cases per file")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--once", action="store_true", help="write one file and exit")
    parser.add_argument("--follow-ups", action="store_true", help="re-export earlier cases raised or answered")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    rng = random.Random(args.seed)
    previous: list[dict[str, Any]] = []
    serial = 0
    try:
        while True:
            now = datetime.now(UTC).replace(microsecond=0)
            rows = feed_rows(now, args.count, rng, serial)
            later = follow_up(previous, now, serial) if args.follow_ups else []
            path = write_file(args.dir, rows + later, now)
            print(f"{iso(now)} wrote {path.name}: {', '.join(r['case_id'] + ' ' + r['severity'] for r in rows)}")
            previous, serial = rows, serial + 1
            if args.once:
                return
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return


if __name__ == "__main__":
    main()
