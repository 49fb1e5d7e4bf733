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

Each figure is the best of ``--repeat`` runs, as wall time and as process CPU time (the machine is
shared). Also printed: the *floor* — one pass over each text column and nothing else (a
``pandas.factorize`` per label column, a fixed-width copy per timestamp and case-id column), the
least any reading of the exported strings costs; and the three timestamp columns alone.

Peak memory: ``tracemalloc`` peak of pass (b) and the process high-water mark (ru_maxrss).

Usage: ``.venv/bin/python benchmarks/sla_audit_scale.py [--cases 1000000] [--repeat 3] [--no-gx]``
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
from di_ops.fast_iso import parse_iso_utc_ns  # noqa: E402
from di_ops.settings_sla import sla_settings  # noqa: E402
from di_ops.sla_cases import (  # noqa: E402
    TIMESTAMP_COLUMNS,
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


CPU: dict[str, float] = {}  # best process CPU time per figure (the machine is shared: wall time varies)


def best_of(repeat: int, run: Callable[[], Any], name: str = "") -> float:
    times, cpu = [], []
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU[name] = min(cpu)
    return min(times)


def text_floor(raw: pd.DataFrame) -> None:
    """The least any reading of the exported strings costs: one hash pass (``pandas.factorize``) per
    label column and one fixed-width copy per timestamp or case id column — no parsing, no checks, no rules."""
    for column in raw.columns:
        if column in (*TIMESTAMP_COLUMNS, "case_id"):
            np.asarray(raw[column].to_numpy(dtype=object), dtype="S36")
        else:
            pd.factorize(raw[column].to_numpy(dtype=object))


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


def gx_figures(repeat: int, raw: pd.DataFrame, prepared: pd.DataFrame) -> tuple[float, float, list[gx_quality.Rule]]:
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
    c_ours = best_of(repeat, lambda: gx_quality.validate(frame, our_rules, run_name="bench", run_time=END))
    c_plain = best_of(repeat, lambda: gx_quality.validate(frame, plain_suite_rules(), run_name="plain", run_time=END))
    return c_ours, c_plain, our_rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-gx", action="store_true", help="figures (a) and (b) only (skip the GX pass (c))")
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
    a = best_of(args.repeat, lambda: bare_numpy(opened[slow], offset[slow], days[slow]), "a")

    # (b) ours, strings → figures, without GX; and split into parsing vs the rest
    b = best_of(args.repeat, lambda: ours(raw), "b")
    prepared, _ = prepare_cases(raw)
    b_parse = best_of(args.repeat, lambda: prepare_cases(raw), "parse")
    b_times = best_of(args.repeat, lambda: [parse_iso_utc_ns(raw[c]) for c in TIMESTAMP_COLUMNS], "times")
    b_audit = best_of(args.repeat, lambda: audit_only(prepared), "audit")
    floor = best_of(args.repeat, lambda: text_floor(raw), "floor")

    # (c) GX: our suite vs a plain 9-expectation suite, same frame, ephemeral context
    c_ours = c_plain = float("nan")
    our_rules: list[gx_quality.Rule] = []
    if not args.no_gx:
        c_ours, c_plain, our_rules = gx_figures(args.repeat, raw, prepared)

    tracemalloc.start()
    ours(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def line(label: str, seconds: float, name: str) -> str:
        return (
            f"{label:<52}{seconds:8.3f} s = {seconds / a:6.1f} × (a)"
            f"   [cpu {CPU[name]:6.3f} s = {CPU[name] / CPU['a']:6.1f} × (a)]"
        )

    print(
        f"{f'(a) bare numpy busday_offset ({int(slow.sum()):,} S3/S4 cases):':<52}{a:8.3f} s   [cpu {CPU['a']:6.3f} s]"
    )
    print(line("(b) ours without GX (strings → figures):", b, "b") + "   goal ≤ 5 ×")
    print(line("      parsing + labels + severity (prepare):", b_parse, "parse"))
    print(line("        of which the 3 timestamp columns:", b_times, "times"))
    print(line("      due/status/aggregates from typed columns:", b_audit, "audit"))
    print(line("    floor: 1 pass over each text column, no rules:", floor, "floor"))
    if our_rules:
        print(
            f"(c) our GX suite ({len(our_rules)} expectations):             {c_ours:8.3f} s   = {c_ours / c_plain:6.2f} × plain   goal ≤ 2 ×"
        )
        print(f"    plain GX suite (9 expectations):               {c_plain:8.3f} s")
    print(f"peak memory: tracemalloc (b) {peak / 2**20:,.0f} MiB; process high-water mark {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
