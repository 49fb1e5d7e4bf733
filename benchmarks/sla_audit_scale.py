"""Scale benchmark of the SLA audit over N generated TAC cases (a script, not a test).

The cases (include.demo.tac_cases.case_frame) are written once to a CSV export and read back the
way the pipeline reads exports (di_ops.pipelines.sla.exports.read_exports: Arrow, text kept in
Arrow buffers); that read is timed on its own line, then every figure starts from the frame it
returned. Figures from one run, side by side, with the goals of docs/pipelines/sla.md (Benchmark):

(a) bare numpy: the S3/S4 due dates with ``numpy.busday_offset`` from already-typed UTC
    instants (a fixed offset per region, no DST, no holidays) — the floor;
(b) ours without GX: reading the exported timestamps (di_ops.pipelines.sla.instants), labels,
    severity matrix, due times and statuses (``di_ops.rules.sla_bulk``), compliance and
    misclassification aggregates, from the frame the read returned. Goal: no slower than before
    this reading (12-21 × (a), 0.46-0.63 s as measured then);
(c) GX alone on the frame the pipeline validates (quality.gx_frame; ephemeral context, no Data
    Docs, result format quality.RESULT_FORMAT): our suite, and a plain 9-expectation suite
    (not-null × 5, unique id, two value sets, response ≥ opened) on the same frame;
(d) the WHOLE audit — the task bodies start_audit, check_quality (read, prepare, GX with its file
    context and Data Docs, quarantine, hand-off file), audit_cases (figures, CSVs, history) and
    write_report — in a child process (a SQLite ops DB and a data folder of its own; no inventory
    snapshot, so without the customer_known rule), after a warm-up run on a small export.
    Goals: (d) ≤ 1.5 × the plain suite of (c); the child's peak memory (ru_maxrss) ≤ 1 GiB.

Each figure is the best of ``--repeat`` runs, as wall time and as process CPU time (the machine is
shared). (b) is also split into its stages, each timed on its own from the previous stage's output,
with Arrow's ISO-8601 cast alone and the business-day calendar (``rules.calendar``) inside them,
and a *floor*: one C++ pass over each column still held as strings.

Usage: ``.venv/bin/python benchmarks/sla_audit_scale.py [--cases 1000000] [--repeat 3] [--no-gx]``
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
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

from di_ops.pipelines.sla import quality as gx_quality  # noqa: E402
from di_ops.pipelines.sla.audit import judge_cases, select_cases  # noqa: E402
from di_ops.pipelines.sla.cases import TIMESTAMP_COLUMNS, prepare_cases  # noqa: E402
from di_ops.pipelines.sla.exports import read_exports  # noqa: E402
from di_ops.pipelines.sla.figures import breaches_by, compliance_table, misclassification  # noqa: E402
from di_ops.pipelines.sla.instants import read_instants  # noqa: E402
from di_ops.pipelines.sla.labels import arrow_strings  # noqa: E402
from di_ops.pipelines.sla.settings import sla_settings  # noqa: E402
from di_ops.pipelines.sla.suite import BLOCKING, Rule, rules  # noqa: E402
from di_ops.rules import calendar  # noqa: E402
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
    """The least any reading of the exported strings costs: one C++ pass per column still held as
    strings (``binary_length`` per timestamp or case-id column; ``dictionary_encode`` for any other
    text column; dictionary-encoded label columns need none) — no parsing, no checks, no rules."""
    import pyarrow.compute as pc

    for column in raw.columns:
        text = arrow_strings(raw[column])
        if text is None:
            continue
        if column in (*TIMESTAMP_COLUMNS, "case_id"):
            pc.binary_length(text)
        else:
            pc.dictionary_encode(text)


def arrow_cast(values: pd.Series) -> Any:
    """Arrow's ISO-8601 cast of a timestamp column and nothing else (no shape check, no fallback)."""
    import pyarrow as pa

    return arrow_strings(values).cast(pa.timestamp("ns", "UTC"))


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


