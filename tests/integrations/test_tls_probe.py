"""The TLS probe against real TLS endpoints on loopback (the lab), real certificates."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from di_ops.integrations.tls_probe import load_trust_store, open_tls, presented_chain, probe, probe_many, read_pem
from include.lab.pki import make_ca
from include.lab.server import Lab, NodeSpec
from tests.conftest import free_port

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    nodes = [
        NodeSpec("ok", "ok.lab.example", "c1", timedelta(days=30)),
        NodeSpec("expired", "expired.lab.example", "c1", timedelta(days=-2)),
        NodeSpec("selfsigned", "self.lab.example", "c1", timedelta(days=30), self_signed=True),
        NodeSpec("down", "down.lab.example", "c1", timedelta(days=30), down=True),
    ]
    # The issuing CA expires in 20 days: before the 30-day leaf, so the chain's earliest expiry is the CA's.
    running = Lab(
        nodes, {}, state_dir=tmp_path_factory.mktemp("lab"), now=NOW, intermediate_expires_in=timedelta(days=20)
    )
    running.start()
    yield running
    running.stop()


def _addr(lab: Lab, host: str) -> tuple[str, int]:
    address, _, port = lab.endpoints[f"{host}:8443"].rpartition(":")
    return address, int(port)


def test_presented_chain_holds_leaf_and_intermediate(lab: Lab) -> None:
    from cryptography import x509
    from OpenSSL import SSL

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)  # verification off: pyOpenSSL's default
    with socket.create_connection(_addr(lab, "ok.lab.example")) as raw:
        raw.settimeout(None)  # blocking: the handshake below needs no retry loop
        tls = SSL.Connection(context, raw)
        tls.set_tlsext_host_name(b"ok.lab.example")
        tls.set_connect_state()
        tls.do_handshake()
        chain = [x509.load_der_x509_certificate(d) for d in presented_chain(tls)]
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=ok.lab.example,O=DI lab",
        "CN=DI lab issuing CA,O=DI lab",
    ]


@pytest.mark.parametrize(("host", "sni"), [("ok.lab.example", "ok.lab.example"), ("127.0.0.1", None)])
def test_open_tls_sends_the_host_name_as_sni_but_not_an_address(lab: Lab, host: str, sni: str | None) -> None:
    """A server that records the SNI it was sent (Python's ``ssl`` also sends none for an IP literal)."""
    import ssl

    from cryptography import x509

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    node = lab.state_dir / "nodes" / "ok"
    context.load_cert_chain(node / "chain.pem", node / "key.pem")
    seen: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)  # type: ignore[assignment,func-returns-value]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with socket.create_connection(server.getsockname(), timeout=5) as raw:
        chain = [x509.load_der_x509_certificate(d) for d in presented_chain(open_tls(raw, host, 5))]
    thread.join(5)
    server.close()
    assert seen == [sni]
    assert chain[0].subject.rfc4514_string() == "CN=ok.lab.example,O=DI lab" and len(chain) == 2


def test_a_handshake_that_never_finishes_costs_the_timeout_not_more() -> None:
    silent = socket.socket()  # accepts (the kernel's backlog) but never answers the ClientHello
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    started = time.monotonic()
    result = probe("silent.example", 443, connect_to=silent.getsockname(), timeout=0.5)
    elapsed = time.monotonic() - started
    silent.close()
    assert result.status == "handshake_failed" and "timed out" in (result.error or "")
    assert 0.4 < elapsed < 3


def test_probe_reads_the_leaf_and_the_chain_earliest_expiry(lab: Lab) -> None:
    result = probe(
        "ok.lab.example",
        8443,
        connect_to=_addr(lab, "ok.lab.example"),
        trust_store=load_trust_store(lab.state_dir / "ca.pem"),
    )
    assert result.status == "ok" and result.trust == "trusted" and result.error is None
    assert result.leaf is not None
    assert result.leaf.serial == lab.certificate("ok")["serial"]
    assert result.leaf.not_after == NOW + timedelta(days=30)
    assert result.leaf.sans == ["ok.lab.example"]
    assert result.leaf.issuer == "CN=DI lab issuing CA,O=DI lab"
    assert result.chain_length == 2
    assert result.chain_earliest_not_after == NOW + timedelta(days=20)


def test_an_expired_certificate_is_still_read_and_trusted(lab: Lab) -> None:
    result = probe(
        "expired.lab.example",
        8443,
        connect_to=_addr(lab, "expired.lab.example"),
        trust_store=load_trust_store(lab.state_dir / "ca.pem"),
    )
    assert result.trust == "trusted"
    assert result.leaf is not None and result.leaf.not_after == NOW - timedelta(days=2)


def test_self_signed_and_unknown_issuer_are_recorded(lab: Lab) -> None:
    store = load_trust_store(lab.state_dir / "ca.pem")
    selfsigned = probe("self.lab.example", 8443, connect_to=_addr(lab, "self.lab.example"), trust_store=store)
    assert (selfsigned.status, selfsigned.trust) == ("untrusted", "self_signed")
    assert selfsigned.leaf is not None and selfsigned.leaf.self_signed
    other_ca = make_ca("some other CA", NOW - timedelta(days=1), NOW + timedelta(days=9))
    unknown = probe("ok.lab.example", 8443, connect_to=_addr(lab, "ok.lab.example"), trust_store=[other_ca.cert])
    assert (unknown.status, unknown.trust) == ("untrusted", "unknown_issuer")
    assert unknown.leaf is not None  # the certificate is still known and can be planned


def test_unreachable_and_failed_handshakes_are_results_not_crashes(lab: Lab) -> None:
    down = probe("down.lab.example", 8443, connect_to=_addr(lab, "down.lab.example"), timeout=2)
    assert down.status == "unreachable" and "refused" in (down.error or "").lower()

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def not_tls() -> None:
        conn, _ = server.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" * 20)
        conn.close()

    threading.Thread(target=not_tls, daemon=True).start()
    failed = probe("plain.example", 22, connect_to=server.getsockname(), timeout=2)
    server.close()
    assert failed.status == "handshake_failed" and failed.leaf is None


def test_probe_many_keeps_input_order(lab: Lab) -> None:
    targets = [(h, 8443, _addr(lab, h)) for h in ("down.lab.example", "ok.lab.example", "self.lab.example")]
    results = probe_many(targets, timeout=2, workers=3)
    assert [r.host for r in results] == [t[0] for t in targets]
    # without a trust store the issuer is not checked, but a self-signed leaf is still recognised
    assert [(r.status, r.trust) for r in results] == [
        ("unreachable", "not_checked"),
        ("ok", "not_checked"),
        ("untrusted", "self_signed"),
    ]


def test_pem_files_are_a_second_source(lab: Lab, tmp_path: Path) -> None:
    chain = lab.state_dir / "nodes" / "ok" / "chain.pem"
    result = read_pem(chain, "ok.lab.example", 8443, trust_store=load_trust_store(lab.state_dir / "ca.pem"))
    assert result.source == "pem" and result.trust == "trusted" and result.chain_length == 2
    assert result.leaf is not None and result.leaf.serial == lab.certificate("ok")["serial"]
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    assert read_pem(bad, "x", 1).status == "unreadable"


def test_nothing_listens_on_a_free_port() -> None:
    result = probe("gone.example", 8443, connect_to=("127.0.0.1", free_port()), timeout=1)
    assert result.status == "unreachable" and result.address.startswith("127.0.0.1:")
