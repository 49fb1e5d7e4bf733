"""Deterministic TAC case exports for the demo fleet (and any size, for the benchmark).

    python -m include.demo.tac_cases --out .data/sla/exports [--end 2026-11-27T00:00:00Z] [--cases 2000]

Writes ``cases.csv`` (a year of cases of the demo fleet's customers, mostly well-formed,
with a few late responses, triage downgrades and incomplete escalations) and
``broken.jsonl`` (deliberately broken rows: bad time zone, response before opening,
unknown region, duplicate id, closed before opening, a future timestamp, and valid Dutch
labels that must be accepted). The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from include.demo.fleet import PARTNERS, REGIONS

IMPACTS = ("Widespread", "Large", "Localized", "Personalized")
URGENCIES = ("Critical", "High", "Medium", "Low")
# DOMAIN.md §7 matrix, urgency-major, the same order as above (kept here so the generator needs no rules).
_MATRIX = (
    ("S1", "S1", "S2", "S3"),
    ("S1", "S2", "S2", "S3"),
    ("S2", "S3", "S3", "S3"),
    ("S4", "S4", "S4", "S4"),
)
DEMO_END = datetime(2026, 11, 27, tzinfo=UTC)


def demo_customers(count: int = 12) -> list[tuple[str, str]]:
    """(customer_id, region) of the demo fleet (include.demo.fleet: regions in turn)."""
    return [(f"C{i:03d}", REGIONS[(i - 1) % len(REGIONS)]) for i in range(1, count + 1)]


def case_frame(n: int, *, end: datetime = DEMO_END, days: int = 365, seed: int = 11, customers: int = 12) -> Any:
    """``n`` well-formed cases opened in the ``days`` before ``end``, as a DataFrame of strings (vectorised)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    fleet = demo_customers(customers)
    who = rng.integers(0, len(fleet), n)
    end_s = int(end.timestamp())
    opened = np.sort(rng.integers(end_s - days * 86400, end_s - 3600, n)).astype("datetime64[s]")
    impact = rng.choice(4, n, p=[0.05, 0.10, 0.25, 0.60])
    urgency = rng.choice(4, n, p=[0.03, 0.07, 0.45, 0.45])
    matrix = np.array(_MATRIX)[urgency, impact]
    filed = matrix.copy()
    downgrade = rng.random(n) < 0.04  # triage downgrades (allowed) ...
    raised = rng.random(n) < 0.01  # ... and a few raised on the partner's request
    level = np.char.add("S", np.clip(np.char.lstrip(matrix, "S").astype(int) + downgrade - raised, 1, 4).astype(str))
    filed = np.where(downgrade | raised, level, filed)
    # Response delay by filed severity: mostly inside the objective, a tail outside it.
    scale = {"S1": 8 * 60, "S2": 15 * 60, "S3": 5 * 3600, "S4": 20 * 3600}
    delay = np.zeros(n)
    for name, seconds in scale.items():
        rows = filed == name
        delay[rows] = rng.exponential(seconds, rows.sum())
    late = rng.random(n) < 0.03
    delay = np.where(late, delay * 8 + 3 * 86400 * (filed >= "S3"), delay).astype(np.int64)
    responded = opened + delay.astype("timedelta64[s]")
    unanswered = responded > np.datetime64(end.replace(tzinfo=None), "s")
    closed = responded + rng.integers(3600, 20 * 86400, n).astype("timedelta64[s]")
    open_case = (closed > np.datetime64(end.replace(tzinfo=None), "s")) | (rng.random(n) < 0.02)

    def iso(values: Any) -> Any:
        return np.char.add(np.datetime_as_string(values, unit="s"), "Z")

    ids = np.array([c for c, _ in fleet])[who]
    regions = np.array([r for _, r in fleet])[who]
    partner = np.array([PARTNERS[r] for _, r in fleet])[who]
    frame = pd.DataFrame(
        {
            "case_id": np.char.add("TAC-", np.char.zfill(np.arange(1, n + 1).astype(str), 7)),
            "customer_id": ids,
            "region": regions,
            "opened_at": iso(opened),
            "first_response_at": np.where(unanswered, "", iso(responded)),
            "impact": np.array(IMPACTS)[impact],
            "urgency": np.array(URGENCIES)[urgency],
            "severity": filed,
            "closed_at": np.where(open_case | unanswered, "", iso(closed)),
            "contract_number": np.char.add("SVC-", np.char.zfill((who * 7919 % 100000).astype(str), 6)),
            "caller_account": np.where(rng.random(n) < 0.8, "partner", "customer"),
            "contact_name": np.char.add(partner, " NOC"),
            "contact_phone": np.char.add("+1 555 01", np.char.zfill(who.astype(str), 2)),
            "contact_email": np.char.add(
                np.char.add("noc@", np.char.lower(np.char.replace(partner, " ", "-"))), ".example"
            ),
        }
    )
    incomplete = rng.random(n) < 0.02  # partner-side escalation defects
    frame.loc[incomplete, "contact_phone"] = ""
    frame.loc[rng.random(n) < 0.01, "contract_number"] = "?"
    return frame


