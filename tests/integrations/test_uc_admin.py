"""The UC admin adapter against the lab's admin API on loopback (real HTTP, real state machine)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from di_ops.integrations.uc_admin import UcAdminClient, UcAdminConfig, UcAdminError, config_from_connection
from include.lab.server import Lab, NodeSpec
from tests.conftest import free_port

METADATA = b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="idp"/>'


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    nodes = [
        NodeSpec("n1", "n1.lab.example", "sso", timedelta(days=5)),
        NodeSpec("n2", "n2.lab.example", "plain", timedelta(days=5)),
    ]
    running = Lab(nodes, {"sso": True}, state_dir=tmp_path / "lab", password="s3cret-pw").start()
    yield running
    running.stop()


def _client(lab: Lab, password: str | None = None) -> UcAdminClient:
    return UcAdminClient(UcAdminConfig(base_url=lab.admin_url, login=lab.login, password=password or lab.password))


def test_connection_extra_gives_the_endpoint_map_and_ca(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DI_UC_ADMIN", json.dumps(lab.connection()))
    config = config_from_connection()
    assert config.base_url == lab.admin_url and config.login == "di-ops"
    assert config.tls_address("n1.lab.example", 8443) == (
        "127.0.0.1",
        int(lab.endpoints["n1.lab.example:8443"].split(":")[1]),
    )
    assert config.tls_address("elsewhere.example", 8443) is None
    assert Path(config.ca_bundle or "").is_file()
    assert "s3cret-pw" not in repr(config)
    inline = lab.connection(tls_endpoints={"a.example:443": "127.0.0.1:9"})
    monkeypatch.setenv("AIRFLOW_CONN_DI_UC_ADMIN", json.dumps(inline))
    assert config_from_connection().tls_address("a.example", 443) == ("127.0.0.1", 9)


def test_renewal_is_idempotent_per_key(lab: Lab) -> None:
    before = lab.certificate("n1")
    with _client(lab) as client:
        first = client.renew_certificate("n1", idempotency_key="plan-1")
        again = client.renew_certificate("n1", idempotency_key="plan-1")
        assert client.certificate("n1")["serial"] == first["serial"]
    assert first == again and first["serial"] != before["serial"]
    assert [h["action"] for h in lab.history] == ["renew"]


def test_refusals_are_retryable_and_bad_requests_are_not(lab: Lab) -> None:
    lab.faults.refuse_renewal["n1"] = 1
    with _client(lab) as client:
        with pytest.raises(UcAdminError) as refused:
            client.renew_certificate("n1", idempotency_key="k")
        assert refused.value.status == 503 and refused.value.retryable
        assert client.renew_certificate("n1", idempotency_key="k")["node_id"] == "n1"
        with pytest.raises(UcAdminError) as unknown:
            client.renew_certificate("nope", idempotency_key="k2")
        assert unknown.value.status == 404 and not unknown.value.retryable


def test_bad_credentials_fail_without_leaking_the_password(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with _client(lab, password="wrong-password-xyz") as client:
        with pytest.raises(UcAdminError) as denied:
            client.sso_state("sso")
    assert denied.value.status == 401 and not denied.value.retryable
    assert "wrong-password-xyz" not in str(denied.value) and "wrong-password-xyz" not in caplog.text
    assert lab.password not in caplog.text


def test_an_unreachable_admin_api_is_retryable() -> None:
    client = UcAdminClient(
        UcAdminConfig(base_url=f"http://127.0.0.1:{free_port()}", login="x", password="y", timeout=2)
    )
    with client, pytest.raises(UcAdminError) as down:
        client.certificate("n1")
    assert down.value.retryable and down.value.status is None


def test_the_sso_runbook_runs_in_order_and_out_of_order_steps_are_refused(lab: Lab) -> None:
    with _client(lab) as client:
        client.renew_certificate("n1", idempotency_key="r")
        with pytest.raises(UcAdminError) as early:
            client.sso_import_idp_metadata("sso", METADATA)  # SSO still enabled
        assert early.value.status == 409 and not early.value.retryable
        assert client.sso_disable("sso")["enabled"] is False
        with pytest.raises(UcAdminError) as skipped:
            client.sso_enable("sso")  # metadata not re-imported since the certificate changed
        assert skipped.value.status == 409 and "re-import" in str(skipped.value)
        assert client.sso_import_idp_metadata("sso", METADATA)["idp_metadata_current"] is True
        assert client.sso_enable("sso")["enabled"] is True
        assert client.sso_validate("sso")["valid"] is True
        assert client.sso_disable("sso")["enabled"] is False  # a retried step is safe
        with pytest.raises(UcAdminError) as not_configured:
            client.sso_disable("plain")
        assert not_configured.value.status == 409
