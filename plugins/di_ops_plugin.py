"""The project's AirflowPlugin: registers only what Airflow must see (timetables, deadline references,
the listeners that resolve an ended run's deadlines and set its note, the SLA reports view and the operations console)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from di_ops.orchestration import deadline_listener, run_notes
from di_ops.orchestration.console.app import URL_PREFIX as CONSOLE_PREFIX
from di_ops.orchestration.console.app import app as console_app
from di_ops.orchestration.deadlines import REFERENCES
from di_ops.orchestration.reports_app import URL_PREFIX
from di_ops.orchestration.reports_app import app as sla_reports_app
from di_ops.orchestration.timetables import MaintenanceWindowTimetable


class DiOpsPlugin(AirflowPlugin):
    name = "di_ops"
    timetables = [MaintenanceWindowTimetable]
    deadline_references = list(REFERENCES)
    # A failed run (or one marked success/failed by hand) never leaves its deadline Pending;
    # an ended run carries the note its tasks left (a Reject, a refusal).
    listeners = [deadline_listener, run_notes]
    # The SLA reports app checks the Airflow login itself (di_ops.orchestration.reports_app.require_reader).
    # The operations console (di_ops.orchestration.console.app) checks the same login and reads.
    fastapi_apps = [
        {"app": sla_reports_app, "url_prefix": URL_PREFIX, "name": "SLA reports"},
        {"app": console_app, "url_prefix": CONSOLE_PREFIX, "name": "di-ops console"},
    ]
    external_views = [
        {
            "name": "Change calendar",
            "href": f"{CONSOLE_PREFIX}/calendar",
            "destination": "nav",
            "category": "di-ops",
            "url_route": "di-ops-calendar",
        },
        {
            "name": "Customers",
            "href": f"{CONSOLE_PREFIX}/customers",
            "destination": "nav",
            "category": "di-ops",
            "url_route": "di-ops-customers",
        },
        {
            "name": "Reports",
            "href": f"{CONSOLE_PREFIX}/reports",
            "destination": "nav",
            "category": "di-ops",
            "url_route": "di-ops-reports",
        },
        # a tab on every DAG run: the run's reports and what it left in the ops DB
        {
            "name": "Reports",
            "href": CONSOLE_PREFIX + "/reports/runs/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "di-ops-run-reports",
        },
        {
            "name": "SLA reports",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "sla-reports",
        },
    ]