PERIOD = (datetime(2025, 11, 1).date(), END.date())


def audit_only(prepared: pd.DataFrame) -> dict[str, Any]:
    cfg = sla_settings().audit
    cases, _ = select_cases(prepared, END, PERIOD)
    judged = judge_cases(cases, END, timedelta(hours=cfg.about_to_breach_hours))
    return aggregates(judged)


def aggregates(judged: pd.DataFrame) -> dict[str, Any]:
    cfg = sla_settings().audit
    return {
        "compliance": compliance_table(
            judged, min_cases=cfg.min_cases_to_judge, judge_by_wilson=cfg.judge_by_wilson_interval
        ),
        "misclassification": misclassification(judged),
        "by_region": breaches_by(judged, "region"),
        "by_customer": breaches_by(judged, "customer_id"),
    }


def calendar_share(cases: pd.DataFrame) -> Callable[[], Any]:
    """The business-day calendar calls (di_ops.rules.calendar) judge_cases makes, on the same rows."""
    from di_ops.rules.sla_bulk import _due_ns

    captured: list[tuple[str, np.ndarray, np.ndarray]] = []
    original = calendar.add_business_days_ns

    def spy(region: str, starts: Any, days: Any) -> Any:
        captured.append((region, np.asarray(starts).copy(), np.asarray(days).copy()))
        return original(region, starts, days)

    import di_ops.rules.sla_bulk as sla_bulk

    sla_bulk.add_business_days_ns = spy  # type: ignore[assignment]
    try:
        _due_ns(cases, None)
    finally:
        sla_bulk.add_business_days_ns = original  # type: ignore[assignment]
    return lambda: [original(region, starts, days) for region, starts, days in captured]


def plain_suite_rules() -> list[Rule]:
    def rule(name: str, expectation: str, **kwargs: Any) -> Rule:
        return Rule(name, BLOCKING, expectation, kwargs, kwargs.get("column", ""), name)

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


def gx_figures(repeat: int, raw: pd.DataFrame, prepared: pd.DataFrame) -> tuple[float, float, list[Rule]]:
    """(c): our suite and the plain one, GX alone, on the frame the pipeline validates."""
    cfg = sla_settings()
    our_rules = rules(
        not_after=END,
        future_tolerance=timedelta(minutes=cfg.quality.future_tolerance_minutes),
        known_customers=sorted(raw["customer_id"].unique()),
        contract_pattern=cfg.escalation.contract_number_pattern,
        phone_pattern=cfg.escalation.phone_pattern,
        email_pattern=cfg.escalation.email_pattern,
    )
    frame = gx_quality.gx_frame(prepared, our_rules)
    gx_quality.validate(frame.head(1000), our_rules, run_name="warm-up", run_time=END)  # imports and caches
    c_ours = best_of(repeat, lambda: gx_quality.validate(frame, our_rules, run_name="bench", run_time=END), "c")
    plain = plain_suite_rules()
    c_plain = best_of(repeat, lambda: gx_quality.validate(frame, plain, run_name="plain", run_time=END), "plain")
    return c_ours, c_plain, our_rules


def whole_audit(export: Path, folder: Path) -> dict[str, float]:
    """(d) in this process (the child): the task bodies on ``export``; wall and CPU time per task, ru_maxrss."""
    os.environ["DI_OPS_DATA_DIR"] = str(folder / "data")
    os.environ["AIRFLOW_CONN_DI_OPS_DB"] = json.dumps({"conn_type": "sqlite", "host": str(folder / "ops.db")})
    from di_ops.pipelines.sla import tasks

    def audit(path: Path, run_id: str) -> dict[str, float]:
        times: dict[str, float] = {}
        start, start_cpu = time.perf_counter(), time.process_time()
        plan = tasks.start_audit({"export_path": str(path), "as_of": END.isoformat()}, run_id, None, END)
        for step in (tasks.check_quality, tasks.audit_cases, tasks.write_report):
            begin = time.perf_counter()
            step(plan)
            times[step.__name__] = time.perf_counter() - begin
        return {"wall": time.perf_counter() - start, "cpu": time.process_time() - start_cpu, **times}

    small = folder / "warm-up.csv"
    case_frame(2000, end=END).to_csv(small, index=False, lineterminator="\n")
    audit(small, "warm-up")  # imports, the GX file context, the ops DB schema
    gc.collect()
    figures = audit(export, "bench")
    status = Path("/proc/self/status").read_text()  # VmHWM: this process's own peak RSS (reset by exec)
    hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return {**figures, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "hwm_mib": hwm / 1024}


