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


def test_a_taken_port_stops_the_lab_naming_it_and_leaves_nothing_open(tmp_path: Path) -> None:
    """A TLS range that overlaps another server's: the lab refuses to start (the sweep would probe that
    server) and names the port; the map of an earlier lab is gone, the ports it had bound are free again."""
    import socket
    import subprocess
    import sys

    from include.demo.runs import REPO
    from include.lab.ports import LabPortBusy, port_free
    from tests.conftest import free_port

    nodes = [NodeSpec(f"n{i}", f"n{i}.lab.example", "c", timedelta(days=3)) for i in range(3)]
    base = next(p for p in range(21000, 31000, 3) if all(port_free(q) for q in range(p, p + 3)))
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "endpoints.json").write_text('{"n0.lab.example:8443": "127.0.0.1:1"}')
    with socket.socket() as other:
        other.bind(("127.0.0.1", base + 2))
        other.listen()
        with pytest.raises(LabPortBusy, match=rf"TLS port of node n2 127\.0\.0\.1:{base + 2}"):
            Lab(nodes, {}, state_dir=tmp_path / "lab").start(tls_base_port=base)
        assert port_free(base) and port_free(base + 1)  # n0's and n1's listeners were closed
        assert not (tmp_path / "lab" / "endpoints.json").exists()
        write_fleet(tmp_path / "inventory")
        admin = free_port()
        with socket.socket() as taken_admin:
            taken_admin.bind(("127.0.0.1", admin))
            taken_admin.listen()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "include.lab",
                    "--inventory",
                    str(tmp_path / "inventory"),
                    "--state",
                    str(tmp_path / "state"),
                    "--admin-port",
                    str(admin),
                    "--tls-base-port",
                    "0",
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
    assert done.returncode == 1 and f"admin port 127.0.0.1:{admin}" in done.stderr and "--admin-port" in done.stderr


def test_the_lab_serves_configured_counts_per_customer(tmp_path: Path) -> None:
    nodes = [NodeSpec("n1", "n1.lab.example", "c", timedelta(days=3))]
    lab = Lab(nodes, {}, state_dir=tmp_path / "lab", capacity={"C1": {"users": 7, "devices": 9}}).start()
    try:
        with _client(lab) as client:
            answer = client.get("/api/v1/customers/C1/capacity").json()
            assert (answer["customer_id"], answer["users"], answer["devices"]) == ("C1", 7, 9)
            assert client.get("/api/v1/customers/C2/capacity").status_code == 404
            assert client.get("/api/v1/customers/C1/capacity", auth=("di-ops", "wrong")).status_code == 401
            assert client.put("/lab/capacity", json={"C2": {"users": 1}}).status_code == 422
            assert client.put("/lab/capacity", json={"C2": {"users": -1, "devices": 1}}).status_code == 422
            assert client.put("/lab/capacity", json={"C2": {"users": 1, "devices": 2}}).status_code == 200
            assert client.get("/api/v1/customers/C2/capacity").json()["devices"] == 2
    finally:
        lab.stop()


def test_the_demo_labs_counts_agree_with_the_demo_fleets_declarations(tmp_path: Path) -> None:
    """What ``make demo`` prepares (include.demo.pipelines.capacity) is what the lab serves: C009 at 95 %,
    C010 at 104 % of their declared devices; without the file the lab has no counts."""
    import csv

    from include.demo.pipelines.capacity import COUNTS_FILE, prepare
    from include.lab.__main__ import demo_counts

    write_fleet(tmp_path / "inventory")
    prepare(tmp_path)
    counts = demo_counts(tmp_path / COUNTS_FILE)
    with (tmp_path / "inventory" / "customers.csv").open() as fh:
        declared = {r["customer_id"]: r["workspace_devices"] for r in csv.DictReader(fh)}
    assert set(counts) == set(declared)
    assert counts["C009"]["devices"] / int(declared["C009"]) == 0.95
    assert counts["C010"]["devices"] / int(declared["C010"]) == 1.04
    with (tmp_path / "capacity" / "expansions.csv").open() as fh:
        assert [r["customer_id"] for r in csv.DictReader(fh)] == ["C005"]
    assert demo_counts(tmp_path / "absent.json") == {} and demo_counts(None) == {}
