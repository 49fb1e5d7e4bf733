"""TLS probing of UC nodes: the presented chain, the leaf's facts and the earliest expiry in the chain.

Source: DOMAIN.md §4 and docs/pipelines/certificates.md. pyOpenSSL (``OpenSSL.SSL``) does the
handshake with verification off (an expired or self-signed certificate must still be read) and
gives the chain exactly as presented, leaf first (``Connection.get_peer_cert_chain``; Python's
``ssl`` has no public call for it before 3.13), see :func:`presented_chain`. Trust is then judged
separately with ``cryptography``'s verifier against the configured CA bundle. Every failure
becomes a :class:`ProbeResult` with the error; nothing raises.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ProbeStatus = Literal["ok", "untrusted", "unreachable", "handshake_failed", "unreadable"]
Trust = Literal["trusted", "self_signed", "unknown_issuer", "invalid_chain", "not_checked"]


class CertFacts(BaseModel):
    """The leaf certificate's facts, as recorded per node."""

    model_config = ConfigDict(frozen=True)
    subject: str
    sans: list[str]
    issuer: str
    serial: str  # lower-case hex
    not_before: datetime
    not_after: datetime
    self_signed: bool


class ProbeResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    host: str
    port: int
    address: str  # where it connected (host:port), after the endpoint map
    source: Literal["tls", "pem"] = "tls"
    status: ProbeStatus
    error: str | None = None
    leaf: CertFacts | None = None
    chain_length: int = 0
    chain_earliest_not_after: datetime | None = None
    trust: Trust = "not_checked"


def open_tls(raw: socket.socket, host: str, timeout: float) -> Any:
    """Handshake as a client on the connected ``raw`` socket, verification off, SNI ``host`` (not
    for an IP literal, like Python's ``ssl``); returns the ``OpenSSL.SSL.Connection``.

    The whole handshake must finish within ``timeout`` seconds (``TimeoutError``, an OSError);
    a refused or broken handshake raises ``OpenSSL.SSL.Error``.
    """
    from OpenSSL import SSL

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    conn = SSL.Connection(context, raw)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        conn.set_tlsext_host_name(host.encode("idna"))
    conn.set_connect_state()
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.do_handshake()
            return conn
        except SSL.WantReadError:  # a socket with a timeout is non-blocking underneath
            _wait(raw, deadline, reading=True)
        except SSL.WantWriteError:
            _wait(raw, deadline, reading=False)


def _wait(raw: socket.socket, deadline: float, *, reading: bool) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    readable, writable, _ = select.select([raw] if reading else [], [] if reading else [raw], [], left)
    if not readable and not writable:
        raise TimeoutError("timed out")


def presented_chain(conn: Any) -> list[bytes]:
    """DER bytes of every certificate the peer presented on the ``OpenSSL.SSL.Connection``, leaf first."""
    from cryptography.hazmat.primitives.serialization import Encoding

    chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    return [cert.public_bytes(Encoding.DER) for cert in chain]


def _name(name: object) -> str:
    return name.rfc4514_string()  # type: ignore[attr-defined]


def cert_facts(der_or_cert: object) -> CertFacts:
    from cryptography import x509

    cert = der_or_cert if isinstance(der_or_cert, x509.Certificate) else x509.load_der_x509_certificate(der_or_cert)  # type: ignore[arg-type]
    try:
        san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(v) for v in san_ext.get_values_for_type(x509.DNSName)] + [
            str(v) for v in san_ext.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        sans = []
    return CertFacts(
        subject=_name(cert.subject),
        sans=sans,
        issuer=_name(cert.issuer),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.issuer == cert.subject and _signed_by(cert, cert),
    )


def _signed_by(cert: object, issuer: object) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)  # type: ignore[attr-defined]
        return True
    except Exception:
        return False


def load_trust_store(ca_bundle: str | Path | None) -> list[object]:
    """CA certificates to trust: the PEM bundle given, else the system default bundle."""
    from cryptography import x509

    path = Path(ca_bundle) if ca_bundle else None
    if path is None:
        default = ssl.get_default_verify_paths()
        path = Path(default.cafile or default.openssl_cafile or "/etc/ssl/certs/ca-certificates.crt")
    if not path.is_file():
        return []
    return list(x509.load_pem_x509_certificates(path.read_bytes()))


