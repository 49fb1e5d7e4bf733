"""Steps of ``make demo`` that each pipeline extends (see include/demo/pipelines/__init__.py).

python -m include.demo.runs env        # export lines for the shell
python -m include.demo.runs prepare    # write demo inputs
python -m include.demo.runs services   # background commands, one JSON list per line
python -m include.demo.runs trigger    # unpause the project's DAGs, queue the demo runs
python -m include.demo.runs schedules  # every scheduled DAG has a next run (asks the api-server)
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


def without_next_run(dags: list[dict]) -> list[str]:
    """The DAGs with a time-based schedule but no next run: the scheduler would never start them.

    ``dags`` are the entries of ``GET /api/v2/dags``; DAGs without a schedule (``None``) or run by
    Asset events have no next run by design.
    """
    missing = []
    for dag in dags:
        summary = dag.get("timetable_summary")
        if summary in (None, "None", "") or "asset" in str(summary).lower():
            continue
        if not dag.get("next_dagrun_run_after"):
            missing.append(str(dag["dag_id"]))
    return sorted(missing)


def check_schedules(base_url: str, password: str, timeout: float = 120) -> int:
    """Print each project DAG's next run; non-zero when a scheduled DAG has none after ``timeout``."""
    import time

    import httpx

    token = httpx.post(f"{base_url}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    wanted = set(project_dag_ids())
    deadline = time.monotonic() + timeout
    while True:
        listing = httpx.get(f"{base_url}/api/v2/dags", params={"limit": 200}, headers=headers, timeout=30)
        listing.raise_for_status()
        dags = [d for d in listing.json()["dags"] if d["dag_id"] in wanted]
        missing = without_next_run(dags)
        if (len(dags) == len(wanted) and not missing) or time.monotonic() > deadline:
            break
        time.sleep(3)
    for dag in sorted(dags, key=lambda d: d["dag_id"]):
        print(f"  {dag['dag_id']:<32} next run: {dag.get('next_dagrun_run_after') or '-'}")
    unparsed = sorted(wanted - {d["dag_id"] for d in dags})
    if missing or unparsed:
        print(f"NO NEXT RUN for scheduled DAGs: {', '.join(missing + unparsed)}")
        return 1
    print("every scheduled DAG has a next run")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["env", "prepare", "services", "trigger", "schedules"])
    parser.add_argument("--url", default=f"http://localhost:{os.environ.get('AIRFLOW__API__PORT', '8080')}")
    parser.add_argument(
        "--password-file",
        default=os.path.join(
            os.environ.get("AIRFLOW_HOME", ".airflow"), "simple_auth_manager_passwords.json.generated"
        ),
    )
    args = parser.parse_args()
    step = args.step
    if step == "schedules":
        password = json.loads(Path(args.password_file).read_text())["admin"]
        raise SystemExit(check_schedules(args.url, password))
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
