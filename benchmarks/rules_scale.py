"""Scale benchmark of the rules' bulk forms against bare baselines (a script, not a test).

* Retention: ``plan_columns`` over N backups (N/100 series) beside one
  ``sorted()`` of the same records as plain tuples by (series, time).
* SLA: ISO strings → ``response_status_bulk`` (due + status) beside a bare
  pandas/numpy pipeline over the same strings (parse, convert to each region's
  zone, ``numpy.busday_offset``, convert back, compare with the response).

Each is timed at N and at N/10 (growth = time(N) / time(N/10), goal ≤ 12) and
reported as a ratio ours / baseline (goal ≤ 3). Peak memory is measured in a
separate, untimed pass with ``tracemalloc`` (numpy and pandas report their
buffers to it), plus the process high-water mark (``ru_maxrss``).

Usage: ``.venv/bin/python benchmarks/rules_scale.py [--quick] [--repeat 3]``
(``--quick``: 10k / 100k instead of 100k / 1M).
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from di_ops.core.settings import policy, regions_config  # noqa: E402
from di_ops.rules.retention_bulk import plan_columns  # noqa: E402
from di_ops.rules.sla_bulk import response_status_bulk  # noqa: E402

AS_OF = datetime(2025, 6, 30, 12, tzinfo=UTC)
DAY_NS = 86_400 * 10**9
REGIONS = ("AMER", "APJC", "AUS", "EMEA")
SEVERITIES = ("S1", "S2", "S3", "S4")


def best_of(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_mib(run: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


# --- retention ------------------------------------------------------------------------------


def backups(n: int, seed: int = 1) -> dict[str, Any]:
    """N backups in N/100 series, nightly over ~100 days, shuffled (as a storage listing would be).

    Strings are created in row order, as any loader (CSV, database cursor) creates them.
    """
    rng = np.random.default_rng(seed)
    n_series = max(n // 100, 1)
    order = rng.permutation(n)
    series = (np.arange(n) % n_series)[order]
    night = (np.arange(n) // n_series)[order]
    taken = int(AS_OF.timestamp()) * 10**9 - night * DAY_NS - rng.integers(0, 3_600 * 10**9, n)
    apps = ("CUCM", "CUCxN", "IMP", "CER", "Expressway")
    n_customers = max(n_series // 5, 1)
    return {
        "backup_id": np.array([f"bk-{i:09d}" for i in rng.permutation(n).tolist()], dtype=object),
        "customer_id": np.array([f"cust-{i % n_customers:05d}" for i in (series // 5).tolist()], dtype=object),
        "cluster_id": np.array([f"cl-{i:05d}" for i in (series // 5).tolist()], dtype=object),
        "application": np.array([apps[i % 5] + "" for i in series.tolist()], dtype=object),
        "taken_at_ns": taken,
        "status": rng.choice(np.array(["SUCCESS", "FAILED", "PARTIAL"], dtype=object), n, p=[0.9, 0.07, 0.03]),
        "intact": rng.random(n) < 0.98,
    }


def retention_ours(cols: dict[str, Any]) -> Any:
    result = plan_columns(
        cols["backup_id"],
        (cols["customer_id"], cols["cluster_id"], cols["application"]),
        cols["taken_at_ns"],
        cols["status"],
        cols["intact"],
        AS_OF,
    )
    return result.action_names()


def retention_records(cols: dict[str, Any]) -> list[tuple[Any, ...]]:
    names = ("customer_id", "cluster_id", "application", "taken_at_ns", "backup_id", "status", "intact")
    return list(zip(*(cols[name].tolist() for name in names), strict=True))


def retention_baseline(records: list[tuple[Any, ...]]) -> Any:
    return sorted(records, key=itemgetter(0, 1, 2, 3))


# --- SLA ------------------------------------------------------------------------------------


def cases(n: int, seed: int = 2) -> dict[str, Any]:
    """N cases as ISO-8601 strings (UTC), 80 % answered within 0-4 days, over ~a year."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00:00", "us")
    opened = start + rng.integers(0, 365 * 86_400 * 10**6, n).astype("timedelta64[us]")
    wait = rng.exponential(0.5 * 86_400 * 10**6, n).astype(np.int64).astype("timedelta64[us]")
    response = (opened + wait).astype(object)
    answered = rng.random(n) < 0.8
    opened_iso = np.datetime_as_string(opened, unit="us", timezone="UTC")
    response_iso = np.where(answered, np.datetime_as_string(opened + wait, unit="us", timezone="UTC"), None)
    del response
    return {
        "severity": rng.choice(np.array(SEVERITIES, dtype=object), n),
        "region": rng.choice(np.array(REGIONS, dtype=object), n),
        "opened_at": opened_iso.astype(object),
        "first_response_at": response_iso,
    }


