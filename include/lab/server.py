"""The DI lab server: real TLS endpoints per node plus the UC admin API of ``docs/uc_admin_api.md``.

- Each node gets its own loopback TLS port presenting a real chain (leaf + intermediate) made
  by :mod:`include.lab.pki`; ``endpoints.json`` in the state folder maps the node's inventory
  ``host:port`` to that loopback address (the ``di_uc_admin`` connection extra points at it).
- ``POST /api/v1/nodes/{node_id}/certificate/renew`` re-issues the node's certificate; the TLS
  endpoint serves the new one from the next handshake. An ``Idempotency-Key`` header makes a
  repeated request return the first answer without issuing again.
- SSO per cluster is a state machine that refuses steps out of order (409): the IdP metadata
  can only be imported while SSO is disabled, and SSO can only be enabled once the metadata was
  re-imported after the last certificate change; validation needs SSO enabled.
- ``GET /api/v1/customers/{id}/capacity``: the configured users and devices given as ``capacity``.
- ``/lab/*`` (not part of the contract) injects faults, shows the call history, sets the clock and counts.
- The clock: a renewal issues a certificate valid from the lab's ``clock()`` (default: the real
  clock). A simulation sets it (``Lab.set_clock`` or ``PUT /lab/clock``) so a certificate renewed
  on a simulated day expires ``renewal_validity`` after that day.
"""

from __future__ import annotations

import json
import logging
import secrets
import selectors
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from include.lab.pki import Issued, issue_leaf, lifetime, make_ca
from include.lab.ports import bind_loopback

log = logging.getLogger(__name__)


@dataclass
class NodeSpec:
    """One node the lab serves; ``expires_in`` is measured from the lab's ``now``."""

    node_id: str
    host: str
    cluster_id: str
    expires_in: timedelta
    port: int = 8443
    self_signed: bool = False
    down: bool = False
    validity: timedelta = timedelta(days=365)


@dataclass
class SsoState:
    configured: bool
    enabled: bool
    idp_metadata_current: bool = True
    validated: bool = True
    metadata_sha256: str | None = None

    def public(self, cluster_id: str) -> dict[str, Any]:
        return {
            "cluster_id": cluster_id,
            "configured": self.configured,
            "enabled": self.enabled,
            "idp_metadata_current": self.idp_metadata_current,
            "validated": self.validated,
        }


@dataclass
class _Node:
    spec: NodeSpec
    issued: Issued
    context: ssl.SSLContext
    listener: socket.socket | None = None
    address: tuple[str, int] | None = None


class LabConflict(Exception):
    """A step the state machine refuses (HTTP 409)."""


@dataclass
class Faults:
    refuse_renewal: dict[str, int] = field(default_factory=dict)  # node_id -> refusals left
    fail_sso_validation: set[str] = field(default_factory=set)  # cluster ids


