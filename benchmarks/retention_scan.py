"""Scan + intactness check + plan of a local-filesystem backup store, beside ``find … | wc -c``.

The baseline ``find <root> -name manifest.json -exec cat {} + | wc -c`` reads the same manifest
bytes the scan reads. Ours: :func:`di_ops.integrations.backup_scan.scan` (walk, read + parse every
manifest, stat every listed file) and the columnar retention plan
(:func:`di_ops.rules.retention_bulk.plan_columns`) over the catalog; reason texts are not rendered
(the pipeline renders them only for reports). Warm cache (one untimed pass each first), then
``--repeat`` alternating timed passes, medians reported. Goal (docs/pipelines/retention.md, "Tests and benchmark"): ours ≤ 2× the baseline.

Usage: ``.venv/bin/python benchmarks/retention_scan.py [--backups 100000] [--repeat 5] [--threads 1]``.
The store is generated once under ``$TMPDIR/di-ops-bench-retention-<backups>/`` and reused.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from di_ops.integrations.backup_scan import list_customers, scan  # noqa: E402
from di_ops.integrations.backup_store import FsStore  # noqa: E402
from di_ops.rules.retention_bulk import plan_columns  # noqa: E402
from include.demo.backups import write_backup_store  # noqa: E402

AS_OF = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
APPS = ("CUCM", "IMP", "CUCxN", "CER", "Expressway")
NIGHTS = 40


def store_for(backups: int) -> Path:
    root = Path(tempfile.gettempdir()) / f"di-ops-bench-retention-{backups}"
    marker = root / ".complete"
    if not marker.exists():
        customers = max(1, backups // (len(APPS) * NIGHTS))
        started = time.perf_counter()
        count = write_backup_store(
            root, as_of=AS_OF, customers=customers, nights=NIGHTS, files=(("backup.tar.enc", 256),)
        )
        marker.write_text(str(count))
        print(f"generated {count} backups in {time.perf_counter() - started:.1f} s under {root}")
    return root


def baseline(root: Path) -> int:
    out = subprocess.run(
        f"find {root} -name manifest.json -exec cat {{}} + | wc -c", shell=True, check=True, capture_output=True
    )
    return int(out.stdout.strip())


def ours(root: Path, threads: int) -> int:
    store = FsStore(root)
    records = scan(store, list_customers(store), threads=threads)
    good = [r for r in records if r.taken_at_ns is not None and r.backup_id and r.status]
    plan = plan_columns(
        [r.backup_id for r in good],
        ([r.customer_id for r in good], [r.cluster_id for r in good], [r.application for r in good]),
        [r.taken_at_ns for r in good],
        [r.status for r in good],
        [r.intact for r in good],
        AS_OF,
    )
    return len(plan)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backups", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    root = store_for(args.backups)
    manifest_bytes = baseline(root)  # warm the cache (untimed)
    planned = ours(root, args.threads)
    print(f"{planned} backups planned; {manifest_bytes} manifest bytes")
    base_times, our_times = [], []
    for _ in range(args.repeat):
        base_times.append(timed(lambda: baseline(root))[0])
        our_times.append(timed(lambda: ours(root, args.threads))[0])
    base, mine = statistics.median(base_times), statistics.median(our_times)
    print(f"baseline find|cat|wc  median {base:.3f} s  ({', '.join(f'{t:.2f}' for t in base_times)})")
    print(f"scan+intact+plan      median {mine:.3f} s  ({', '.join(f'{t:.2f}' for t in our_times)})")
    print(f"ratio ours/baseline   {mine / base:.2f}  (goal <= 2.0)")


if __name__ == "__main__":
    main()
