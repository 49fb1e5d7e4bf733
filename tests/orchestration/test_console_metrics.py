"""The metrics route: the gauges in Prometheus' text format, parsed back by prometheus_client's own
parser, and the token mode of console.yaml (the login mode runs inside the api-server test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from di_ops.orchestration.console.metrics import exposition
from tests.orchestration.console_data import AS_OF, seed, seed_customer_facts


def _families(body: bytes) -> dict[str, list]:  # type: ignore[type-arg]
    return {f.name: f.samples for f in text_string_to_metric_families(body.decode())}


def test_every_gauge_from_the_ops_db(migrated_ops_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    expected = seed(migrated_ops_db, tmp_path / "inventory")
    facts = seed_customer_facts(migrated_ops_db)
    families = _families(exposition(migrated_ops_db, now=AS_OF, coming_days=42))
    (cert,) = families["di_ops_certificate_earliest_expiry_seconds"]
    assert cert.labels == {"customer": "C004", "cluster": "C004-cucm", "node": "C004-cucm-pub", "region": "EMEA"}
    assert cert.value == (AS_OF + timedelta(days=7)).timestamp()
    ages = {
        (s.labels["cluster"], s.labels["application"]): s.value
        for s in families["di_ops_backup_latest_good_age_seconds"]
    }
    assert ages == {("C004-cucm", "CUCM"): (AS_OF - facts["latest_good"]).total_seconds()}  # IMP has no good one
    good = {s.labels["application"]: s.value for s in families["di_ops_backup_good"]}
    assert good == {"CUCM": 5.0, "IMP": 0.0}
    assert [(s.labels["severity"], s.value) for s in families["di_ops_sla_compliance_ratio"]] == [("S3", 0.975)]
    assert [(s.labels["severity"], s.value) for s in families["di_ops_sla_judged_cases"]] == [("S3", 40.0)]
    trains = {s.labels["train"]: s.value for s in families["di_ops_clusters"]}
    from di_ops.integrations.opsdb import latest_snapshot_id, snapshot_rows

    clusters = snapshot_rows(migrated_ops_db, latest_snapshot_id(migrated_ops_db))["clusters"]  # type: ignore[arg-type]
    assert sum(trains.values()) == len(clusters) and trains["not assessed"] >= 12  # every Expressway
    planned = {(s.labels["region"], s.labels["kind"]): s.value for s in families["di_ops_changes_planned"]}
    # coming windows only: C004's certificate and COP upload, C001's and C005's upgrades, C008's emergency
    assert planned == {("EMEA", "certificate"): 1, ("EMEA", "cop"): 1, ("AMER", "upgrade"): 2, ("AUS", "emergency"): 1}
    windows = {s.labels["window"] for s in families["di_ops_changes_planned"] if s.labels["region"] == "AMER"}
    assert windows == {expected["amer_thu"][0].strftime("%Y-%m-%dT%H:%MZ")}
    assert [(s.labels["kind"], s.value) for s in families["di_ops_changes_missed"]] == [("upgrade", 1.0)]
    percent = {(s.labels["customer"], s.labels["measure"]): s.value for s in families["di_ops_capacity_percent"]}
    assert percent == {("C004", "knowledge_workers"): 70.0, ("C004", "workspace_devices"): 104.0}  # newest audit
    assert [(s.labels["customer"], s.labels["verdict"]) for s in families["di_ops_capacity_verdict"]] == [
        ("C004", "breach")
    ]
    assert families["di_ops_contact_defects"][0].value == 1.0
    dr = {s.labels["cluster"]: s.value for s in families["di_ops_backup_dr_ready"]}
    assert dr == {"C004-cucm": 1.0, "C004-imp": 0.0}
    assert {(s.labels["cluster"], s.labels["state"]) for s in families["di_ops_backup_freshness"]} == {
        ("C004-cucm", "fresh"),
        ("C004-imp", "overdue"),
    }
    assert families["di_ops_metrics_generated_seconds"][0].value == AS_OF.timestamp()


def test_an_empty_ops_db_gives_empty_gauges(migrated_ops_db) -> None:  # type: ignore[no-untyped-def]
    families = _families(exposition(migrated_ops_db, now=AS_OF, coming_days=42))
    assert families["di_ops_clusters"] == [] and families["di_ops_changes_planned"] == []


@pytest.fixture
def token_mode(config_copy: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from di_ops.db.engine import make_engine, upgrade
    from di_ops.orchestration.console.app import app
    from di_ops.orchestration.console.settings import console_settings

    (config_copy / "console.yaml").write_text("metrics:\n  auth: token\n  token_env: DI_OPS_TEST_METRICS_TOKEN\n")
    console_settings.cache_clear()
    engine = make_engine(f"sqlite:///{data_dir / 'ops.db'}")
    upgrade(engine)
    engine.dispose()
    yield TestClient(app)
    console_settings.cache_clear()


def test_the_token_mode_of_the_metrics_route(token_mode, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    client = token_mode
    unset = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert unset.status_code == 503 and "DI_OPS_TEST_METRICS_TOKEN" in unset.text  # never open without a token
    monkeypatch.setenv("DI_OPS_TEST_METRICS_TOKEN", "s3cret-scrape")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    reply = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain; version=")
    assert "di_ops_metrics_generated_seconds" in _families(reply.content)
