"""The month's clock and scheduler: every DAG's own timetable says when it runs; runs and world events are
executed in time order (an event at the same instant as a run comes first).

The high-frequency DAGs run only at the slots where their input changed: ``inventory_sync`` at the first
hourly slot after the exports changed, ``cop_upload`` at the first 15-minute slot after a request reached
the inbox, after a planned upload's window opened and after it closed, ``incident_watch`` at the first
5-minute slot after a TAC export arrived and at the daily digest hour. Every other slot is *elided*;
``Simulation.schedule_probes`` checks a spread sample of them, at their instant, for what a run there would
have done (it must be nothing).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.simulation import drivers
from tests.simulation.world import END, START

ELIDED = ("inventory_sync", "cop_upload", "incident_watch")
# the order of DAGs that share an instant (none do in the default schedules, but a tie must be deterministic)
ORDER = ["inventory_sync", "backup_retention", "ops_housekeeping", "certificate_sweep", "upgrade_eligibility"]


def timetable_runs(dag: Any, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """(run instant, data interval start) of every run the DAG's timetable creates in [start, end), asked the
    way the scheduler asks: ``next_dagrun_info`` with catchup from ``start``."""
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=pendulum.instance(start), latest=pendulum.instance(end), catchup=True)
    out, last = [], None
    while True:
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None or info.run_after >= end:
            return out
        moment = info.logical_date or info.run_after
        out.append((_plain(moment), _plain(info.data_interval.start)))
        last = info.data_interval


def _plain(moment: datetime) -> datetime:
    """A stdlib datetime in UTC (the timetable answers in pendulum's DateTime)."""
    return datetime.fromtimestamp(moment.timestamp(), UTC)


class SimClock:
    """The simulated instant; the lab, the retention invariant and housekeeping read it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Outcome:
    dag_id: str
    at: datetime
    state: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


@dataclass(order=True)
class _Item:
    at: datetime
    rank: int
    seq: int
    kind: str = field(compare=False)  # "event" | "run" | "probe"
    name: str = field(compare=False)
    payload: Any = field(compare=False, default=None)


class Simulation:
    def __init__(self, dags: dict[str, Any], clock: SimClock, on_new_outputs: Callable[[datetime], None]) -> None:
        self.clock = clock
        self.on_new_outputs = on_new_outputs
        self.queue: list[_Item] = []
        self.seq = itertools.count()
        self.outcomes: list[Outcome] = []
        self.tries: list[tuple] = []
        self.slots: dict[str, list[datetime]] = {}
        self.executed_slots: dict[str, set[datetime]] = {d: set() for d in ELIDED}
        self.after_run: list[Callable[[Outcome], None]] = []
        self.probes: list[tuple[str, datetime, dict[str, Any]]] = []
        self.before_hooks: list[Callable[[str, datetime], None]] = []
        for dag_id, dag in dags.items():
            runs = timetable_runs(dag, START, END)
            if dag_id in ELIDED:
                self.slots[dag_id] = [at for at, _ in runs]
                continue
            for at, interval_start in runs:
                self._push(at, "run", dag_id, {"interval_start": interval_start})
        self.scheduled_counts = {d: len(timetable_runs(dag, START, END)) for d, dag in dags.items()}

    def _push(self, at: datetime, kind: str, name: str, payload: Any = None) -> None:
        rank = (
            0
            if kind == "event"
            else 99
            if kind == "probe"
            else 1 + (ORDER.index(name) if name in ORDER else len(ORDER))
        )
        heapq.heappush(self.queue, _Item(at, rank, next(self.seq), kind, name, payload))

    def event(self, at: datetime, name: str, action: Callable[[], None]) -> None:
        self._push(at, "event", name, action)

    def wake(self, dag_id: str, after: datetime) -> datetime | None:
        """Run ``dag_id`` (inventory_sync / cop_upload) at its first timetable slot at or after ``after``."""
        slots = self.slots[dag_id]
        i = bisect.bisect_left(slots, after)
        if i == len(slots) or slots[i] in self.executed_slots[dag_id]:
            return None
        self.executed_slots[dag_id].add(slots[i])
        self._push(slots[i], "run", dag_id, {"interval_start": slots[i]})
        return slots[i]

    def run(self) -> None:
        while self.queue:
            item = heapq.heappop(self.queue)
            self.clock.now = item.at
            if item.kind == "event":
                item.payload()
                continue
            if item.kind == "probe":
                self._probe(item)
                continue
            self.execute(item.name, item.at, **item.payload)

    def execute(self, dag_id: str, at: datetime, **kwargs: Any) -> Outcome:
        began = time.perf_counter()
        for hook in self.before_hooks:
            hook(dag_id, at)
        extra = {"region": dag_id.rsplit("_", 1)[1].upper()} if dag_id.startswith("certificate_renewal_") else {}
        try:
            result = drivers.driver(dag_id)(at, clock=self.clock, tries=self.tries, **extra, **kwargs)
            outcome = Outcome(dag_id, at, "success", result)
        except drivers.TaskFailed as exc:
            outcome = Outcome(dag_id, at, "failed", error=str(exc))
        outcome.seconds = time.perf_counter() - began
        self.outcomes.append(outcome)
        self.on_new_outputs(at)
        for hook in self.after_run:
            hook(outcome)
        return outcome

    def elided(self, dag_id: str) -> list[datetime]:
        return [s for s in self.slots[dag_id] if s not in self.executed_slots[dag_id]]

    def schedule_probes(self, every: dict[str, int], probe: Callable[[str, datetime], dict[str, Any]]) -> None:
        """At every ``every[dag_id]``-th slot, after whatever else happens at that instant: when the slot was
        not run, ``probe`` shows what a run there would have done (it must be nothing)."""
        for dag_id, step in every.items():
            for slot in self.slots[dag_id][step // 2 :: step]:
                self._push(slot, "probe", dag_id, probe)

    def _probe(self, item: _Item) -> None:
        if item.at in self.executed_slots[item.name]:
            return
        self.probes.append((item.name, item.at, item.payload(item.name, item.at)))


def touch_new(folders: list[Path], seen: set[str], at: datetime) -> None:
    """Give entries that appeared in ``folders`` since the last call the simulated instant as file time."""
    import os

    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if str(entry) in seen:
                continue
            seen.add(str(entry))
            paths = [entry] if entry.is_file() else [Path(d) / f for d, _, fs in os.walk(entry) for f in fs]
            if entry.is_dir():
                paths += [Path(d) for d, _, _ in os.walk(entry)]
            for path in paths:
                os.utime(path, (at.timestamp(), at.timestamp()), follow_symlinks=False)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
