"""The project's scheduled DAGs through 30 consecutive simulated days; every promise of the domain is checked
over the whole month, naming the day it fails on. How and why: docs/simulation.md, tests/simulation/month.py
(the clock, the timetables, elided slots), drivers.py (task bodies in DAG order, and why not dag.test()),
scenario.py (the month's events), checks.py (the promises: DOMAIN.md §2, §3, §4, §7; housekeeping's ages)."""

from __future__ import annotations

import time

import pytest

from tests.simulation import checks
from tests.simulation.month import Simulation, touch_new
from tests.simulation.scenario import wire

pytestmark = [pytest.mark.slow, pytest.mark.services]

BUDGET_SECONDS = 240  # the whole month, set-up included, on the 2-core CI machine


@pytest.fixture
def month(world, month_dags):  # type: ignore[no-untyped-def]
    from di_ops.pipelines.housekeeping.settings import housekeeping_settings

    began = time.perf_counter()
    folders = checks.housekeeping_folders(world.data, housekeeping_settings())
    seen: set[str] = set()
    for folder in folders:  # the seeded old outputs keep their (simulated) times
        if folder.is_dir():
            seen.update(str(p) for p in folder.iterdir())
    sim = Simulation(month_dags, world.clock, lambda at: touch_new(folders, seen, at))
    record = wire(sim, world)
    watcher = checks.HousekeepingWatch(world.data, folders)
    sim.after_run.insert(0, watcher.after)
    sim.before_hooks.append(watcher.before)
    retention = checks.RetentionWatch(world.store)
    sim.after_run.append(retention.after)
    sim.before_hooks.append(retention.before)
    sim.run()
    seconds = time.perf_counter() - began
    return {
        "sim": sim,
        "world": world,
        "record": record,
        "housekeeping": watcher,
        "retention": retention,
        "seconds": seconds,
    }


def test_thirty_days_of_scheduled_runs_keep_every_promise(month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    summary = checks.summary(month)
    print(summary)
    (tmp_path / "month-summary.txt").write_text(summary)
    failures = checks.all_failures(month)
    assert not failures, "\n".join(failures)
    assert month["seconds"] <= BUDGET_SECONDS, f"the month took {month['seconds']:.0f} s (budget {BUDGET_SECONDS} s)"
