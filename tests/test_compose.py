"""Checks of the docker compose setup (docker-compose.yaml, Dockerfile, .env.example) without docker.

Docker does not run where these tests run, so the files are read as YAML and text: the
conventions of docs/compose.md (services, health checks, shared data volume, no committed
secrets, every variable documented in .env.example) become assertions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
REQUIREMENTS = REPO / "requirements.txt"
OPS_DB_INIT_SQL = REPO / "include" / "compose" / "init-ops-db.sql"

REQUIRED_SERVICES = (
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "sftp",
)
AIRFLOW_IMAGE_NAME = "di-ops-airflow"
AIRFLOW_HOME = "/opt/airflow"
DATA_VOLUME = "di-ops-data"
DATA_DIR = f"{AIRFLOW_HOME}/data"
CODE_MOUNTS = {
    "./dags": f"{AIRFLOW_HOME}/dags",
    "./plugins": f"{AIRFLOW_HOME}/plugins",
    "./include": f"{AIRFLOW_HOME}/include",
}
SECRET_WORDS = ("PASSWORD", "SECRET", "FERNET", "KEY", "TOKEN")
# A name ending like this holds where a secret is (a file path), not the secret itself.
SECRET_LOCATION_SUFFIXES = ("_FILE", "_PATH")

# ${NAME}, ${NAME:-default}, ${NAME:?message} ... and bare $NAME; `$$` is compose's escaped `$`.
_BRACED_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
_BARE_REF = re.compile(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")
# A value that is exactly one reference; group 2 is the operator (`-`, `:-`, `?`, `:?`), group 3 its text.
_WHOLE_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}$")
_URL_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]*)@")


# --- helpers ---------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _airflow_services() -> dict[str, dict[str, Any]]:
    return {
        name: svc for name, svc in _services().items() if str(svc.get("image", "")).startswith(f"{AIRFLOW_IMAGE_NAME}:")
    }


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of each volume entry, short or long syntax."""
    out = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            out.append((str(entry.get("source", "")), str(entry["target"]), bool(entry.get("read_only", False))))
        else:
            parts = str(entry).split(":")
            source, target = parts[0], parts[1]
            out.append((source, target, len(parts) > 2 and "ro" in parts[2].split(",")))
    return out


