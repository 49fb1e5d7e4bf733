"""backup_health's assessment of a local-filesystem store beside ``find … | xargs cat``, and its checksum
verification rate beside ``sha256sum`` on the same files.

1. **Assessment without checksum verification** (:func:`di_ops.pipelines.backup_health.assess.assess`
   with ``verify=False``: the shared scan - walk, read + parse every manifest, stat every listed file -,
   the verdicts of every series, and the latest good backup's manifest re-read and archive listed) beside
   ``find <root> -name manifest.json -print0 | xargs -0 cat | wc -c`` (the same manifest bytes).
   Goal (docs/pipelines/backup_health.md, "Benchmark"): ours <= 2x the baseline.
2. **Verification rate**: :func:`di_ops.integrations.backup_scan.check_backup` (sha256 of every listed file
   through the link-safe reader) on ``--verify-backups`` backups of ``--archive-mib`` MiB each, in MB/s,
   beside ``sha256sum`` on the same files. Goal: ours >= 0.8x.

Warm cache (one untimed pass each first), then ``--repeat`` alternating timed passes, medians reported.

Usage: ``.venv/bin/python benchmarks/backup_health.py [--backups 1000000] [--customers 10000] [--repeat 3]
[--verify-backups 64] [--archive-mib 8] [--files 2]`` (``--files 1``: one archive per backup, as
benchmarks/retention_scan.py writes; 2: the demo store's archive + .ini). Stores are generated once under
``$TMPDIR/di-ops-bench-health-<backups>-<customers>/<files>-files/`` (and ``…-verify-<n>-<mib>/``) and reused.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from di_ops.core.settings import policy  # noqa: E402
from di_ops.integrations.backup_scan import check_backup, list_customers, scan  # noqa: E402
from di_ops.integrations.backup_store import FsStore  # noqa: E402
from di_ops.pipelines.backup_health.assess import SeriesRef, assess  # noqa: E402
from di_ops.pipelines.backup_health.settings import backup_health_settings  # noqa: E402
from di_ops.rules.common import region_zone  # noqa: E402
from include.demo.backups import APPS, REGIONS, write_backup, write_backup_store  # noqa: E402

AS_OF = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
MB = 1_000_000


def store_for(backups: int, customers: int, files: int) -> Path:
    root = Path(tempfile.gettempdir()) / f"di-ops-bench-health-{backups}-{customers}" / f"{files}-files"
    marker = root / ".complete"
    if not marker.exists():
        nights = max(1, backups // (customers * len(APPS)))
        started = time.perf_counter()
        listed = (("backup.tar.enc", 512), ("backup.ini", 64))[:files]
        count = write_backup_store(root, as_of=AS_OF, customers=customers, nights=nights, files=listed)
        marker.write_text(str(count))
        print(f"generated {count} backups in {time.perf_counter() - started:.1f} s under {root}")
    return root


def refs_for(customers: int) -> list[SeriesRef]:
    out = []
    for i in range(1, customers + 1):
        region = REGIONS[(i - 1) % len(REGIONS)]
        for app in APPS:
            out.append(SeriesRef(f"C{i:03d}", f"C{i:03d}-{app.lower()}", app, region, region_zone(region)))
    return out


def baseline(root: Path) -> int:
    out = subprocess.run(
        f"find {root} -name manifest.json -print0 | xargs -0 cat | wc -c",
        shell=True,
        check=True,
        capture_output=True,
    )
    return int(out.stdout.strip())


def ours(root: Path, refs: list[SeriesRef]) -> int:
    with FsStore(root) as store:
        rows, totals = assess(
            store,
            refs,
            AS_OF,
            backup_health_settings(),
            good_statuses=policy().retention.good_statuses,
            tombstone_prefix=".tombstone.",
            verify=False,
        )
    return totals.backups + 0 * len(rows)


def scan_only(root: Path) -> int:
    with FsStore(root) as store:
        return len(scan(store, list_customers(store)))


def verify_store(count: int, mib: int) -> Path:
    root = Path(tempfile.gettempdir()) / f"di-ops-bench-health-verify-{count}-{mib}"
    marker = root / ".complete"
    if not marker.exists():
        for n in range(count):
            taken = AS_OF - timedelta(hours=3, days=n)
            write_backup(
                root, "C001", "C001-cucm", "CUCM", taken, files=(("backup.tar.enc", mib << 20), ("backup.ini", 64))
            )
        marker.write_text(str(count))
    return root


def verify_ours(root: Path) -> int:
    total = 0
    with FsStore(root) as store:
        for record in scan(store, list_customers(store)):
            check = check_backup(store, record, verify_checksums=True, archive_format=None)
            assert check.checksums_verified, check.problems
            total += record.size_bytes or 0
    return total


def verify_baseline(root: Path) -> int:
    out = subprocess.run(
        f"find {root} -type f ! -name manifest.json ! -name .complete -print0 | xargs -0 sha256sum | wc -l",
        shell=True,
        check=True,
        capture_output=True,
    )
    return int(out.stdout.strip())


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def medians(
    repeat: int, base: Callable[[], int], mine: Callable[[], int]
) -> tuple[float, float, list[float], list[float]]:
    base(), mine()  # warm the cache (untimed)
    base_times, our_times = [], []
    for _ in range(repeat):
        base_times.append(timed(base)[0])
        our_times.append(timed(mine)[0])
    return statistics.median(base_times), statistics.median(our_times), base_times, our_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backups", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--verify-backups", type=int, default=64)
    parser.add_argument("--archive-mib", type=int, default=8)
    parser.add_argument("--files", type=int, choices=(1, 2), default=2, help="files per backup (2: the demo's)")
    args = parser.parse_args()

    root = store_for(args.backups, args.customers, args.files)
    refs = refs_for(args.customers)
    base, mine, base_times, our_times = medians(args.repeat, lambda: baseline(root), lambda: ours(root, refs))
    print(f"{ours(root, refs)} backups, {len(refs)} series, {baseline(root)} manifest bytes")
    print(f"baseline find|xargs cat   median {base:.3f} s  ({', '.join(f'{t:.2f}' for t in base_times)})")
    print(f"assess (no checksums)     median {mine:.3f} s  ({', '.join(f'{t:.2f}' for t in our_times)})")
    print(f"ratio ours/baseline       {mine / base:.2f}  (goal <= 2.0)")
    base, scanned, _, scan_times = medians(args.repeat, lambda: baseline(root), lambda: scan_only(root))
    print(f"of which the shared scan  median {scanned:.3f} s  ({', '.join(f'{t:.2f}' for t in scan_times)}),")
    print(f"                          {scanned / base:.2f}x a baseline timed beside it (median {base:.3f} s)")

    vroot = verify_store(args.verify_backups, args.archive_mib)
    verified = verify_ours(vroot)
    base, mine, _, _ = medians(args.repeat, lambda: verify_baseline(vroot), lambda: verify_ours(vroot))
    print(f"verification of {args.verify_backups} backups, {verified / MB:.0f} MB")
    print(f"sha256sum                 {verified / MB / base:.0f} MB/s  (median {base:.3f} s)")
    print(f"check_backup (sha256)     {verified / MB / mine:.0f} MB/s  (median {mine:.3f} s)")
    print(f"rate ours/sha256sum       {base / mine:.2f}  (goal >= 0.8)")


if __name__ == "__main__":
    main()
