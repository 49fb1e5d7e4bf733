"""The UC admin adapter: certificate renewal, the SSO runbook and capacity counts over ``docs/uc_admin_api.md``.

Credentials come from the Airflow connection ``di_uc_admin`` (type ``http``: host, port,
schema ``http``/``https``, login, password). Its ``extra`` may hold:

- ``tls_endpoints``: where to reach each node's TLS endpoint when the inventory host is not
  resolvable from the worker (the lab, a jump host): a dict ``{"host:port": "addr:port"}`` or
  the path of a JSON file holding one; the node's host is still sent as SNI;
- ``ca_bundle``: PEM file of the CAs that issue the nodes' certificates (trust check of the probe);
- ``verify`` (bool, default true) and ``timeout`` (seconds, default 10) for the admin API itself.

Nothing secret is logged: the password only travels in the Authorization header, and errors
carry the method, path, status and the server's ``detail`` text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

UC_ADMIN_CONN_ID = "di_uc_admin"
SSO_STEPS = ("disable", "import_idp_metadata", "enable", "validate")


class UcAdminError(Exception):
    """The admin API answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class UcAdminConfig:
    base_url: str
    login: str
    password: str = field(repr=False)
    verify: bool = True
    timeout: float = 10.0
    tls_endpoints: dict[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None

    def tls_address(self, host: str, port: int) -> tuple[str, int] | None:
        """The address to connect to for ``host:port`` (None: connect to the host itself)."""
        mapped = self.tls_endpoints.get(f"{host}:{port}")
        if not mapped:
            return None
        addr, _, mapped_port = mapped.rpartition(":")
        return addr, int(mapped_port)


def _endpoint_map(value: Any) -> dict[str, str]:
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    path = Path(str(value))
    try:
        return {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    except FileNotFoundError:
        log.warning("tls_endpoints file %s does not exist; probing the inventory hosts directly", path)
        return {}


def config_from_connection(conn_id: str = UC_ADMIN_CONN_ID) -> UcAdminConfig:
    """Read the ``di_uc_admin`` Airflow connection (inside a task, never at parse time)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson
    scheme = conn.schema or "https"
    port = f":{conn.port}" if conn.port else ""
    return UcAdminConfig(
        base_url=f"{scheme}://{conn.host}{port}",
        login=conn.login or "",
        password=conn.password or "",
        verify=bool(extra.get("verify", True)),
        timeout=float(extra.get("timeout", 10)),
        tls_endpoints=_endpoint_map(extra.get("tls_endpoints")),
        ca_bundle=extra.get("ca_bundle"),
    )


class UcAdminClient:
    """One client per task; use as a context manager."""

    def __init__(self, config: UcAdminConfig) -> None:
        import httpx

        self.config = config
        self._http = httpx.Client(
            base_url=config.base_url,
            auth=httpx.BasicAuth(config.login, config.password),
            verify=config.verify,
            timeout=config.timeout,
        )

    def __enter__(self) -> UcAdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise UcAdminError(
                f"{method} {path}: admin API unreachable ({type(exc).__name__})", retryable=True
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            status = response.status_code
            raise UcAdminError(
                f"{method} {path}: HTTP {status}: {str(detail)[:300]}",
                status=status,
                # 5xx and 429 are transient; 4xx (bad credentials, unknown node, out-of-order step) are not
                retryable=status >= 500 or status == 429,
            )
        return dict(response.json())

    # --- certificates ---------------------------------------------------------------------------

    def certificate(self, node_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/nodes/{node_id}/certificate")

    def renew_certificate(self, node_id: str, idempotency_key: str) -> dict[str, Any]:
        """Ask the node to re-issue its certificate; the same key never issues twice."""
        return self._call(
            "POST", f"/api/v1/nodes/{node_id}/certificate/renew", headers={"Idempotency-Key": idempotency_key}
        )

    # --- SSO runbook (DOMAIN.md §4: disable -> re-import IdP metadata -> enable -> validate) ---------

    def sso_state(self, cluster_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/clusters/{cluster_id}/sso")

    def sso_disable(self, cluster_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/clusters/{cluster_id}/sso/disable")

    def sso_import_idp_metadata(self, cluster_id: str, metadata: bytes) -> dict[str, Any]:
        return self._call(
            "PUT",
            f"/api/v1/clusters/{cluster_id}/sso/idp-metadata",
            content=metadata,
            headers={"Content-Type": "application/samlmetadata+xml"},
        )

    def sso_enable(self, cluster_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/clusters/{cluster_id}/sso/enable")

    def sso_validate(self, cluster_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/clusters/{cluster_id}/sso/validate")

    # --- capacity (DOMAIN.md §8: configured users and devices per customer) -----------------------

    def capacity(self, customer_id: str) -> dict[str, Any]:
        """``{"customer_id", "users", "devices", "counted_at"}``; a customer the API does not know is a 404."""
        return self._call("GET", f"/api/v1/customers/{customer_id}/capacity")
