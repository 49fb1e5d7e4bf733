"""Demo part of capacity_audit: the configured counts the DI lab serves and the approved expansions.

``prepare`` writes ``{data_dir}/lab/capacity_counts.json`` (the lab's ``--counts``, named in the lab's
command line in ``include.demo.pipelines.certificates``) from :func:`include.demo.fleet.configured_counts`,
so the lab agrees with the demo fleet's declared numbers (C009 at 95 %, C010 at 104 % of their declared
devices), and ``{data_dir}/capacity/expansions.csv`` with the demo's one approved expansion (C005).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from include.demo.fleet import DEMO_EXPANSIONS, configured_counts

COUNTS_FILE = "lab/capacity_counts.json"


def prepare(data_dir: Path) -> None:
    counts = data_dir / COUNTS_FILE
    counts.parent.mkdir(parents=True, exist_ok=True)
    counts.write_text(json.dumps(configured_counts(), indent=1, sort_keys=True), encoding="utf-8")
    expansions = data_dir / "capacity" / "expansions.csv"
    expansions.parent.mkdir(parents=True, exist_ok=True)
    with expansions.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(DEMO_EXPANSIONS[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(DEMO_EXPANSIONS)


# one audit at the demo's start: the customers at 95 % (warning) and 104 % (breach, one on-call alert)
DEMO_RUNS: list[tuple[str, dict[str, object]]] = [("capacity_audit", {})]
