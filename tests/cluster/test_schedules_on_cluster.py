"""Every schedule schedules: with the real scheduler and dag-processor of the cluster, every DAG
that has a schedule gets a next run, and a renewal DAG's run is created at its window's opening.

The four ``certificate_renewal_<region>`` DAGs have no ``start_date``; their maintenance-window
timetable once returned no next run for them, so no certificate was ever renewed unattended.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
import pytest

from di_ops.core.settings import regions_config
from di_ops.rules.maintenance import next_window, window_at
from include.demo.runs import project_dag_ids, without_next_run

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def _dags(api: Any) -> dict[str, dict[str, Any]]:
    response = api.client.get("/dags", params={"limit": 200})
    response.raise_for_status()
    return {d["dag_id"]: d for d in response.json()["dags"]}


def _utc(value: str | None) -> datetime | None:
    return None if value is None else pendulum.parse(value).in_timezone("UTC")


def test_every_scheduled_dag_has_a_next_run(cluster: dict[str, Any]) -> None:
    api = cluster["api"]
    wanted = project_dag_ids()
    for dag_id in wanted:
        api.wait_for_dag(dag_id)
    deadline = time.monotonic() + 120
    while True:
        dags = {k: v for k, v in _dags(api).items() if k in wanted}
        missing = without_next_run(list(dags.values()))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert missing == [], f"scheduled DAGs without a next run: {missing}"
    assert sorted(dags) == sorted(wanted)
    # the one DAG run only by hand has no schedule, so it is the only one allowed no next run
    unscheduled = sorted(d for d, v in dags.items() if not v.get("next_dagrun_run_after"))
    assert unscheduled == ["upgrade_reschedule"]
    now = datetime.now(UTC)
    for region in regions_config().regions:
        dag = dags[f"certificate_renewal_{region.lower()}"]
        # a window open now (its run is still useful), else the next opening; either way a window start
        current = window_at(region, now)
        expected = current if current is not None else next_window(region, now, allow_weekend=True)
        start = _utc(dag["next_dagrun_data_interval_start"])
        if current is not None and start is not None and start > current.start.astimezone(UTC):
            # the scheduler may already have created the open window's run (the DAG is paused, so not yet)
            expected = next_window(region, current.end, allow_weekend=True)
        assert start == expected.start.astimezone(UTC), region
        assert _utc(dag["next_dagrun_run_after"]) == expected.start.astimezone(UTC), region


def test_a_renewal_run_is_created_at_its_window_opening(cluster: dict[str, Any]) -> None:
    """Unpause the renewal DAG of a region whose window is open now: the scheduler creates the run
    for that window by itself, with run_after = the window's opening, and the run ends with its report."""
    api = cluster["api"]
    now = datetime.now(UTC)
    open_windows = [(region, window_at(region, now)) for region in regions_config().regions]
    # the four regions' nights cover the whole day; take the window with the most time left
    region, window = max(
        ((r, w) for r, w in open_windows if w is not None), key=lambda item: item[1].end.astimezone(UTC)
    )
    assert window.end.astimezone(UTC) - now > timedelta(minutes=15), "no window open long enough"
    dag_id = f"certificate_renewal_{region.lower()}"
    api.wait_for_dag(dag_id)
    api.client.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    try:
        deadline = time.monotonic() + 180
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            listing = api.client.get(f"/dags/{dag_id}/dagRuns", params={"run_type": ["scheduled"]})
            listing.raise_for_status()
            runs = [r for r in listing.json()["dag_runs"] if r["run_type"] == "scheduled"]
            if runs:
                break
            time.sleep(3)
        assert len(runs) == 1, f"the scheduler created no run for {dag_id} within 180 s"
        run = runs[0]
        assert _utc(run["data_interval_start"]) == window.start.astimezone(UTC)
        assert _utc(run["data_interval_end"]) == window.end.astimezone(UTC)
        assert _utc(run["run_after"]) == window.start.astimezone(UTC)
        assert api.wait_for_run(dag_id, run["dag_run_id"], timeout=600) == "success"
        states = {ti["task_id"]: ti["state"] for ti in api.task_instances(dag_id, run["dag_run_id"])}
        assert states["report"] == "success", states
    finally:
        api.client.patch(f"/dags/{dag_id}", json={"is_paused": True}).raise_for_status()
