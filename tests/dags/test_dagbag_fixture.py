"""The dagbag fixture hands every test DAGs whose Params are the declared defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.demo.fleet import write_fleet

pytestmark = pytest.mark.slow


def test_a_run_conf_changes_the_task_params_of_the_dag_object(
    airflow_db, dagbag, ops_sqlite: str, tmp_path: Path
) -> None:
    write_fleet(tmp_path / "inventory")
    dag = dagbag.get_dag("inventory_sync")
    assert dag.test(run_conf={"inventory_folder": str(tmp_path / "inventory")}).state == "success"
    # the Airflow behaviour the fixture undoes: the value sticks to the tasks
    assert [t.params["inventory_folder"] for t in dag.tasks] == [str(tmp_path / "inventory")]


def test_the_next_test_sees_the_declared_defaults_again(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag("inventory_sync")
    assert [t.params["inventory_folder"] for t in dag.tasks] == [None]
