"""Scale benchmark of the SLA audit over N generated TAC cases (a script, not a test).

Three figures from one run, on the same generated cases (include.demo.tac_cases.case_frame):

(a) bare numpy: the S3/S4 due dates with ``numpy.busday_offset`` from already-typed UTC
    instants (a fixed offset per region, no DST, no holidays) — the floor;
(b) ours without GX: parsing the exported strings, labels, severity matrix, due times and
    statuses (``di_ops.rules.sla_bulk``), compliance/misclassification aggregates; also shown
    split into parsing and the rest. Goal: (b) ≤ 5 × (a);
(c) our GX validation of the same frame (the pipeline's suite, ephemeral context, no Data Docs)
    beside a plain 9-expectation GX suite on the same frame (not-null × 5, unique id, two value
    sets, response ≥ opened). Goal: (c) ≤ 2 × plain.

Peak memory: ``tracemalloc`` peak of pass (b) and the process high-water mark (ru_maxrss).

Usage: ``.venv/bin/python benchmarks/sla_audit_scale.py [--cases 1000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from di_ops.adapters import gx_quality  # noqa: E402
from di_ops.settings_sla import sla_settings  # noqa: E402
from di_ops.sla_cases import (  # noqa: E402
    breaches_by,
    compliance_table,
    judge_cases,
    misclassification,
    prepare_cases,
    select_cases,
)
from include.demo.tac_cases import case_frame  # noqa: E402

END = datetime(2026, 11, 27, tzinfo=UTC)
# Standard-time offsets, hours (the bare baseline ignores DST on purpose: it is the floor).
OFFSETS = {"AMER": -5, "APJC": 9, "AUS": 10, "EMEA": 1}


def best_of(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_numpy(opened_utc: np.ndarray, offset_h: np.ndarray, days: np.ndarray) -> np.ndarray:
    """S3/S4 due instants with busday_offset (opened at a partial business day: same time N days on)."""
    wall = opened_utc + (offset_h * 3600).astype("timedelta64[s]")
    day = wall.astype("datetime64[D]")
    used = wall - day.astype("datetime64[s]")
    due_day = np.busday_offset(day, days, roll="forward")
    return due_day.astype("datetime64[s]") + used - (offset_h * 3600).astype("timedelta64[s]")


def ours(raw: pd.DataFrame) -> dict[str, Any]:
    prepared, _ = prepare_cases(raw)
    return audit_only(prepared)


def audit_only(prepared: pd.DataFrame) -> dict[str, Any]:
    cfg = sla_settings().audit
    cases, _ = select_cases(prepared, END, (datetime(2025, 11, 1).date(), END.date()))
    judged = judge_cases(cases, END, timedelta(hours=cfg.about_to_breach_hours))
    return {
        "compliance": compliance_table(
            judged, min_cases=cfg.min_cases_to_judge, judge_by_wilson=cfg.judge_by_wilson_interval
        ),
        "misclassification": misclassification(judged),
        "by_region": breaches_by(judged, "region"),
        "by_customer": breaches_by(judged, "customer_id"),
    }


def plain_suite_rules() -> list[gx_quality.Rule]:
    def rule(name: str, expectation: str, **kwargs: Any) -> gx_quality.Rule:
        return gx_quality.Rule(name, gx_quality.BLOCKING, expectation, kwargs, kwargs.get("column", ""), name)

    return [
        *[
            rule(f"{c}_not_null", "ExpectColumnValuesToNotBeNull", column=c)
            for c in ("case_id", "customer_id", "region", "opened_at", "severity")
        ],
        rule("case_id_unique", "ExpectColumnValuesToBeUnique", column="case_id"),
        rule("region_set", "ExpectColumnValuesToBeInSet", column="region", value_set=list(OFFSETS)),
        rule("severity_set", "ExpectColumnValuesToBeInSet", column="severity", value_set=["S1", "S2", "S3", "S4"]),
        rule(
            "response_after_opening",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            column_A="first_response_at_utc",
            column_B="opened_at_utc",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    n = args.cases

    raw = case_frame(n, end=END).astype(object)
    raw = raw.where(raw != "", None)
    print(f"{n:,} generated cases; best of {args.repeat}")

    # (a) bare numpy floor over the S3/S4 cases, from typed instants
    opened = pd.to_datetime(raw["opened_at"], utc=True).dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    offset = raw["region"].map(OFFSETS).to_numpy(dtype=np.int64)
    days = raw["severity"].map({"S1": 0, "S2": 0, "S3": 1, "S4": 3}).to_numpy(dtype=np.int64)
    slow = days > 0
    a = best_of(args.repeat, lambda: bare_numpy(opened[slow], offset[slow], days[slow]))

    # (b) ours, strings → figures, without GX; and split into parsing vs the rest
    b = best_of(args.repeat, lambda: ours(raw))
    prepared, _ = prepare_cases(raw)
    b_parse = best_of(args.repeat, lambda: prepare_cases(raw))
    b_audit = best_of(args.repeat, lambda: audit_only(prepared))

    # (c) GX: our suite vs a plain 9-expectation suite, same frame, ephemeral context
    cfg = sla_settings()
    frame = gx_quality.gx_frame(prepared)
    our_rules = gx_quality.rules(
        not_after=END,
        future_tolerance=timedelta(minutes=cfg.quality.future_tolerance_minutes),
        known_customers=sorted(raw["customer_id"].unique()),
        contract_pattern=cfg.escalation.contract_number_pattern,
        phone_pattern=cfg.escalation.phone_pattern,
        email_pattern=cfg.escalation.email_pattern,
    )
    gx_quality.validate(frame.head(1000), our_rules, run_name="warm-up", run_time=END)  # imports and caches
    c_ours = best_of(args.repeat, lambda: gx_quality.validate(frame, our_rules, run_name="bench", run_time=END))
    c_plain = best_of(
        args.repeat, lambda: gx_quality.validate(frame, plain_suite_rules(), run_name="plain", run_time=END)
    )

    tracemalloc.start()
    ours(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"(a) bare numpy busday_offset ({int(slow.sum()):,} S3/S4 cases): {a:8.3f} s")
    print(f"(b) ours without GX (strings → figures):         {b:8.3f} s   = {b / a:6.1f} × (a)   goal ≤ 5 ×")
    print(f"      parsing + labels + severity (prepare):       {b_parse:8.3f} s   = {b_parse / a:6.1f} × (a)")
    print(f"      due/status/aggregates from typed columns:    {b_audit:8.3f} s   = {b_audit / a:6.1f} × (a)")
    print(
        f"(c) our GX suite ({len(our_rules)} expectations):             {c_ours:8.3f} s   = {c_ours / c_plain:6.2f} × plain   goal ≤ 2 ×"
    )
    print(f"    plain GX suite (9 expectations):               {c_plain:8.3f} s")
    print(f"peak memory: tracemalloc (b) {peak / 2**20:,.0f} MiB; process high-water mark {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
