"""An auth manager for the UI tests: Airflow's simple auth manager with per-DAG read permissions,
as a deployment's real permission model (FAB roles, Keycloak) gives them. The console and the
reports app must ask the auth manager per DAG; this one answers like a site where

- ``outsider`` (role viewer) may read no DAG at all,
- ``sla_reader`` (role viewer) may read only ``sla_audit``,

and everyone else as the simple auth manager does. Used by ``airflow api-server`` in
``test_reports_app.py`` (``AIRFLOW__CORE__AUTH_MANAGER``)."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

READABLE = {"outsider": frozenset(), "sla_reader": frozenset({"sla_audit"})}


class RestrictedSimpleAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        allowed = READABLE.get(user.get_name())
        if allowed is not None and (details is None or details.id not in allowed):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