def sla_ours(data: dict[str, Any]) -> Any:
    frame = pd.DataFrame(
        {
            "severity": data["severity"],
            "region": data["region"],
            "opened_at": pd.to_datetime(data["opened_at"], utc=True, format="ISO8601"),
            "first_response_at": pd.to_datetime(data["first_response_at"], utc=True, format="ISO8601"),
        }
    )
    return response_status_bulk(frame, AS_OF)


def sla_baseline(data: dict[str, Any]) -> Any:
    """Bare pipeline: parse, to local zone, busday_offset by severity, back to UTC, compare."""
    opened = pd.DatetimeIndex(pd.to_datetime(data["opened_at"], utc=True, format="ISO8601"))
    response = pd.DatetimeIndex(pd.to_datetime(data["first_response_at"], utc=True, format="ISO8601"))
    severity, region = data["severity"], data["region"]
    objectives = policy().sla.objectives
    minutes = np.array([objectives[s].minutes or 0 for s in SEVERITIES])  # type: ignore[index]
    bdays = np.array([objectives[s].business_days or 0 for s in SEVERITIES])  # type: ignore[index]
    level = pd.Index(SEVERITIES).get_indexer(severity)
    due = np.asarray(opened.tz_localize(None).values) + (minutes[level] * 60 * 10**9).astype("timedelta64[ns]")
    for name in REGIONS:
        rows = (region == name) & (bdays[level] > 0)
        local = opened[rows].tz_convert(regions_config().regions[name].zone).tz_localize(None)
        day = np.asarray(local.values).astype("datetime64[D]")
        offset = np.busday_offset(day, bdays[level][rows], roll="forward")
        wall = offset.astype("datetime64[ns]") + (np.asarray(local.values) - day.astype("datetime64[ns]"))
        back = pd.DatetimeIndex(wall).tz_localize(
            regions_config().regions[name].zone, ambiguous="NaT", nonexistent="NaT"
        )
        due[rows] = np.asarray(back.tz_convert("UTC").tz_localize(None).values)
    responded = np.asarray(response.tz_localize(None).values)
    as_of = np.datetime64(AS_OF.replace(tzinfo=None), "ns")
    known = ~np.isnat(responded) & (responded <= as_of)
    met = known & (responded <= due)
    breached = (known & (responded > due)) | (~known & (as_of > due))
    return np.where(met, "met", np.where(breached, "breached", "pending"))


# --- report ---------------------------------------------------------------------------------


def measure(
    label: str,
    sizes: tuple[int, int],
    repeat: int,
    make: Callable[[int], Any],
    ours: Callable[[Any], Any],
    base_input: Callable[[Any], Any],
    baseline: Callable[[Any], Any],
) -> dict[str, float]:
    results: dict[str, float] = {}
    for n in sizes:
        data = make(n)
        plain = base_input(data)
        t_ours = best_of(repeat, lambda d=data: ours(d))
        t_base = best_of(repeat, lambda p=plain: baseline(p))
        results[f"ours_{n}"], results[f"base_{n}"] = t_ours, t_base
        print(
            f"  {label:9s} n={n:>9,}  ours {t_ours:7.3f} s   baseline {t_base:7.3f} s   ratio {t_ours / t_base:5.2f}x"
        )
        if n == sizes[-1]:
            results["peak_ours"] = peak_mib(lambda d=data: ours(d))
            results["peak_base"] = peak_mib(lambda p=plain: baseline(p))
        del data, plain
    small, large = sizes
    growth_ours = results[f"ours_{large}"] / results[f"ours_{small}"]
    growth_base = results[f"base_{large}"] / results[f"base_{small}"]
    print(f"  {label:9s} growth ×{large // small} data: ours ×{growth_ours:.1f} time, baseline ×{growth_base:.1f} time")
    print(
        f"  {label:9s} peak traced memory at n={large:,}: ours {results['peak_ours']:.0f} MiB, "
        f"baseline {results['peak_base']:.0f} MiB (input data excluded)"
    )
    ratio = results[f"ours_{large}"] / results[f"base_{large}"]
    verdict = "OK" if ratio <= 3 and growth_ours <= 12 else "MISSED"
    print(f"  {label:9s} goal ≤ 3× baseline and ≤ 12× growth: {verdict} (ratio {ratio:.2f}, growth {growth_ours:.1f})")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k / 100k rows instead of 100k / 1M")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best is kept)")
    args = parser.parse_args()
    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    print(
        f"rules_scale: sizes {sizes[0]:,} and {sizes[1]:,}, best of {args.repeat}, numpy {np.__version__}, pandas {pd.__version__}"
    )
    measure("retention", sizes, args.repeat, backups, retention_ours, retention_records, retention_baseline)
    measure("sla", sizes, args.repeat, cases, sla_ours, lambda data: data, sla_baseline)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (ru_maxrss, whole run incl. data generation): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
