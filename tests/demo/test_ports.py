"""make demo takes no port another server holds: each port is a variable, checked before use or chosen free,
and the demo's own services (SMTP sink, DI lab, sshd) answer on the ports its connections and lab map name.

Real sockets hold the ports; the pieces run as make demo runs them (``python -m ...``). Source: docs/demo.md.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from include.demo.runs import REPO, choose_ports, demo_ports, wait_for_services
from include.lab.ports import port_free
from tests.conftest import free_port

NODES = dict((v, c) for v, _, c, _, _ in demo_ports())["DI_OPS_LAB_TLS_BASE_PORT"]


@contextmanager
def held(port: int) -> Iterator[socket.socket]:
    """Another server listening on ``port`` (what a second demo, or anything else, would be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield sock


def free_span(count: int) -> int:
    """The first port of ``count`` free ports in a row (below the ephemeral range)."""
    for first in range(20000, 32000 - count, count):
        if all(port_free(p, "0.0.0.0") for p in range(first, first + count)):
            return first
    raise AssertionError("no free span of ports")


def _free_env() -> dict[str, str]:
    """Every demo port variable set to a free port (so only the one a test takes is in use)."""
    env = {v: str(free_span(c) if c > 1 else free_port()) for v, _, c, _, _ in demo_ports()}
    assert len(set(env.values())) == len(env)
    return env


def _runs(step: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _runs_exactly(step, {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}", **env})


def _runs_exactly(step: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m include.demo.runs <step>`` with exactly ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "include.demo.runs", step],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "variable", ["DI_OPS_UI_PORT", "DI_OPS_SMTP_PORT", "DI_OPS_LAB_ADMIN_PORT", "DI_OPS_SFTP_PORT"]
)
def test_a_set_port_in_use_stops_the_demo_naming_its_variable(variable: str) -> None:
    env = _free_env()
    with held(int(env[variable])):
        done = _runs("ports", env)
    assert done.returncode == 1 and "export" not in done.stdout
    assert f"{variable}={env[variable]}: port {env[variable]} is in use" in done.stderr, done.stderr
    assert done.stderr.count("in use") == 1  # only the taken one is named


def test_one_taken_port_inside_the_lab_tls_range_stops_the_demo() -> None:
    env = _free_env()
    base = int(env["DI_OPS_LAB_TLS_BASE_PORT"])
    with held(base + NODES - 1):  # the last node's port
        done = _runs("ports", env)
    assert done.returncode == 1, done.stdout
    assert f"DI_OPS_LAB_TLS_BASE_PORT={base}: port {base}-{base + NODES - 1} is in use" in done.stderr


def test_free_ports_are_exported_as_given() -> None:
    env = _free_env()
    done = _runs("ports", env)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split("\n")[:-1]) == sorted(f"export {k}={v}" for k, v in env.items())


def test_an_unset_variable_whose_default_is_taken_gets_a_free_port_but_the_ui_does_not() -> None:
    smtp, admin = free_port(), free_port()
    tls = free_span(NODES)
    table = [
        ("DI_OPS_SMTP_PORT", smtp, 1, "the SMTP sink", True),
        ("DI_OPS_LAB_ADMIN_PORT", admin, 1, "the DI lab's admin API", True),
        ("DI_OPS_LAB_TLS_BASE_PORT", tls, NODES, "the DI lab's TLS endpoints", True),
    ]
    with held(smtp), held(admin), held(tls + 10):
        chosen, notes, errors = choose_ports({}, table, lambda p: port_free(p, "0.0.0.0"))
        ui = free_port()
        with held(ui):
            _, _, ui_errors = choose_ports({}, [("DI_OPS_UI_PORT", ui, 1, "the Airflow UI", False)], port_free)
    assert not errors and chosen["DI_OPS_SMTP_PORT"] != smtp and chosen["DI_OPS_LAB_ADMIN_PORT"] != admin
    first = chosen["DI_OPS_LAB_TLS_BASE_PORT"]
    assert first >= tls + NODES  # past the taken one, the whole span free
    spans = [range(p, p + 1) for p in (chosen["DI_OPS_SMTP_PORT"], chosen["DI_OPS_LAB_ADMIN_PORT"])]
    assert not (set(spans[0]) | set(spans[1])) & set(range(first, first + NODES))  # no two spans overlap
    assert [n.split(":")[0] for n in notes] == ["DI_OPS_SMTP_PORT", "DI_OPS_LAB_ADMIN_PORT", "DI_OPS_LAB_TLS_BASE_PORT"]
    assert ui_errors and "DI_OPS_UI_PORT" in ui_errors[0] and f"port {ui} is in use" in ui_errors[0]


@pytest.mark.slow
def test_with_the_default_ports_taken_the_demo_services_listen_on_free_ones_that_its_connection_and_lab_map_name(
    tmp_path: Path,
) -> None:
    """The defaults held by "another demo" (SMTP 8025, lab admin 8943, a port of the lab's 9400 range):
    ``runs ports`` chooses free ones, and the pieces make demo starts (SMTP sink, DI lab, sshd) listen
    there; the di_uc_admin connection and the lab's endpoint map name those ports, not the held ones."""
    from include.demo.fleet import write_fleet
    from include.demo.sshd import sshd_binary

    data_dir = tmp_path / "data"
    write_fleet(data_dir / "inventory")
    stale = data_dir / "lab" / "endpoints.json"  # an earlier lab's map, at the default ports
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"cucm-1.c001.nyc.di.example:8443": "127.0.0.1:9400"}))
    unset = ("DI_OPS_SMTP_PORT", "DI_OPS_LAB_ADMIN_PORT", "DI_OPS_LAB_TLS_BASE_PORT")
    base_env = {k: v for k, v in os.environ.items() if k not in unset}
    base_env |= {k: v for k, v in _free_env().items() if k not in unset}
    base_env |= {"DI_OPS_DATA_DIR": str(data_dir), "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"}
    with ExitStack() as others:
        for port in (8025, 8943, 9407):
            if port_free(port, "0.0.0.0"):  # else something already holds it: the same situation
                others.enter_context(held(port))
        chosen = _runs_exactly("ports", base_env)
        assert chosen.returncode == 0, chosen.stderr
        env = base_env | dict(line.removeprefix("export ").split("=", 1) for line in chosen.stdout.splitlines())
        assert int(env["DI_OPS_SMTP_PORT"]) != 8025 and int(env["DI_OPS_LAB_ADMIN_PORT"]) != 8943
        base = int(env["DI_OPS_LAB_TLS_BASE_PORT"])
        assert 9407 not in range(base, base + NODES)
        tls_note = f"ports: DI_OPS_LAB_TLS_BASE_PORT: a port of 9400-{9400 + NODES - 1} is in use, using "
        assert f"{tls_note}{base}-{base + NODES - 1} for the DI lab's" in chosen.stderr, chosen.stderr
        smtp_note = f"ports: DI_OPS_SMTP_PORT: 8025 is in use, using {env['DI_OPS_SMTP_PORT']} for the SMTP sink"
        assert smtp_note in chosen.stderr, chosen.stderr

        exports = _runs_exactly("env", env).stdout.splitlines()
        line = next(x for x in exports if x.startswith("export AIRFLOW_CONN_DI_UC_ADMIN="))
        connection = json.loads(shlex.split(line.removeprefix("export AIRFLOW_CONN_DI_UC_ADMIN="))[0])
        assert connection["port"] == int(env["DI_OPS_LAB_ADMIN_PORT"])
        services = [json.loads(x) for x in _runs_exactly("services", env).stdout.splitlines()]
        lab = next(s for s in services if s[:3] == ["python", "-m", "include.lab"])
        assert lab[lab.index("--admin-port") + 1] == env["DI_OPS_LAB_ADMIN_PORT"]
        assert lab[lab.index("--tls-base-port") + 1] == str(base)

        stale.unlink()  # as launch.sh does before it starts the services
        commands = [
            [
                "python",
                "-m",
                "include.demo.smtp_sink",
                "--dir",
                str(data_dir / "outbox"),
                "--port",
                env["DI_OPS_SMTP_PORT"],
            ],
            lab,
        ]
        sftp = next((s for s in services if s[:3] == ["python", "-m", "include.demo.sshd"]), None)
        if sshd_binary() is not None and sftp is not None:
            from include.demo.sshd import prepare_lab

            prepare_lab(data_dir / "sftp-lab", int(env["DI_OPS_SFTP_PORT"]))
            commands.append(sftp)
        procs = [
            subprocess.Popen(
                [sys.executable, *command[1:]],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for command in commands
        ]
        try:
            problems = wait_for_services(env, data_dir, timeout=60)
            assert problems == [], problems
            mapped = json.loads(stale.read_text())
            ports = {int(a.rpartition(":")[2]) for a in mapped.values()} - {0}  # 0: a node that is down
            assert len(mapped) == NODES and ports and ports <= set(range(base, base + NODES))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=20)


def test_the_wait_names_a_service_that_does_not_answer(tmp_path: Path) -> None:
    env = _free_env()
    problems = wait_for_services(env, tmp_path, timeout=0)
    assert any("DI_OPS_SMTP_PORT" in p for p in problems) and any("DI_OPS_LAB_ADMIN_PORT" in p for p in problems)
    assert any("endpoints.json" in p and "DI_OPS_LAB_TLS_BASE_PORT" in p for p in problems)