def _strings(node: Any) -> Iterator[str]:
    """Every key and value string of the parsed YAML (comments are gone by then)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif node is not None:
        yield str(node)


def _referenced_variables() -> set[str]:
    names: set[str] = set()
    for text in _strings(_compose()):
        names.update(_BRACED_REF.findall(text))
        names.update(_BARE_REF.findall(text))
    return names


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.strip())
        if match:
            values[match.group(1)] = match.group(2).strip()
    return values


def _is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS) and not upper.endswith(SECRET_LOCATION_SUFFIXES)


def _is_safe_secret_value(value: str) -> bool:
    """Empty, or exactly one ${VAR} reference whose fallback (if any) is an error or empty."""
    if value == "":
        return True
    match = _WHOLE_REF.match(value)
    if not match:
        return False
    operator, text = match.group(2), match.group(3)
    return operator is None or "?" in operator or text == ""


def _airflow_pin() -> str:
    match = re.search(r"^apache-airflow==([0-9][^\s;#]*)", REQUIREMENTS.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, "requirements.txt must pin apache-airflow=="
    return match.group(1)


# --- image and Dockerfile ----------------------------------------------------------------------


def test_dockerfile_base_is_the_pinned_airflow_on_python_311() -> None:
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert bases == [f"apache/airflow:{_airflow_pin()}-python3.11"]


def test_compose_image_is_built_here_and_tagged_with_the_pinned_version() -> None:
    services = _airflow_services()
    assert set(services) >= {s for s in REQUIRED_SERVICES if s.startswith("airflow-")}
    for name, svc in services.items():
        assert svc.get("build") in (".", {"context": "."}), name
        assert svc["image"] == f"{AIRFLOW_IMAGE_NAME}:{_airflow_pin()}", name


def test_dockerfile_installs_the_lock_as_the_airflow_user() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^COPY\s+requirements\.txt\s+/requirements\.txt$", text, re.MULTILINE)
    install = re.search(r"^RUN pip install --no-cache-dir -r /requirements\.txt$", text, re.MULTILINE)
    assert install, "the Dockerfile must install requirements.txt"
    users = re.findall(r"^USER\s+(\S+)", text[: install.start()], re.MULTILINE)
    assert users and users[-1] == "airflow", "pip must run as the airflow user"
    assert re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)[-1] == "airflow", "the image must end as airflow"


# --- services ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_required_service_exists(name: str) -> None:
    assert name in _services()


@pytest.mark.parametrize("name", sorted(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]))
def test_every_service_has_a_healthcheck(name: str) -> None:
    check = _services()[name].get("healthcheck")
    assert isinstance(check, dict), f"{name} has no healthcheck"
    assert not check.get("disable"), f"{name} disables its healthcheck"
    test = check.get("test")
    assert test and test != ["NONE"], f"{name} has an empty healthcheck test"


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("airflow-apiserver", "http://localhost:8080/api/v2/monitor/health"),
        ("airflow-scheduler", "http://localhost:8974/health"),
        ("airflow-dag-processor", "--job-type DagProcessorJob"),
        ("airflow-triggerer", "--job-type TriggererJob"),
        ("airflow-worker", "inspect ping"),
    ],
)
def test_airflow_healthchecks_probe_the_component(service: str, probe: str) -> None:
    test = _services()[service]["healthcheck"]["test"]
    assert probe in (test if isinstance(test, str) else " ".join(test))


def test_versions_of_the_backing_services() -> None:
    services = _services()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7.2")


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor"),
        ("AIRFLOW__CORE__LOAD_EXAMPLES", "false"),
        ("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "true"),
        ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://airflow-apiserver:8080/execution/"),
        ("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "true"),
        (
            "AIRFLOW__CORE__AUTH_MANAGER",
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        ),
        ("DI_OPS_DATA_DIR", DATA_DIR),
    ],
)
def test_every_airflow_service_has_the_common_setting(variable: str, expected: str) -> None:
    for name, svc in _airflow_services().items():
        assert _environment(svc).get(variable, "").lower() == expected.lower(), name


def test_one_required_jwt_secret_for_all_components() -> None:
    values = {_environment(svc).get("AIRFLOW__API_AUTH__JWT_SECRET") for svc in _airflow_services().values()}
    assert len(values) == 1
    (value,) = values
    match = _WHOLE_REF.match(value or "")
    assert match and match.group(2) == ":?", f"the JWT secret must be a required ${{VAR:?...}}, got {value!r}"


def test_worker_shuts_down_warm() -> None:
    worker = _services()["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert _environment(worker)["DUMB_INIT_SETSID"] == "0"


# --- volumes -----------------------------------------------------------------------------------


def test_every_airflow_service_mounts_the_data_volume_and_the_code() -> None:
    for name, svc in _airflow_services().items():
        mounts = {target: source for source, target, _ro in _mounts(svc)}
        assert mounts.get(DATA_DIR) == DATA_VOLUME, f"{name} must mount {DATA_VOLUME} at {DATA_DIR}"
        for source, target in CODE_MOUNTS.items():
            assert mounts.get(target) == source, f"{name} must mount {source} at {target}"
    assert DATA_VOLUME in (_compose().get("volumes") or {})


def test_ops_db_is_created_by_the_mounted_init_script() -> None:
    postgres = _services()["postgres"]
    targets = {target: source for source, target, _ro in _mounts(postgres)}
    init = [t for t in targets if t.startswith("/docker-entrypoint-initdb.d/")]
    assert init and targets[init[0]] == "./include/compose/init-ops-db.sql"
    sql = OPS_DB_INIT_SQL.read_text(encoding="utf-8")
    assert re.search(r"^CREATE DATABASE di_ops\b", sql, re.MULTILINE)
    assert "\\getenv" in sql and "DI_OPS_DB_PASSWORD" in sql, "the role password comes from the environment"


def test_ops_db_connection_points_at_the_postgres_service() -> None:
    for name, svc in _airflow_services().items():
        conn = json.loads(_environment(svc)["AIRFLOW_CONN_DI_OPS_DB"])
        assert (conn["conn_type"], conn["host"], conn["schema"]) == ("postgres", "postgres", "di_ops"), name


def test_sftp_service_takes_the_public_key_and_airflow_the_private_key() -> None:
    sftp = _mounts(_services()["sftp"])
    assert any(target.startswith("/home/") and "/.ssh/keys/" in target and ro for _s, target, ro in sftp)
    conn = json.loads(_environment(_services()["airflow-worker"])["AIRFLOW_CONN_SFTP_DEMO"])
    assert conn["host"] == "sftp"
    key_file = conn["extra"]["key_file"]
    assert any(target == key_file and ro for _s, target, ro in _mounts(_services()["airflow-worker"]))


# --- secrets and .env.example ------------------------------------------------------------------


def test_no_secret_value_is_committed_in_the_environment() -> None:
    offenders = []
    for name, svc in _services().items():
        for variable, value in _environment(svc).items():
            if _is_secret_name(variable) and not _is_safe_secret_value(value):
                offenders.append(f"{name}.{variable}={value!r}")
    assert not offenders, f"secret values must come from .env as ${{VAR}}: {offenders}"


def test_no_password_is_committed_inside_urls_or_connections() -> None:
    offenders = []
    for name, svc in _services().items():
        for variable, value in _environment(svc).items():
            for password in _URL_PASSWORD.findall(value):
                if not _is_safe_secret_value(password):
                    offenders.append(f"{name}.{variable}: URL password {password!r}")
            if variable.startswith("AIRFLOW_CONN_") and value.lstrip().startswith("{"):
                password = str(json.loads(value).get("password", ""))
                if not _is_safe_secret_value(password):
                    offenders.append(f"{name}.{variable}: JSON password {password!r}")
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("", True),
        ("${X}", True),
        ("${X:?set it in .env}", True),
        ("${X?}", True),
        ("${X:-}", True),
        ("${X:-airflow}", False),
        ("${X-airflow}", False),
        ("airflow", False),
        ("pre${X}", False),
        ("${X}${Y}", False),
    ],
)
def test_secret_value_rule(value: str, safe: bool) -> None:
    assert _is_safe_secret_value(value) is safe


def test_env_example_lists_every_variable_the_compose_file_reads() -> None:
    referenced = _referenced_variables()
    documented = set(_env_example())
    assert referenced, "expected ${VAR} references in docker-compose.yaml"
    assert referenced <= documented, f"missing from .env.example: {sorted(referenced - documented)}"
    assert documented <= referenced, f"unused in docker-compose.yaml: {sorted(documented - referenced)}"


def test_env_example_leaves_every_secret_empty() -> None:
    filled = {name: value for name, value in _env_example().items() if _is_secret_name(name) and value}
    assert not filled, f".env.example must not carry secret values: {sorted(filled)}"


def test_secrets_are_required_not_defaulted() -> None:
    """A missing secret stops `docker compose` instead of starting with an empty one."""
    for text in _strings(_compose()):
        for match in re.finditer(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?", text):
            if _is_secret_name(match.group(1)):
                assert match.group(2) == ":?", f"{match.group(1)} must be written ${{{match.group(1)}:?...}}"
