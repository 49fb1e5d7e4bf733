"""The DI lab itself: re-issued certificates are served at once; SSO refuses steps out of order; the demo fleet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from di_ops.integrations.tls_probe import probe
from include.demo.fleet import write_fleet
from include.lab.__main__ import demo_specs
from include.lab.server import Lab, NodeSpec


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    nodes = [NodeSpec("n1", "n1.lab.example", "sso", timedelta(days=3))]
    running = Lab(nodes, {"sso": True}, state_dir=tmp_path / "lab").start()
    yield running
    running.stop()


def _client(lab: Lab) -> httpx.Client:
    return httpx.Client(base_url=lab.admin_url, auth=(lab.login, lab.password))


def test_a_reissued_certificate_is_served_from_the_next_handshake(lab: Lab) -> None:
    address, _, port = lab.endpoints["n1.lab.example:8443"].rpartition(":")
    before = probe("n1.lab.example", 8443, connect_to=(address, int(port)))
    with _client(lab) as client:
        renewed = client.post("/api/v1/nodes/n1/certificate/renew", headers={"Idempotency-Key": "k"}).json()
    after = probe("n1.lab.example", 8443, connect_to=(address, int(port)))
    assert before.leaf is not None and after.leaf is not None
    assert after.leaf.serial == renewed["serial"] != before.leaf.serial
    assert after.leaf.not_after > before.leaf.not_after


def test_sso_refuses_steps_out_of_order(lab: Lab) -> None:
    with _client(lab) as client:
        assert client.post("/api/v1/nodes/n1/certificate/renew").status_code == 200
        assert client.get("/api/v1/clusters/sso/sso").json()["idp_metadata_current"] is False
        assert client.put("/api/v1/clusters/sso/sso/idp-metadata", content=b"<EntityDescriptor/>").status_code == 409
        assert client.post("/api/v1/clusters/sso/sso/disable").status_code == 200
        assert client.post("/api/v1/clusters/sso/sso/enable").status_code == 409
        assert client.post("/api/v1/clusters/sso/sso/validate").status_code == 409
        assert client.put("/api/v1/clusters/sso/sso/idp-metadata", content=b"not xml").status_code == 422
        assert client.put("/api/v1/clusters/sso/sso/idp-metadata", content=b"<EntityDescriptor/>").status_code == 200
        assert client.post("/api/v1/clusters/sso/sso/enable").status_code == 200
        assert client.post("/api/v1/clusters/sso/sso/validate").json()["valid"] is True
        assert client.post("/api/v1/clusters/sso/sso/enable", auth=("di-ops", "wrong")).status_code == 401
        faults = client.post("/lab/faults", json={"refuse_renewal": {"n1": 2}, "down": ["n1"]}).json()
        assert faults["refuse_renewal"] == {"n1": 2}
    address, _, port = lab.endpoints["n1.lab.example:8443"].rpartition(":")
    assert probe("n1.lab.example", 8443, connect_to=(address, int(port)), timeout=1).status == "unreachable"


def test_the_demo_fleet_expires_over_the_next_weeks_with_some_faults(tmp_path: Path) -> None:
    write_fleet(tmp_path)
    specs, sso = demo_specs(tmp_path)
    assert len(specs) == 99 and any(sso.values())
    days = sorted(s.expires_in.days for s in specs)
    assert days[0] < 0 and 35 <= days[-1] <= 42
    assert any(s.self_signed for s in specs) and any(s.down for s in specs)
