"""One customer's page data: every pipeline's facts about the customer, from the ops DB, each with its run."""

from __future__ import annotations

from pathlib import Path

import pytest

from di_ops.orchestration.console.customer import customer_view, customers
from tests.orchestration.console_data import AS_OF, seed, seed_customer_facts


@pytest.fixture
def engine(migrated_ops_db, tmp_path: Path):  # type: ignore[no-untyped-def]
    seed(migrated_ops_db, tmp_path / "inventory")
    return migrated_ops_db


def test_the_customer_list_is_the_latest_snapshot(engine) -> None:  # type: ignore[no-untyped-def]
    snapshot, listed = customers(engine)
    assert snapshot and [c["customer_id"] for c in listed] == [f"C{i:03d}" for i in range(1, 13)]


def test_an_unknown_customer_has_no_page(engine) -> None:  # type: ignore[no-untyped-def]
    assert customer_view(engine, "C999", as_of=AS_OF) is None
    assert customer_view(engine, "C00_", as_of=AS_OF) is None  # no LIKE wildcard


def test_a_customer_before_any_run_shows_its_inventory_only(engine) -> None:  # type: ignore[no-untyped-def]
    view = customer_view(engine, "C002", as_of=AS_OF)
    assert view is not None and view.customer["region"] == "APJC"
    assert view.clusters and all(c["plan"] is None for c in view.clusters)
    assert (view.certificates, view.backups, view.backups_run, view.cop, view.sla, view.notices) == (
        [],
        [],
        None,
        [],
        [],
        [],
    )


def test_every_pipeline_fact_of_a_customer_with_its_run(engine) -> None:  # type: ignore[no-untyped-def]
    facts = seed_customer_facts(engine)
    view = customer_view(engine, "C004", as_of=AS_OF)
    assert view is not None
    assert {p["role"] for p in view.customer["contacts"]} == {"partner", "customer"}
    # release train verdicts as the upgrade sweep judges them, for every cluster of the inventory
    assert all(c["train"] and c["reasons"] for c in view.clusters)
    assert {c["cluster_id"] for c in view.clusters} >= {"C004-cucm"}
    (cert,) = view.certificates
    assert cert["status"] == "ok" and cert["plan"]["status"] == "scheduled"
    assert cert["plan"]["run_id"] == "scheduled__2026-11-15T05:00:00+00:00"
    # backups from the newest retention plan only: 6 CUCM backups, one failed, plus a held IMP series
    assert view.backups_run is not None and view.backups_run["run_id"] == facts["retention_run"]
    cucm, imp = view.backups
    assert (cucm["application"], cucm["backups"], cucm["good"], cucm["latest_good"]) == (
        "CUCM",
        6,
        5,
        facts["latest_good"],
    )
    assert imp["hold"] == 1 and imp["held"] == ["manifest unreadable: not JSON"] and imp["latest_good"] is None
    cop = {r["request_id"]: r for r in view.cop}  # a rejected request is listed with its reason
    assert cop["r-planned"]["outcome"] == "uploaded" and cop["r-planned"]["upload_run"].startswith(
        "scheduled__2026-12-02"
    )
    assert cop["r-rejected"]["status"] == "rejected" and cop["r-rejected"]["reason"] == "bad name"
    (s3,) = view.sla
    assert (s3["severity"], s3["n"], s3["met"]) == ("S3", 40, 39)
    assert view.sla_run is not None and view.sla_run["dag_id"] == "sla_audit"
    assert [e["case_id"] for e in view.escalations] == ["TAC-4711"]
    # notices about its certificate (node), its COP file; not another customer's whose id shares the prefix
    assert sorted(n["dedupe_key"] for n in view.notices) == [
        "certificate:C004-cucm-pub/0a1b/r0",
        "cop:r-planned",
        "incident:TAC-9001:S1",  # a TAC case the watch tracks for the customer
    ]
    # the newest capacity audit only: devices at 104 % of 250 (a breach), knowledge workers within
    assert [(c["measure"], c["configured"], c["verdict"]) for c in view.capacity] == [
        ("knowledge_workers", 420, "within"),
        ("workspace_devices", 260, "breach"),
    ]
    assert view.contact_defect is None
    defect = customer_view(engine, "C011", as_of=AS_OF)
    assert defect is not None and defect.contact_defect is not None
    assert defect.contact_defect["missing_roles"] == ["partner"]
    assert view.health_run is not None and view.health_run["dag_id"] == "backup_health"
    assert {k: (h["freshness"], h["dr_ready"]) for k, h in view.health.items()} == {
        ("C004-cucm", "CUCM"): ("fresh", True),
        ("C004-imp", "IMP"): ("overdue", False),
    }
    (incident,) = view.incidents
    assert incident["candidate_state"] == "no_first_response" and incident["candidate_since"] is not None
