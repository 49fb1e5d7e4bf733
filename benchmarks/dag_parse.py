"""How much each DAG file adds to parsing, measured in fresh processes.

The dag-processor imports every DAG file again and again, so parse cost is a team
convention (the project's house style; Airflow's Best Practices): heavy libraries belong inside
task bodies, and each file should add at most GOAL_MS over a trivial DAG.

For each ``dags/*.py`` the script parses the file with ``DagBag(dag_folder=<file>)`` in a
fresh Python process, and a generated one-task DAG the same way, alternating the two arms
for ``--repeat`` rounds. Inside each process ``airflow``, ``airflow.sdk`` and ``DagBag`` are
imported first and left out of the timing, so a measurement is the file's own imports and
top-level code plus DagBag's bookkeeping; subtracting the one-task DAG (the median of the
paired differences) leaves what the file itself costs. Then it times one DagBag fill of the
whole folder, also in fresh processes.

After every parse it looks in ``sys.modules`` for great_expectations, pandas and paramiko:
a DAG file must not pull them in at parse time.

Usage (from the repository root)::

    .venv/bin/python benchmarks/dag_parse.py [--repeat 5] [--dags-folder dags] [--strict]

Exit status: 0 fine; 1 a heavy module was imported while parsing, a file failed to import,
or (with --strict) a file is over the goal.

The processes run in a throwaway AIRFLOW_HOME with a SQLite URL that need not exist
(DagBag does not touch the database; if a future Airflow needs it, the script runs
``airflow db migrate`` there once and retries), examples off, and DI_OPS_DATA_DIR in the
temporary folder, which must still be empty afterwards: parsing writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_MS = 100.0
DEFAULT_REPEAT = 5
HEAVY_MODULES = ("great_expectations", "pandas", "paramiko")
SUBPROCESS_TIMEOUT_S = 300
RESULT_MARKER = "@@DAG_PARSE_RESULT@@"

ONE_TASK_DAG = '''\
"""The benchmark's baseline: a DAG with one task and nothing else."""

from airflow.sdk import dag, task


@dag(schedule=None)
def one_task_baseline():
    @task
    def noop() -> None:
        pass

    noop()


