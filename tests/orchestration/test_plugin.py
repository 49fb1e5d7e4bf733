"""The AirflowPlugin, found in the plugins folder, registers the maintenance-window timetable."""

from __future__ import annotations

from datetime import UTC, datetime


def test_plugin_loads_from_the_plugins_folder_without_errors() -> None:
    from airflow import plugins_manager

    timetables = plugins_manager.get_timetables_plugins()
    assert "di_ops.orchestration.timetables.MaintenanceWindowTimetable" in timetables
    assert [p["name"] for p in plugins_manager.get_plugin_info()] == ["di_ops"]
    assert plugins_manager.get_import_errors() == {}


def test_a_dag_on_the_window_timetable_round_trips_through_serialisation() -> None:
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import TimeRestriction

    from di_ops.orchestration.timetables import MaintenanceWindowTimetable
    from di_ops.rules.maintenance import next_window

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with DAG("window_dag", schedule=MaintenanceWindowTimetable("AMER"), start_date=start, catchup=True) as dag:
        pass
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert restored.timetable == MaintenanceWindowTimetable("AMER")
    info = restored.timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(earliest=start, latest=None, catchup=True)
    )
    assert info is not None
    assert info.run_after == next_window("AMER", start).start
