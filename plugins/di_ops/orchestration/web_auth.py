"""Airflow's login and permissions for the project's FastAPI apps (reports, console).

A plugin's FastAPI app is mounted *without* Airflow's authentication, so the apps check the
Airflow JWT themselves, exactly as the core API does (``airflow.api_fastapi.core_api.security``):
the ``Authorization: Bearer`` header wins, else the UI's ``_token`` cookie; the token is
validated by the configured auth manager (signature, expiry, revocation). Anonymous → 401,
invalid token → 403; what a user may read is the auth manager's answer per DAG.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status

COOKIE_NAME = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME) or None


async def airflow_user(request: Request) -> Any:
    """The Airflow user of the request; 401 without a token, 401/403 for an expired/invalid one."""
    from airflow.api_fastapi.app import get_auth_manager
    from jwt import ExpiredSignatureError, InvalidTokenError

    token = request_token(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated: log in to Airflow first")
    try:
        return await get_auth_manager().get_user_from_token(token)
    except ExpiredSignatureError:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Token expired: log in to Airflow again") from None
    except InvalidTokenError:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Invalid JWT token") from None


def may_read(user: Any, dag_id: str) -> bool:
    """Whether ``user`` may read the DAG ``dag_id`` (the auth manager decides)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user))


async def reader_of(request: Request, dag_id: str) -> Any:
    """The Airflow user of the request, allowed to read ``dag_id``; 401/403 otherwise."""
    user = await airflow_user(request)
    if not may_read(user, dag_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Not allowed to read the {dag_id} DAG")
    return user
