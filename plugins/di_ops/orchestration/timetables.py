"""Airflow timetables built on the domain rules.

``MaintenanceWindowTimetable`` runs a DAG at each maintenance-window opening of
a region (DOMAIN.md §1): 21:00 local civil time, weekday openings only unless
``allow_weekend``. The run's data interval is the window, ``[start, end)`` in
UTC; the run is created at the window's opening (``run_after`` = start), so the
DAG works inside the window it is about.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import DateTime

from di_ops.core.settings import regions_config
from di_ops.rules.common import normalise_region, region_zone
from di_ops.rules.maintenance import Window, next_window, window_at, windows_between

_SMALLEST_STEP = timedelta(microseconds=1)


def _to_pendulum(value: datetime) -> DateTime:
    return pendulum.instance(value.astimezone(UTC))


class MaintenanceWindowTimetable(Timetable):
    """One DAG run per maintenance window of ``region`` (DOMAIN.md §1).

    ``allow_weekend=False`` (default): only windows opening Monday-Friday (the
    ones for planned changes); ``True``: every window, weekend included
    (operator infrastructure, emergencies).
    """

    def __init__(self, region: str, allow_weekend: bool = False) -> None:
        self.region = normalise_region(region)
        self.allow_weekend = bool(allow_weekend)
        settings = regions_config().maintenance_window
        days = "every day" if self.allow_weekend else "openings on " + "/".join(settings.change_days)
        self.description = (
            f"Maintenance windows of {self.region}: {settings.opens:%H:%M}-{settings.closes:%H:%M} "
            f"local time ({region_zone(self.region).key}), {days}"
        )

    # --- identity ------------------------------------------------------------------------------

    @property
    def summary(self) -> str:
        kind = "all windows" if self.allow_weekend else "weekday windows"
        return f"{self.region} maintenance ({kind})"

    def serialize(self) -> dict[str, Any]:
        return {"region": self.region, "allow_weekend": self.allow_weekend}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MaintenanceWindowTimetable:
        return cls(region=str(data["region"]), allow_weekend=bool(data.get("allow_weekend", False)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaintenanceWindowTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.region, self.allow_weekend))

    def __repr__(self) -> str:
        return f"MaintenanceWindowTimetable(region={self.region!r}, allow_weekend={self.allow_weekend!r})"

    # --- scheduling ----------------------------------------------------------------------------

    def _interval(self, window: Window) -> DataInterval:
        return DataInterval(start=_to_pendulum(window.start), end=_to_pendulum(window.end))

    def _run(self, window: Window) -> DagRunInfo:
        interval = self._interval(window)
        return DagRunInfo(run_after=interval.start, data_interval=interval)

    def _usable(self, window: Window | None) -> bool:
        return window is not None and (self.allow_weekend or not window.weekend)

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """A manual run covers the window open at ``run_after``, else the latest one before it."""
        current = window_at(self.region, run_after)
        if current is not None and self._usable(current):
            return self._interval(current)
        # Weekday windows are at most three days apart (Fri -> Mon); look back a week to be safe.
        earlier = windows_between(
            self.region, run_after - timedelta(days=8), run_after, allow_weekend=self.allow_weekend
        )
        return self._interval(earlier[-1])

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        """The next window opening after the last run, within ``restriction``.

        Without catchup the first candidate is the window open now (if any; its
        run is still useful) or else the next one: missed windows are skipped.
        A DAG without ``start_date`` is scheduled from when the scheduler first
        asks (as Airflow's cron timetables do): the window open then, or the next.
        """
        candidates: list[datetime] = []
        if last_automated_data_interval is not None:
            candidates.append(last_automated_data_interval.start + _SMALLEST_STEP)
        if restriction.earliest is not None:
            candidates.append(restriction.earliest)
        if not restriction.catchup or not candidates:
            now = pendulum.now("UTC")
            current = window_at(self.region, now)
            candidates.append(current.start if current is not None and self._usable(current) else now)
        lower_bound = max(value.astimezone(UTC) for value in candidates)
        window = next_window(self.region, lower_bound, allow_weekend=self.allow_weekend)
        if restriction.latest is not None and window.start.astimezone(UTC) > restriction.latest.astimezone(UTC):
            return None
        return self._run(window)