def whole_figures(repeat: int, export: Path) -> dict[str, float]:
    """(d), the fastest of ``repeat`` child processes (each a fresh data folder); the largest peak memory."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, __file__, "--whole-audit", str(export), folder]
            runs.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
    best = min(runs, key=lambda r: r["wall"])
    peaks = {key: max(r[key] for r in runs) for key in ("rss_mib", "hwm_mib")}
    return {**best, "cpu": min(r["cpu"] for r in runs), **peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-gx", action="store_true", help="figures (a) and (b) only (skip (c) and (d))")
    parser.add_argument("--whole-audit", nargs=2, metavar=("EXPORT", "FOLDER"), help=argparse.SUPPRESS)  # (d)'s child
    parser.add_argument("--write-export", metavar="FILE", help=argparse.SUPPRESS)  # the generator's child
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.whole_audit:
        print(json.dumps(whole_audit(Path(args.whole_audit[0]), Path(args.whole_audit[1]))))
        return
    if args.write_export:
        case_frame(args.cases, end=END).to_csv(args.write_export, index=False, lineterminator="\n")
        return
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "cases.csv"
        # Children start with their parent's peak RSS in ru_maxrss (Linux keeps it across fork and exec), so
        # the export is written by a child and (d)'s children start while this process is still small.
        command = [sys.executable, __file__, "--cases", str(args.cases), "--write-export", str(export)]
        subprocess.run(command, check=True)
        whole = None if args.no_gx else whole_figures(args.repeat, export)
        measure(args, export, whole)


def measure(args: argparse.Namespace, export: Path, whole: dict[str, float] | None) -> None:
    n = args.cases
    size = export.stat().st_size
    read = best_of(args.repeat, lambda: read_exports(export), "read")
    raw, _ = read_exports(export)
    print(f"{n:,} generated cases, {size / 2**20:,.0f} MiB CSV; best of {args.repeat}; load {os.getloadavg()}")

    # (a) bare numpy floor over the S3/S4 cases, from typed instants
    opened = pd.to_datetime(raw["opened_at"], utc=True).dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    offset = raw["region"].map(OFFSETS).to_numpy(dtype=np.int64)
    days = raw["severity"].map({"S1": 0, "S2": 0, "S3": 1, "S4": 3}).to_numpy(dtype=np.int64)
    slow = days > 0
    # Fresh copies: the same values in arrays pandas made (from the Categoricals) ran up to 1.5× slower
    # here; (a) is timed at its fastest.
    inputs = [np.array(values[slow], copy=True) for values in (opened, offset, days)]
    a = best_of(args.repeat, lambda: bare_numpy(*inputs), "a")

    # (b) ours, strings → figures, without GX; then each stage on its own, from the previous stage's output
    cfg = sla_settings().audit
    horizon = timedelta(hours=cfg.about_to_breach_hours)
    b = best_of(args.repeat, lambda: ours(raw), "b")
    prepared, _ = prepare_cases(raw)
    cases, _ = select_cases(prepared, END, PERIOD)
    judged = judge_cases(cases, END, horizon)
    b_parse = best_of(args.repeat, lambda: prepare_cases(raw), "parse")
    b_times = best_of(args.repeat, lambda: [read_instants(raw[c]) for c in TIMESTAMP_COLUMNS], "times")
    b_cast = best_of(args.repeat, lambda: [arrow_cast(raw[c]) for c in TIMESTAMP_COLUMNS], "cast")
    b_select = best_of(args.repeat, lambda: select_cases(prepared, END, PERIOD), "select")
    b_judge = best_of(args.repeat, lambda: judge_cases(cases, END, horizon), "judge")
    b_calendar = best_of(args.repeat, calendar_share(cases), "calendar")
    b_aggregates = best_of(args.repeat, lambda: aggregates(judged), "aggregates")
    floor = best_of(args.repeat, lambda: text_floor(raw), "floor")

    tracemalloc.start()
    ours(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    def line(label: str, seconds: float, name: str) -> str:
        return (
            f"{label:<52}{seconds:8.3f} s = {seconds / a:6.1f} × (a)"
            f"   [cpu {CPU[name]:6.3f} s = {CPU[name] / CPU['a']:6.1f} × (a)]"
        )

    print(line("read the CSV export (read_exports; not in (b)):", read, "read"))
    print(
        f"{f'(a) bare numpy busday_offset ({int(slow.sum()):,} S3/S4 cases):':<52}{a:8.3f} s   [cpu {CPU['a']:6.3f} s]"
    )
    print(line("(b) ours without GX (strings → figures):", b, "b") + "   goal: ≤ before (12-21 ×, 0.46-0.63 s)")
    print(line("      prepare: parse + labels + severity matrix:", b_parse, "parse"))
    print(line("        of which the 3 timestamp columns:", b_times, "times"))
    print(line("          of which Arrow's cast alone (C++):", b_cast, "cast"))
    print(line("      select: scope, local opening day and month:", b_select, "select"))
    print(line("      judge: due times and statuses:", b_judge, "judge"))
    print(line("        of which rules.calendar business days:", b_calendar, "calendar"))
    print(line("      aggregates: compliance, misclassification:", b_aggregates, "aggregates"))
    print(line("    floor: 1 C++ pass over each string column:", floor, "floor"), flush=True)
    print(f"peak memory of (b): tracemalloc {peak / 2**20:,.0f} MiB")
    if args.no_gx:
        return

    # (c) GX alone: our suite vs a plain 9-expectation suite, same frame, ephemeral context
    c_ours, c_plain, our_rules = gx_figures(args.repeat, raw, prepared)
    result_format = gx_quality.RESULT_FORMAT["result_format"]
    print(f"(c) GX alone, result format {result_format}, on the frame the pipeline validates:")
    print(f"    our suite ({len(our_rules)} expectations): {c_ours:8.3f} s = {c_ours / c_plain:5.2f} × plain", end="")
    print(f"   [cpu {CPU['c']:6.3f} s = {CPU['c'] / CPU['plain']:5.2f} × plain]")
    print(f"    plain suite (9 expectations):  {c_plain:8.3f} s   [cpu {CPU['plain']:6.3f} s]", flush=True)

    # (d) the whole audit, task bodies, in a child process (run first, see main)
    assert whole is not None
    print("(d) the WHOLE audit (start_audit, check_quality, audit_cases, write_report; child process):")
    print(f"    {whole['wall']:8.3f} s = {whole['wall'] / c_plain:5.2f} × plain (c)", end="")
    print(f"   [cpu {whole['cpu']:6.3f} s = {whole['cpu'] / CPU['plain']:5.2f} × plain]   goal ≤ 1.5 ×")
    steps = ", ".join(f"{name} {whole[name]:.2f} s" for name in ("check_quality", "audit_cases", "write_report"))
    print(f"    of which {steps} (the rest: start_audit)")
    print(
        f"    peak memory of the child: ru_maxrss {whole['rss_mib']:,.0f} MiB, VmHWM {whole['hwm_mib']:,.0f} MiB"
        "   goal ≤ 1,024 MiB"
    )


if __name__ == "__main__":
    main()
