"""Cost of the upgrade sweep's assessment at fleet scale: memoised per (application, version) vs per cluster.

``assess_fleet`` computes a cluster's eligibility and its advisory/release triggers once per distinct
(application, version) pair (``memoise=True``, the default) instead of once per cluster. Both arms run
side by side in one process on the same demo-style fleet, alternating, and must give equal verdicts.

Usage (from the repository root)::

    .venv/bin/python benchmarks/upgrades_sweep.py [--customers 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]


def main() -> None:
    from di_ops.core.settings import release_catalog
    from di_ops.rules.upgrade_triggers import Advisory, assess_fleet
    from include.demo.fleet import fleet_rows
    from include.demo.pipelines.upgrades import ADVISORIES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rows = fleet_rows(customers=args.customers, seed=11)
    clusters = [c for c in rows["clusters"] if c["application"] != "FaxServer"]  # the demo's deliberately bad row
    for c in clusters:
        c["sme_publishing_region"] = c["sme_publishing_region"] or None
    kwargs = {
        "advisories": [Advisory.model_validate(a) for a in ADVISORIES],
        "as_of": datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
        "catalog": release_catalog(),
        "move_together": (("CUCM", "IMP", "CUCxN"),),
    }
    timings: dict[bool, list[float]] = {True: [], False: []}
    results = {}
    for _ in range(args.repeat):
        for memoise in (False, True):
            start = time.perf_counter()
            results[memoise] = assess_fleet(rows["customers"], clusters, memoise=memoise, **kwargs)
            timings[memoise].append(time.perf_counter() - start)
    assert results[True] == results[False], "memoised verdicts differ from per-cluster ones"
    per_cluster, memoised = statistics.median(timings[False]), statistics.median(timings[True])
    upgrades = sum(1 for v in results[True] if v.upgrade)
    print(f"fleet: {args.customers} customers, {len(clusters)} clusters, {upgrades} upgrades to start")
    print(f"per cluster : {per_cluster:8.3f} s  ({len(clusters) / per_cluster:9.0f} clusters/s)")
    print(f"memoised    : {memoised:8.3f} s  ({len(clusters) / memoised:9.0f} clusters/s)")
    print(f"ratio per-cluster / memoised: {per_cluster / memoised:.1f}x (median of {args.repeat})")


if __name__ == "__main__":
    main()