class Lab:
    """The lab's state, TLS endpoints and admin API (start() serves them on loopback)."""

    def __init__(
        self,
        nodes: list[NodeSpec],
        sso_clusters: dict[str, bool],
        *,
        state_dir: Path,
        login: str = "di-ops",
        password: str = "lab-secret",
        now: datetime | None = None,
        renewal_validity: timedelta = timedelta(days=365),
        intermediate_expires_in: timedelta = timedelta(days=3650),
        handshake_delay: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        capacity: dict[str, dict[str, int]] | None = None,
    ) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.capacity = {cid: dict(counts) for cid, counts in (capacity or {}).items()}  # id -> users, devices
        self._clock: Callable[[], datetime] | None = clock  # None: the real clock
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.login, self.password = login, password
        self.renewal_validity = renewal_validity
        self.handshake_delay = handshake_delay  # seconds before each TLS handshake: a WAN round trip stand-in
        self.root = make_ca("DI lab root CA", self.now - timedelta(days=30), self.now + timedelta(days=7300))
        self.intermediate = make_ca(
            "DI lab issuing CA", self.now - timedelta(days=30), self.now + intermediate_expires_in, issuer=self.root
        )
        self.sso = {cid: SsoState(configured=on, enabled=on) for cid, on in sso_clusters.items()}
        self.faults = Faults()
        self.history: list[dict[str, str]] = []
        self._idempotent: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._nodes: dict[str, _Node] = {}
        for spec in nodes:
            not_before, not_after = lifetime(self.now, spec.expires_in, spec.validity)
            issued = issue_leaf(spec.host, not_before, not_after, None if spec.self_signed else self.intermediate)
            self._nodes[spec.node_id] = _Node(spec=spec, issued=issued, context=self._context(spec.node_id, issued))
            self.sso.setdefault(spec.cluster_id, SsoState(configured=False, enabled=False))
        (self.state_dir / "ca.pem").write_bytes(self.root.cert_pem)
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self.admin_port: int | None = None

    # --- the clock ----------------------------------------------------------------------------

    def clock(self) -> datetime:
        """The lab's current instant: the clock it was given or set to, else the real clock (UTC)."""
        if self._clock is None:
            return datetime.now(UTC)
        moment = self._clock()
        if moment.tzinfo is None:
            raise ValueError(f"the lab clock gave {moment!r} without a time zone")
        return moment.astimezone(UTC)

    @property
    def clock_is_real(self) -> bool:
        return self._clock is None

    def set_clock(self, moment: datetime | Callable[[], datetime] | None) -> None:
        """Fix the clock at an instant (with a zone), follow a callable, or go back to the real clock (None)."""
        if isinstance(moment, datetime):
            if moment.tzinfo is None:
                raise ValueError(f"{moment!r} has no time zone")
            fixed = moment.astimezone(UTC)
            self._clock = lambda: fixed
        else:
            self._clock = moment

    # --- certificates and TLS -----------------------------------------------------------------

    def _context(self, node_id: str, issued: Issued) -> ssl.SSLContext:
        folder = self.state_dir / "nodes" / node_id
        folder.mkdir(parents=True, exist_ok=True)
        chain = issued.cert_pem
        if issued.cert.issuer != issued.cert.subject:
            chain += self.intermediate.cert_pem
        (folder / "chain.pem").write_bytes(chain)
        (folder / "key.pem").write_bytes(issued.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "chain.pem", folder / "key.pem")
        return context

    def certificate(self, node_id: str) -> dict[str, Any]:
        node = self._node(node_id)
        cert = node.issued.cert
        return {
            "node_id": node_id,
            "host": node.spec.host,
            "serial": format(cert.serial_number, "x"),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
        }

    def _node(self, node_id: str) -> _Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"unknown node {node_id!r}") from None

    def renew(self, node_id: str, idempotency_key: str | None) -> dict[str, Any]:
        """Re-issue ``node_id``'s certificate (once per idempotency key); raises RuntimeError when refusing."""
        with self._lock:
            node = self._node(node_id)
            if idempotency_key and idempotency_key in self._idempotent:
                return self._idempotent[idempotency_key]
            left = self.faults.refuse_renewal.get(node_id, 0)
            if left > 0:
                self.faults.refuse_renewal[node_id] = left - 1
                self.history.append({"action": "renew_refused", "target": node_id})
                raise RuntimeError("certificate authority busy (lab fault): try again later")
            now = self.clock().replace(microsecond=0)
            issued = issue_leaf(
                node.spec.host, now - timedelta(minutes=1), now + self.renewal_validity, self.intermediate
            )
            node.issued = issued
            node.context = self._context(node_id, issued)
            sso = self.sso[node.spec.cluster_id]
            if sso.configured:  # the SP certificate changed: the IdP trust must be re-established
                sso.idp_metadata_current = False
                sso.validated = False
            result = self.certificate(node_id)
            if idempotency_key:
                self._idempotent[idempotency_key] = result
            self.history.append({"action": "renew", "target": node_id})
            return result

    def _open(self, node: _Node, port: int) -> None:
        listener = bind_loopback(port, f"TLS port of node {node.spec.node_id}")
        listener.listen(16)
        listener.setblocking(False)
        node.listener = listener
        node.address = listener.getsockname()
        self._selector.register(listener, selectors.EVENT_READ, node.spec.node_id)

    def take_down(self, node_id: str) -> None:
        """Close the node's TLS port: connections are refused from now on."""
        with self._lock:
            node = self._node(node_id)
            node.spec.down = True
            if node.listener is not None:
                self._selector.unregister(node.listener)
                node.listener.close()
                node.listener = None

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                try:
                    conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                except OSError:
                    continue
                node = self._nodes[key.data]
                threading.Thread(
                    target=self._serve_one, args=(conn, node.context, self.handshake_delay), daemon=True
                ).start()

    @staticmethod
    def _serve_one(conn: socket.socket, context: ssl.SSLContext, delay: float) -> None:
        if delay:
            threading.Event().wait(delay)
        conn.setblocking(True)
        conn.settimeout(5)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                try:
                    tls.recv(4096)
                except (OSError, ssl.SSLError):
                    pass
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    @property
    def endpoints(self) -> dict[str, str]:
        """``inventory host:port`` -> ``127.0.0.1:<lab port>`` for every node the lab serves."""
        out = {}
        for node in self._nodes.values():
            if node.address is not None or node.spec.down:
                port = node.address[1] if node.address else 0
                out[f"{node.spec.host}:{node.spec.port}"] = f"127.0.0.1:{port}"
        return out

    # --- SSO state machine --------------------------------------------------------------------

    def sso_step(self, cluster_id: str, step: str, body: bytes = b"") -> dict[str, Any]:
        with self._lock:
            if cluster_id not in self.sso:
                raise KeyError(f"unknown cluster {cluster_id!r}")
            state = self.sso[cluster_id]
            try:
                result = self._sso_step(cluster_id, state, step, body)
            except LabConflict:
                self.history.append({"action": f"sso_{step}_refused", "target": cluster_id})
                raise
            self.history.append({"action": f"sso_{step}", "target": cluster_id})
            return result

    def _sso_step(self, cluster_id: str, state: SsoState, step: str, body: bytes) -> dict[str, Any]:
        import hashlib

        if not state.configured:
            raise LabConflict(f"SSO is not configured on cluster {cluster_id}")
        if step == "disable":
            state.enabled = False
            state.validated = False
        elif step == "import":
            if state.enabled:
                raise LabConflict("disable SSO before re-importing the IdP metadata")
            if b"EntityDescriptor" not in body:
                raise ValueError("the body is not SAML IdP metadata (no EntityDescriptor)")
            state.idp_metadata_current = True
            state.metadata_sha256 = hashlib.sha256(body).hexdigest()
        elif step == "enable":
            if not state.idp_metadata_current:
                raise LabConflict("re-import the IdP metadata after the certificate change before enabling SSO")
            state.enabled = True
        elif step == "validate":
            if not state.enabled:
                raise LabConflict("SSO is disabled; enable it before validating")
            if cluster_id in self.faults.fail_sso_validation:
                state.validated = False
                return {**state.public(cluster_id), "valid": False, "detail": "SSO test failed: IdP rejected the SP"}
            state.validated = True
            return {**state.public(cluster_id), "valid": True, "detail": "SSO test passed"}
        else:
            raise KeyError(f"unknown SSO step {step!r}")
        return state.public(cluster_id)

    # --- serving ------------------------------------------------------------------------------

    def start(self, admin_port: int = 0, tls_base_port: int = 0, *, access_log: bool = False) -> Lab:
        """Node ``i`` (node-id order) on ``tls_base_port + i``, the admin API on ``admin_port`` (0: any free).

        A taken port raises ``include.lab.ports.LabPortBusy`` naming it, nothing left open; ``endpoints.json``
        is only there once all listen (a stale map would point the sweep at another server).
        """
        (self.state_dir / "endpoints.json").unlink(missing_ok=True)
        try:
            for i, node in enumerate(sorted(self._nodes.values(), key=lambda n: n.spec.node_id)):
                if not node.spec.down:
                    self._open(node, tls_base_port + i if tls_base_port else 0)
            admin = bind_loopback(admin_port, "admin port")
        except OSError:
            self.stop()
            raise
        accept = threading.Thread(target=self._accept_loop, name="lab-tls", daemon=True)
        accept.start()
        self._threads.append(accept)
        self._start_admin(admin, access_log)
        (self.state_dir / "endpoints.json").write_text(json.dumps(self.endpoints, indent=1, sort_keys=True))
        return self

    def _start_admin(self, sock: socket.socket, access_log: bool) -> None:
        import uvicorn

        from include.lab.api import build_app

        self.admin_port = sock.getsockname()[1]
        config = uvicorn.Config(build_app(self), log_level="info" if access_log else "warning", access_log=access_log)
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="lab-admin", daemon=True)
        thread.start()
        self._threads.append(thread)
        for _ in range(200):
            if self._server.started:
                return
            threading.Event().wait(0.025)
        raise RuntimeError("the lab admin API did not start")

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def connection(self, **extra: Any) -> dict[str, Any]:
        """The ``di_uc_admin`` Airflow connection (JSON form) that points at this lab."""
        return {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": self.admin_port,
            "schema": "http",
            "login": self.login,
            "password": self.password,
            "extra": {
                "tls_endpoints": str(self.state_dir / "endpoints.json"),
                "ca_bundle": str(self.state_dir / "ca.pem"),
                **extra,
            },
        }

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=5)
        for node in self._nodes.values():
            if node.listener is not None:
                node.listener.close()
        self._selector.close()

    def check_login(self, login: str, password: str) -> bool:
        return secrets.compare_digest(login.encode(), self.login.encode()) and secrets.compare_digest(
            password.encode(), self.password.encode()
        )
