"""Team conventions as tests: every DAG parses without I/O, and follows the house policy."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from di_ops.core.settings import pipelines
from di_ops.core.tasks import CHANGE_FREEZE_TASK_ID, DRY_RUN_PARAM
from tests.conftest import REPO

DAG_FILES = sorted((REPO / "dags").glob("*.py"))
HEAVY_MODULES = ("great_expectations", "pandas", "paramiko")


def _dag_call(path: Path) -> ast.Call:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "dag":
                    return deco
    raise AssertionError(f"{path.name} has no @dag(...) function")


def _module_constant(path: Path, name: str) -> object:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} does not set {name}")


def test_there_are_dags() -> None:
    assert DAG_FILES, "dags/ holds no DAG file"


def test_parsing_touches_no_connection_variable_network_or_database() -> None:
    calls: list[str] = []

    def record(what: str):  # type: ignore[no-untyped-def]
        def _fail(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(what)
            raise RuntimeError(f"{what} called at parse time")

        return _fail

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    with (
        mock.patch.object(BaseHook, "get_connection", side_effect=record("BaseHook.get_connection")),
        mock.patch.object(Variable, "get", side_effect=record("Variable.get")),
        mock.patch(
            "airflow.models.connection.Connection.get_connection_from_secrets",
            side_effect=record("Connection.get_connection_from_secrets"),
        ),
        mock.patch("airflow.models.variable.Variable.get", side_effect=record("models.Variable.get")),
        mock.patch.object(socket.socket, "connect", side_effect=record("socket.connect")),
        mock.patch("di_ops.db.engine.make_engine", side_effect=record("ops DB engine")),
    ):
        bag = DagBag(dag_folder=str(REPO / "dags"))
        import di_ops_plugin  # noqa: F401  - the plugin module must be just as quiet
    assert bag.import_errors == {}
    assert calls == []
    assert len(bag.dag_ids) >= len(DAG_FILES)


def test_parsing_imports_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "import di_ops_plugin\n"
        f"print(json.dumps({{'errors': list(bag.import_errors), 'heavy': [m for m in {HEAVY_MODULES!r} if m in sys.modules]}}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"errors": [], "heavy": []}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_declares_schedule_catchup_and_one_dag_named_like_the_file(path: Path) -> None:
    call = _dag_call(path)
    keywords = {k.arg for k in call.keywords}
    assert {"dag_id", "schedule", "catchup", "tags", "default_args", "doc_md"} <= keywords
    assert _module_constant(path, "DAG_ID") == path.stem
    assert isinstance(_module_constant(path, "CHANGES_OUTSIDE_OPS_DB"), bool)


def test_every_dag_follows_the_policy(dagbag) -> None:  # type: ignore[no-untyped-def]
    vocabulary = set(pipelines().tags)
    by_file = {Path(d.fileloc).stem: d for d in dagbag.dags.values()}
    assert set(by_file) >= {p.stem for p in DAG_FILES}
    for dag in dagbag.dags.values():
        where = f"DAG {dag.dag_id}"
        assert dag.doc_md and dag.doc_md.strip(), f"{where}: doc_md is empty"
        assert dag.tags and set(dag.tags) <= vocabulary, f"{where}: tags {dag.tags} outside {sorted(vocabulary)}"
        assert "di-ops" in dag.tags, f"{where}: missing the di-ops tag"
        for task in dag.tasks:
            assert task.owner == pipelines().owner, f"{where}.{task.task_id}: owner {task.owner!r}"
            # a hung task (a FIFO read, a dead server) must fail and free the next run, not block it
            assert task.execution_timeout is not None and task.execution_timeout.total_seconds() > 0, (
                f"{where}.{task.task_id}: no execution_timeout"
            )
            if "no retry:" not in (task.doc or ""):
                assert task.retries >= 2, (
                    f"{where}.{task.task_id}: retries {task.retries} < 2 (or document 'no retry: why')"
                )
        for name, param in dag.params.items():
            schema = param.schema
            assert schema.get("type"), f"{where}: Param {name} has no type"
            assert param.description, f"{where}: Param {name} has no description"


def test_dags_that_change_the_outside_have_dry_run_and_honour_the_freeze(dagbag) -> None:  # type: ignore[no-untyped-def]
    for path in DAG_FILES:
        changes = _module_constant(path, "CHANGES_OUTSIDE_OPS_DB")
        for dag in (d for d in dagbag.dags.values() if Path(d.fileloc) == path):
            if not changes:
                continue
            assert DRY_RUN_PARAM in dag.params, f"{dag.dag_id}: no dry_run Param"
            assert dag.params.get_param(DRY_RUN_PARAM).schema.get("type") == "boolean"
            gate = dag.get_task(CHANGE_FREEZE_TASK_ID)
            for task in dag.tasks:
                if task.task_id != gate.task_id:
                    assert gate.task_id in task.get_flat_relative_ids(upstream=True), (
                        f"{dag.dag_id}.{task.task_id} does not run after {gate.task_id}"
                    )
