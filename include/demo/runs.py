"""Steps of ``make demo`` that each pipeline extends (see include/demo/pipelines/__init__.py).

python -m include.demo.runs ports      # export lines: every port the demo uses, checked or chosen free
python -m include.demo.runs env        # export lines for the shell
python -m include.demo.runs prepare    # write demo inputs
python -m include.demo.runs services   # background commands, one JSON list per line
python -m include.demo.runs trigger    # unpause the project's DAGs, queue the demo runs
python -m include.demo.runs wait       # the demo's services listen on their ports (and the lab's map names them)
python -m include.demo.runs schedules  # every scheduled DAG has a next run (asks the api-server)

Ports (``ports``): each is a variable; a variable that is set is checked and a port in use stops the
demo with a message naming it; an unset one takes its default, or the next free port when the default
is taken (except ``DI_OPS_UI_PORT``: the UI's URL stays the user's choice). See docs/demo.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
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


# Every port the demo listens on: variable, default, ports in a row, what listens there, and whether a free
# one may be chosen when the variable is unset and the default is taken (the UI's URL is the user's to pick).
def demo_ports() -> list[tuple[str, int, int, str, bool]]:
    from include.demo.fleet import fleet_rows

    nodes = len(fleet_rows()["nodes"])  # the lab serves node i of the demo inventory on base + i
    return [
        ("DI_OPS_UI_PORT", 8080, 1, "the Airflow UI (api-server)", False),
        ("DI_OPS_SMTP_PORT", 8025, 1, "the SMTP sink", True),
        ("DI_OPS_LAB_ADMIN_PORT", 8943, 1, "the DI lab's admin API", True),
        ("DI_OPS_LAB_TLS_BASE_PORT", 9400, nodes, f"the DI lab's {nodes} TLS endpoints", True),
        ("DI_OPS_SFTP_PORT", 2222, 1, "the SFTP lab (sshd)", True),
        # Airflow's own: the log servers of the LocalExecutor's tasks and of the triggerer (the UI asks
        # them for a running task's log; another demo's would answer with its logs)
        ("DI_OPS_WORKER_LOG_PORT", 8793, 1, "Airflow's task log server", True),
        ("DI_OPS_TRIGGER_LOG_PORT", 8794, 1, "Airflow's triggerer log server", True),
    ]


def _span(first: int, count: int) -> range:
    return range(first, first + count)


def choose_ports(
    environ: Mapping[str, str],
    ports: list[tuple[str, int, int, str, bool]],
    is_free: Callable[[int], bool],
) -> tuple[dict[str, int], list[str], list[str]]:
    """The port of each variable, notes on ports chosen, and errors (each naming its variable).

    A variable that is set is checked: every port of its span must be free. One that is unset takes its
    default when free, else (where allowed) the next free span above it; no two spans overlap.
    """
    chosen: dict[str, int] = {}
    notes: list[str] = []
    errors: list[str] = []
    taken: set[int] = set()

    def usable(first: int, count: int) -> bool:
        span = _span(first, count)
        return span.stop <= 65536 and not taken.intersection(span) and all(is_free(p) for p in span)

    for variable, default, count, what, may_choose in ports:
        given = environ.get(variable, "").strip()
        last = f"-{default + count - 1}" if count > 1 else ""
        if given:
            if not given.isdigit() or not 0 < int(given) < 65536:
                errors.append(f"{variable}={given} is not a port number ({what})")
                continue
            if not usable(int(given), count):
                span = f"{given}-{int(given) + count - 1}" if count > 1 else given
                errors.append(f"{variable}={given}: port {span} is in use ({what}); set {variable} to a free port")
                continue
            chosen[variable] = int(given)
        elif usable(default, count):
            chosen[variable] = default
        elif not may_choose:
            errors.append(
                f"port {default}{last} is in use ({what}); stop what runs there or set {variable}, "
                f"e.g. {variable}={default + 1} make demo"
            )
            continue
        else:
            first = next((p for p in range(default + count, 65536 - count, count) if usable(p, count)), 0)
            if not first:
                errors.append(f"no free port for {variable} ({what}); set {variable}")
                continue
            chosen[variable] = first
            taken_part = f"a port of {default}{last}" if count > 1 else str(default)
            now = f"{first}-{first + count - 1}" if count > 1 else str(first)
            notes.append(f"{variable}: {taken_part} is in use, using {now} for {what} (set {variable} to choose)")
        taken.update(_span(chosen[variable], count))
    return chosen, notes, errors


def wait_for_services(environ: Mapping[str, str], data_dir: Path, timeout: float = 180) -> list[str]:
    """Wait until the demo's own services listen on the chosen ports; the problems left after ``timeout``.

    The lab's endpoint map must be there (the lab writes it once all its ports listen) and name only
    ports of the chosen TLS range, so the sweep probes this demo's lab.
    """
    import socket
    import time

    from include.demo.sshd import sshd_binary

    wanted = {"DI_OPS_SMTP_PORT": "the SMTP sink", "DI_OPS_LAB_ADMIN_PORT": "the DI lab's admin API"}
    if sshd_binary() is not None:  # without OpenSSH the COP uploads fail and are retried (docs/pipelines/cop.md)
        wanted["DI_OPS_SFTP_PORT"] = "the SFTP lab (sshd)"
    count = dict((v, c) for v, _, c, _, _ in demo_ports())["DI_OPS_LAB_TLS_BASE_PORT"]
    tls = _span(int(environ["DI_OPS_LAB_TLS_BASE_PORT"]), count)
    endpoints = data_dir / "lab" / "endpoints.json"
    deadline = time.monotonic() + timeout
    while True:
        problems = []
        for variable, what in wanted.items():
            try:
                socket.create_connection(("127.0.0.1", int(environ[variable])), timeout=1).close()
            except OSError:
                problems.append(f"{what} does not answer on 127.0.0.1:{environ[variable]} ({variable})")
        try:
            mapped = json.loads(endpoints.read_text()).values()
            stray = [a for a in mapped if int(a.rpartition(":")[2]) not in tls and not a.endswith(":0")]
            if stray:
                problems.append(f"{endpoints} names ports outside {tls.start}-{tls.stop - 1}: {stray[:3]}")
        except (OSError, ValueError):
            problems.append(f"the DI lab has not written {endpoints} (DI_OPS_LAB_TLS_BASE_PORT={tls.start})")
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["ports", "env", "prepare", "services", "wait", "trigger", "schedules"])
    parser.add_argument("--url", default=f"http://localhost:{os.environ.get('AIRFLOW__API__PORT', '8080')}")
    parser.add_argument(
        "--password-file",
        default=os.path.join(
            os.environ.get("AIRFLOW_HOME", ".airflow"), "simple_auth_manager_passwords.json.generated"
        ),
    )
    args = parser.parse_args()
    step = args.step
    if step == "ports":
        from include.lab.ports import port_free

        chosen, notes, errors = choose_ports(os.environ, demo_ports(), lambda port: port_free(port, "0.0.0.0"))
        for line in notes + errors:
            print(f"ports: {line}", file=sys.stderr)
        if errors:
            raise SystemExit(1)
        print("\n".join(f"export {variable}={port}" for variable, port in chosen.items()))
        return
    if step == "wait":
        problems = wait_for_services(os.environ, _data_dir())
        for line in problems:
            print(f"!! {line}", file=sys.stderr)
        raise SystemExit(1 if problems else 0)
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