one_task_baseline()
'''

# Runs in each fresh process; argv[1] is the file or folder for DagBag.
PARSE_SNIPPET = textwrap.dedent(
    f"""
    import json, sys, time
    import airflow, airflow.sdk
    from airflow.dag_processing.dagbag import DagBag
    heavy = {HEAVY_MODULES!r}
    before = [m for m in heavy if m in sys.modules]
    start = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed_ms = (time.perf_counter() - start) * 1000
    print({RESULT_MARKER!r} + json.dumps({{
        "ms": elapsed_ms,
        "dag_ids": sorted(bag.dag_ids),
        "import_errors": {{str(k): str(v)[-2000:] for k, v in bag.import_errors.items()}},
        "heavy_before": before,
        "heavy_after": [m for m in heavy if m in sys.modules],
    }}))
    """
)


@dataclass(frozen=True)
class Parse:
    ms: float
    dag_ids: tuple[str, ...]
    import_errors: dict[str, str]
    heavy_before: tuple[str, ...]
    heavy_after: tuple[str, ...]


class ParseFailed(RuntimeError):
    """The parsing process itself failed (not an import error of a DAG file)."""


def isolated_env(tmp: Path, dags_folder: Path) -> dict[str, str]:
    """The caller's environment without Airflow/di-ops settings, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DI_OPS_"))}
    plugins = REPO / "plugins"
    env.update(
        AIRFLOW_HOME=str(tmp / "airflow_home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp / 'airflow_home' / 'airflow.db'}",
        PYTHONPATH=str(plugins),
        PYTHONDONTWRITEBYTECODE="1",
        DI_OPS_DATA_DIR=str(tmp / "data"),
    )
    return env


def parse_in_fresh_process(target: Path, env: dict[str, str], cwd: Path) -> Parse:
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_SNIPPET, str(target)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line[len(RESULT_MARKER) :])
            return Parse(
                ms=data["ms"],
                dag_ids=tuple(data["dag_ids"]),
                import_errors=data["import_errors"],
                heavy_before=tuple(data["heavy_before"]),
                heavy_after=tuple(data["heavy_after"]),
            )
    raise ParseFailed(f"parsing {target} failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")


def migrate_db(env: dict[str, str], cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )


def first_parse(target: Path, env: dict[str, str], cwd: Path) -> Parse:
    """A warm-up parse (discarded by the caller); migrates the DB once if parsing needs one."""
    try:
        result = parse_in_fresh_process(target, env, cwd)
        needs_db = any("OperationalError" in err for err in result.import_errors.values())
    except ParseFailed as exc:
        if "OperationalError" not in str(exc):
            raise
        needs_db = True
    if needs_db:
        print("DagBag needs a database here: running `airflow db migrate` once in the temp home")
        migrate_db(env, cwd)
        result = parse_in_fresh_process(target, env, cwd)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="rounds per file (default 5)")
    parser.add_argument("--dags-folder", type=Path, default=REPO / "dags", help="folder of DAG files (default dags/)")
    parser.add_argument("--goal-ms", type=float, default=GOAL_MS, help="allowed extra ms per file (default 100)")
    parser.add_argument("--strict", action="store_true", help="exit non-zero when a file is over the goal")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    dags_folder = args.dags_folder.resolve()
    dag_files = sorted(p for p in dags_folder.glob("*.py") if p.name != "__init__.py")
    problems: list[str] = []

    with tempfile.TemporaryDirectory(prefix="dag_parse_") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "airflow_home").mkdir()
        (tmp / "data").mkdir()
        baseline = tmp / "baseline" / "one_task_baseline.py"
        baseline.parent.mkdir()
        baseline.write_text(ONE_TASK_DAG, encoding="utf-8")
        env = isolated_env(tmp, dags_folder)

        def parse(target: Path) -> Parse:
            result = parse_in_fresh_process(target, env, tmp)
            if result.heavy_after:
                label = f"whole folder {target.name}/" if target.is_dir() else target.name
                where = "already after `import airflow`" if result.heavy_before else "by DAG code"
                problems.append(f"{label}: imports {', '.join(result.heavy_after)} at parse time ({where})")
            for path, error in result.import_errors.items():
                problems.append(f"{Path(path).name}: import error\n{textwrap.indent(error.strip(), '    ')}")
            return result

        print(f"DAG parse benchmark: {dags_folder}, {len(dag_files)} file(s), {args.repeat} round(s) each")
        print("  each parse in a fresh process; importing airflow, airflow.sdk and DagBag is not timed")
        first_parse(baseline, env, tmp)  # warm-up, not counted

        rows = []
        for dag_file in dag_files:
            file_ms: list[float] = []
            base_ms: list[float] = []
            dag_ids: tuple[str, ...] = ()
            failed = False
            for round_no in range(args.repeat):
                order = (baseline, dag_file) if round_no % 2 == 0 else (dag_file, baseline)
                for target in order:
                    result = parse(target)
                    if target == baseline:
                        base_ms.append(result.ms)
                    else:
                        file_ms.append(result.ms)
                        dag_ids = result.dag_ids
                        failed = failed or bool(result.import_errors)
            extra = statistics.median(f - b for f, b in zip(file_ms, base_ms, strict=True))
            rows.append((dag_file.name, dag_ids, statistics.median(file_ms), statistics.median(base_ms), extra, failed))

        print()
        if rows:
            print(
                f"{'file':<34} {'DAGs':>4} {'file ms':>9} {'one-task ms':>12} {'extra ms':>9}  goal <= {args.goal_ms:g} ms"
            )
            for name, dag_ids, f_ms, b_ms, extra, failed in rows:
                verdict = "IMPORT ERROR" if failed else "ok" if extra <= args.goal_ms else "OVER"
                print(f"{name:<34} {len(dag_ids):>4} {f_ms:>9.1f} {b_ms:>12.1f} {extra:>+9.1f}  {verdict}")
                if not dag_ids and not failed:
                    print(f"  note: {name} defined no DAG (not a DAG file, or skipped by DagBag's safe mode)")
                if extra > args.goal_ms and args.strict and not failed:
                    problems.append(f"{name}: {extra:.1f} ms extra, over the goal of {args.goal_ms:g} ms")
            print("  (extra = median over rounds of file ms minus the one-task DAG's ms of the same round)")
        else:
            print(f"no DAG files in {dags_folder}: nothing to compare with the one-task DAG")

        whole = [parse(dags_folder) for _ in range(args.repeat)]
        print()
        print(
            f"whole-folder DagBag fill: {len(whole[-1].dag_ids)} DAG(s) from {len(dag_files)} file(s), "
            f"median {statistics.median(r.ms for r in whole):.1f} ms over {args.repeat} fresh process(es)"
        )

        written = sorted(str(p.relative_to(tmp / "data")) for p in (tmp / "data").rglob("*"))
        if written:
            problems.append(f"parsing wrote into DI_OPS_DATA_DIR: {written[:10]}")

    print(f"heavy modules after parsing ({', '.join(HEAVY_MODULES)}): ", end="")
    heavy = [p for p in problems if "at parse time" in p]
    print("none" if not heavy else "FOUND")
    if problems:
        print()
        print("PROBLEMS:")
        for problem in dict.fromkeys(problems):  # each once, in order
            print(f"- {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
