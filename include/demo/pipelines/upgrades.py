"""Demo part of the upgrade sweeps: a security-advisory feed and partner requests for the demo fleet
(whose customers run mixed releases: 15.0 SU2/SU1, 14.0 SU4/SU3, 12.5 SU7a, 11.5 SU9), swept once, and a
dry run of the daily emergency check.

Notices land in ``.data/outbox/*.eml`` (the demo SMTP sink); the report in
``.data/reports/upgrades/<run id>/upgrades.html``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ADVISORIES: list[dict[str, Any]] = [
    {
        "advisory_id": "DEMO-SA-2026-01",
        "application": "CUCM",
        "affected_versions": ["15.0 SU1"],
        "fixed_in": "15.0 SU2",
        "remedy": "upgrade",
        "published": "2026-11-02T00:00:00Z",
        "severity": "critical",
    },
    {
        "advisory_id": "DEMO-SA-2026-02",
        "application": "IMP",
        "affected_versions": ["14.0"],
        "fixed_in": None,
        "remedy": "COP",
        "published": "2026-11-09T00:00:00Z",
        "severity": "medium",
    },
]
PARTNER_REQUESTS: list[dict[str, Any]] = [
    {
        "request_id": "TAC-700123",
        "customer_id": "C001",
        "application": "CUCxN",
        "target": "15.0 SU2",
        "reason": "demo: wants a voicemail feature of the latest SU",
        "requested_at": "2026-11-16T09:00:00Z",
    }
]


def write_feeds(data_dir: Path) -> None:
    folder = data_dir / "upgrades"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "advisories.json").write_text(json.dumps(ADVISORIES, indent=1), encoding="utf-8")
    (folder / "partner_requests.json").write_text(json.dumps(PARTNER_REQUESTS, indent=1), encoding="utf-8")


def prepare(data_dir: Path) -> None:
    write_feeds(data_dir)


# Queued after inventory_sync; if it starts first it finds no snapshot and retries. The daily emergency
# check is queued as a dry run (it may run next to the weekly sweep): its report shows what it would do;
# its daily schedule (07:00 UTC) then runs it for real.
DEMO_RUNS: list[tuple[str, dict[str, object]]] = [
    ("upgrade_eligibility", {}),
    ("upgrade_emergency_check", {"dry_run": True}),
]