def broken_rows(end: datetime = DEMO_END) -> list[dict[str, Any]]:
    """Deliberately broken rows (and valid Dutch ones) with the rule each should trip, in ``expect``."""
    day = (end - timedelta(days=20)).replace(hour=10, minute=0, second=0, microsecond=0)
    base = {
        "customer_id": "C004",
        "region": "EMEA",
        "impact": "Personalized",
        "urgency": "Medium",
        "severity": "S3",
        "closed_at": "",
        "contract_number": "SVC-004004",
        "caller_account": "partner",
        "contact_name": "Polder Telecom NOC",
        "contact_phone": "+31 20 555 0004",
        "contact_email": "noc@polder-telecom.example",
    }

    def at(hours: float) -> str:
        return (day + timedelta(hours=hours)).isoformat()

    return [
        {
            **base,
            "case_id": "BRK-001",
            "opened_at": "2026-11-02T10:00:00",
            "first_response_at": at(1),
            "expect": "timestamps_valid",
        },
        {
            **base,
            "case_id": "BRK-002",
            "opened_at": at(5),
            "first_response_at": at(2),
            "expect": "first_response_at_not_before_opening",
        },
        {
            **base,
            "case_id": "BRK-003",
            "region": "MARS",
            "opened_at": at(0),
            "first_response_at": at(1),
            "expect": "region_known",
        },
        {**base, "case_id": "BRK-004", "opened_at": at(0), "first_response_at": at(1), "expect": "case_id_unique"},
        {**base, "case_id": "BRK-004", "opened_at": at(2), "first_response_at": at(3), "expect": "case_id_unique"},
        {
            **base,
            "case_id": "BRK-005",
            "opened_at": at(3),
            "first_response_at": at(4),
            "closed_at": at(1),
            "expect": "closed_at_not_before_opening",
        },
        {
            **base,
            "case_id": "BRK-006",
            "opened_at": at(0),
            "first_response_at": "2099-01-04T10:00:00Z",
            "expect": "no_timestamp_in_future",
        },
        {
            **base,
            "case_id": "BRK-007",
            "opened_at": "2026-11-03T09:00:00+25:00",
            "first_response_at": "",
            "expect": "timestamps_valid",
        },
        {
            **base,
            "case_id": "NL-001",
            "impact": "Gelokaliseerd",
            "urgency": "Hoog",
            "severity": "Ernst 2",
            "opened_at": at(0),
            "first_response_at": at(0.25),
            "expect": "",
        },
        {
            **base,
            "case_id": "NL-002",
            "impact": "Gepersonaliseerd",
            "urgency": "Laag",
            "severity": "S4",
            "caller_account": "klant",
            "opened_at": at(1),
            "first_response_at": at(20),
            "expect": "",
        },
    ]


def write_exports(out: Path, *, cases: int = 2000, end: datetime = DEMO_END, seed: int = 11) -> list[Path]:
    """Write ``cases.csv`` and ``broken.jsonl`` into ``out``; returns the two paths."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, jsonl_path = out / "cases.csv", out / "broken.jsonl"
    case_frame(cases, end=end, seed=seed).to_csv(csv_path, index=False, lineterminator="\n")
    with jsonl_path.open("w", encoding="utf-8") as fh:
        for row in broken_rows(end):
            fh.write(json.dumps({k: v for k, v in row.items() if k != "expect"}, sort_keys=True) + "\n")
    return [csv_path, jsonl_path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument(
        "--end", default=DEMO_END.isoformat(), help="last instant of the year of cases (ISO-8601 with zone)"
    )
    args = parser.parse_args()
    for path in write_exports(args.out, cases=args.cases, end=datetime.fromisoformat(args.end.replace("Z", "+00:00"))):
        print(path)


if __name__ == "__main__":
    main()
