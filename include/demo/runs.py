"""Steps of ``make demo`` that each pipeline extends (see include/demo/pipelines/__init__.py).

python -m include.demo.runs env        # export lines for the shell
python -m include.demo.runs prepare    # write demo inputs
python -m include.demo.runs services   # background commands, one JSON list per line
python -m include.demo.runs trigger    # unpause the project's DAGs, queue the demo runs
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import subprocess
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def demo_modules() -> list[ModuleType]:
    folder = Path(__file__).parent / "pipelines"
    # inventory first: every other pipeline reads the inventory it loads
    names = sorted((p.stem for p in folder.glob("*.py") if p.stem != "__init__"), key=lambda n: (n != "inventory", n))
    return [importlib.import_module(f"include.demo.pipelines.{name}") for name in names]


def _data_dir() -> Path:
    return Path(os.environ.get("DI_OPS_DATA_DIR", str(REPO / ".data")))


def _fill(text: str) -> str:
    return text.replace("{data_dir}", str(_data_dir())).replace("{repo}", str(REPO))


def project_dag_ids() -> list[str]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return sorted(bag.dag_ids)


def _airflow(*args: str) -> None:
    """Run an airflow CLI command; retried a few times (SQLite may be busy while Airflow starts)."""
    import time

    for attempt in range(6):
        done = subprocess.run(["airflow", *args], capture_output=True, text=True)
        if done.returncode == 0:
            return
        time.sleep(2 * (attempt + 1))
    raise SystemExit(f"airflow {' '.join(args)} failed: {done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["env", "prepare", "services", "trigger"])
    step = parser.parse_args().step
    modules = demo_modules()
    if step == "env":
        for module in modules:
            for key, value in getattr(module, "ENV", {}).items():
                print(f"export {key}={shlex.quote(_fill(value))}")
    elif step == "prepare":
        for module in modules:
            if hasattr(module, "prepare"):
                module.prepare(_data_dir())
                print(f"prepared {module.__name__.rsplit('.', 1)[-1]}")
    elif step == "services":
        for module in modules:
            for command in getattr(module, "SERVICES", []):
                print(json.dumps([_fill(part) for part in command]))
    else:
        for dag_id in project_dag_ids():
            _airflow("dags", "unpause", dag_id)
            print(f"unpaused {dag_id}")
        for module in modules:
            for dag_id, conf in getattr(module, "DEMO_RUNS", []):
                _airflow("dags", "trigger", dag_id, "--conf", json.dumps(conf))
                print(f"queued a demo run of {dag_id} {json.dumps(conf) if conf else ''}")


if __name__ == "__main__":
    main()
