"""The change-freeze Variable stops a changing run at its gate; a dry run goes on."""

from __future__ import annotations

import pytest

from di_ops.core.tasks import change_freeze_reason

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("off", None),
        ("False", None),
        ("0", None),
        (" no ", None),
        ("year-end freeze", "year-end freeze"),
        ("on", "on"),
        ("1", "1"),
    ],
)
def test_change_freeze_reason(value: str | None, expected: str | None) -> None:
    assert change_freeze_reason(value) == expected


def _register(dag) -> None:  # type: ignore[no-untyped-def]
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


@pytest.fixture(scope="module")
def frozen_dag(airflow_db):  # type: ignore[no-untyped-def]
    from airflow.sdk import Param, dag, task

    from di_ops.core.tasks import change_freeze_gate, default_args

    @dag(
        dag_id="test_change_freeze",
        schedule=None,
        catchup=False,
        default_args=default_args(),
        params={"dry_run": Param(False, type="boolean", description="dry run")},
    )
    def test_change_freeze() -> None:
        @task
        def change_something() -> str:
            return "changed"

        change_freeze_gate() >> change_something()

    built = test_change_freeze()
    _register(built)
    return built


@pytest.mark.parametrize(
    ("freeze", "dry_run", "state", "changed"),
    [
        (None, False, "success", True),
        ("year-end freeze", False, "failed", False),
        ("year-end freeze", True, "success", True),
        ("off", False, "success", True),
    ],
)
def test_gate(
    frozen_dag, monkeypatch: pytest.MonkeyPatch, freeze: str | None, dry_run: bool, state: str, changed: bool
) -> None:  # type: ignore[no-untyped-def]
    if freeze is None:
        monkeypatch.delenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", freeze)
    run = frozen_dag.test(run_conf={"dry_run": dry_run})
    assert run.state == state
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert (states["change_something"] == "success") is changed
    if not changed:
        assert states["change_freeze_gate"] == "failed"
        assert states["change_something"] == "upstream_failed"
