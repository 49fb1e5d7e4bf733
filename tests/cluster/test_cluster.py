"""Scale-out: the project runs on CeleryExecutor with two workers, PostgreSQL and Redis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from di_ops.integrations.opsdb import count_rows
from include.demo.fleet import write_fleet

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def test_inventory_sync_runs_on_a_celery_worker(cluster: dict[str, Any], tmp_path: Path) -> None:
    api = cluster["api"]
    folder = tmp_path / "inventory"
    write_fleet(folder)
    run_id = api.trigger("inventory_sync", {"inventory_folder": str(folder)})
    assert api.wait_for_run("inventory_sync", run_id) == "success"
    [ti] = api.task_instances("inventory_sync", run_id)
    assert ti["hostname"] and ti["state"] == "success"
    ops = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_OPS_DB']}")
    assert count_rows(ops, "customers") == 12
    ops.dispose()


def test_cluster_down_stops_exactly_its_processes(cluster: dict[str, Any]) -> None:
    pids = {p.stem: int(p.read_text()) for p in (cluster["home"] / "pids").glob("*.pid")}
    assert set(pids) == {"api-server", "scheduler", "dag-processor", "triggerer", "worker1", "worker2"}
    for pid in pids.values():
        os.kill(pid, 0)  # every component is alive (raises if not)
