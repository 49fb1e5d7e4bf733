"""The project's AirflowPlugin: registers only what Airflow must see (timetables)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from di_ops.timetables import MaintenanceWindowTimetable


class DiOpsPlugin(AirflowPlugin):
    name = "di_ops"
    timetables = [MaintenanceWindowTimetable]