def judge_trust(host: str, chain: Sequence[object], trust_store: Sequence[object] | None) -> tuple[Trust, str | None]:
    """Is the presented chain anchored in ``trust_store``? Expiry is ignored here (it is planned, not a trust fault)."""
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    if not chain:
        return "invalid_chain", "no certificate presented"
    leaf = chain[0]
    if leaf.issuer == leaf.subject and _signed_by(leaf, leaf):  # type: ignore[attr-defined]
        return "self_signed", f"self-signed certificate ({_name(leaf.subject)})"  # type: ignore[attr-defined]
    if trust_store is None:
        return "not_checked", None
    if not trust_store:
        return "unknown_issuer", "no trusted CA certificates configured"
    # Verify at an instant inside every presented certificate's validity, so an expired or
    # not-yet-valid certificate is judged on its issuer only (expiry is the planner's business).
    moments = [c.not_valid_before_utc for c in chain] + [c.not_valid_after_utc for c in chain]  # type: ignore[attr-defined]
    at = max(moments[: len(chain)]) + timedelta(seconds=1)
    if at >= min(moments[len(chain) :]):
        at = leaf.not_valid_before_utc + timedelta(seconds=1)  # type: ignore[attr-defined]
    try:
        verifier = PolicyBuilder().store(Store(list(trust_store))).time(at).build_server_verifier(x509.DNSName(host))  # type: ignore[arg-type]
        verifier.verify(leaf, list(chain[1:]))  # type: ignore[arg-type]
    except VerificationError as exc:
        text = str(exc)
        kind: Trust = "unknown_issuer" if "issuer" in text.lower() or "candidate" in text.lower() else "invalid_chain"
        return kind, f"{kind.replace('_', ' ')}: {text}"
    except ValueError as exc:
        return "invalid_chain", f"invalid chain: {exc}"
    return "trusted", None


def _summarise(
    host: str,
    port: int,
    address: str,
    ders: Sequence[bytes] | None,
    certs: Sequence[object] | None,
    trust_store: Sequence[object] | None,
    source: Literal["tls", "pem"],
) -> ProbeResult:
    from cryptography import x509

    chain = list(certs) if certs is not None else [x509.load_der_x509_certificate(d) for d in ders or []]
    if not chain:
        return ProbeResult(
            host=host, port=port, address=address, source=source, status="unreadable", error="no certificate presented"
        )
    trust, problem = judge_trust(host, chain, trust_store)
    return ProbeResult(
        host=host,
        port=port,
        address=address,
        source=source,
        status="ok" if trust in ("trusted", "not_checked") else "untrusted",
        error=problem,
        leaf=cert_facts(chain[0]),
        chain_length=len(chain),
        chain_earliest_not_after=min(c.not_valid_after_utc for c in chain),  # type: ignore[attr-defined]
        trust=trust,
    )


def probe(
    host: str,
    port: int,
    *,
    connect_to: tuple[str, int] | None = None,
    timeout: float = 5.0,
    trust_store: Sequence[object] | None = None,
) -> ProbeResult:
    """Handshake with ``host:port`` (or ``connect_to``, sending ``host`` as SNI) and read what it presents.

    Never raises: an unreachable node, a failed handshake or an untrusted chain is a result.
    """
    from OpenSSL import SSL

    target = connect_to or (host, port)
    address = f"{target[0]}:{target[1]}"
    try:
        raw = socket.create_connection(target, timeout=timeout)
    except OSError as exc:
        return ProbeResult(
            host=host, port=port, address=address, status="unreachable", error=f"unreachable: {exc.strerror or exc}"
        )
    try:
        ders = presented_chain(open_tls(raw, host, timeout))
    except (SSL.Error, OSError, UnicodeError) as exc:  # UnicodeError: a name that is no IDNA host name
        return ProbeResult(
            host=host, port=port, address=address, status="handshake_failed", error=f"TLS handshake failed: {exc}"
        )
    finally:
        raw.close()
    try:
        return _summarise(host, port, address, ders, None, trust_store, "tls")
    except ValueError as exc:
        return ProbeResult(host=host, port=port, address=address, status="unreadable", error=f"bad certificate: {exc}")


def read_pem(path: Path, host: str, port: int, *, trust_store: Sequence[object] | None = None) -> ProbeResult:
    """The second source: a PEM file holding the node's certificate (leaf first, chain optional)."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        return ProbeResult(
            host=host,
            port=port,
            address=str(path),
            source="pem",
            status="unreadable",
            error=f"unreadable PEM {path.name}: {exc}",
        )
    return _summarise(host, port, str(path), None, certs, trust_store, "pem")


def probe_many(
    targets: Iterable[tuple[str, int, tuple[str, int] | None]],
    *,
    timeout: float = 5.0,
    trust_store: Sequence[object] | None = None,
    workers: int = 16,
) -> list[ProbeResult]:
    """Probe every ``(host, port, connect_to)`` concurrently; results in input order."""
    items = list(targets)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        return list(
            pool.map(lambda t: probe(t[0], t[1], connect_to=t[2], timeout=timeout, trust_store=trust_store), items)
        )
