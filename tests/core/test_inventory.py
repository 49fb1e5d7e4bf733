"""Inventory exports: validation with reasons, CSV and JSON, stable snapshot ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from di_ops.core.inventory import read_inventory, snapshot_digest
from include.demo.fleet import fleet_rows, write_fleet

HEADER = {
    "customers": "customer_id,name,region,partner",
    "contacts": "customer_id,name,email,phone,role",
    "clusters": "cluster_id,customer_id,application,version,sso_enabled,sme_publishing_region",
    "nodes": "node_id,cluster_id,host,port,role",
}


def write(folder: Path, **files: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (folder / f"{name}.csv").write_text("\n".join([HEADER[name], *lines]) + "\n")
    return folder


def test_demo_fleet_covers_all_regions_and_rejects_its_one_bad_row(tmp_path: Path) -> None:
    write_fleet(tmp_path)
    inv = read_inventory(tmp_path)
    assert len(inv.customers) == 12
    assert {c.region for c in inv.customers} == {"AMER", "APJC", "AUS", "EMEA"}
    assert any(c.application == "SME" and c.sme_publishing_region for c in inv.clusters)
    assert [(r.source_file, r.reason.split(",")[0]) for r in inv.rejects] == [
        ("clusters.csv", "application: Value error")
    ]
    assert "FaxServer" in inv.rejects[0].reason


def test_demo_fleet_is_deterministic(tmp_path: Path) -> None:
    write_fleet(tmp_path / "a")
    write_fleet(tmp_path / "b")
    assert snapshot_digest(tmp_path / "a") == snapshot_digest(tmp_path / "b")
    assert fleet_rows(seed=1) != fleet_rows(seed=2)


def test_bad_rows_are_rejected_with_reasons_and_the_rest_loaded(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        customers=["C1,One,amer,P", "C2,Two,MARS,P", "C1,Dup,EMEA,P", "C3,Three,EMEA,P"],
        contacts=[
            "C3,Desk,desk@c3.example,+31 20 1234567,customer",
            "C3,Bad,not-an-email,,partner",
            "C9,Ghost,g@x.example,,partner",
        ],
        clusters=[
            "K1,C3,cucm,15.0 SU2,yes,",
            "K2,C3,SME,15.0 SU2,false,",
            "K3,C3,CUCM,15.0,maybe,",
            "K4,C1,CUCM,15.0,false,",
        ],
        nodes=[
            "N1,K1,cucm1.example,8443,publisher",
            "N2,K1,cucm2.example,99999,subscriber",
            "N3,KX,h.example,22,publisher",
        ],
    )
    inv = read_inventory(folder)
    assert [c.customer_id for c in inv.customers] == ["C3"]
    assert inv.customers[0].region == "EMEA"
    assert [(c.cluster_id, c.application, c.sso_enabled) for c in inv.clusters] == [("K1", "CUCM", True)]
    assert [n.node_id for n in inv.nodes] == ["N1"]
    assert [c.name for c in inv.contacts] == ["Desk"]
    reasons = {(r.source_file, r.line): r.reason for r in inv.rejects}
    assert "unknown region 'MARS'" in reasons[("customers.csv", 3)]
    assert reasons[("customers.csv", 2)] == "duplicate customer_id 'C1'"
    assert reasons[("customers.csv", 4)] == "duplicate customer_id 'C1'"
    assert "email" in reasons[("contacts.csv", 3)]
    assert reasons[("contacts.csv", 4)] == "unknown customer 'C9'"
    assert "sme_publishing_region" in reasons[("clusters.csv", 3)]
    assert "sso_enabled must be true or false" in reasons[("clusters.csv", 4)]
    assert reasons[("clusters.csv", 5)] == "unknown customer 'C1'"
    assert "port" in reasons[("nodes.csv", 3)]
    assert reasons[("nodes.csv", 4)] == "unknown cluster 'KX'"
    assert len(inv.rejects) == 10


def test_json_array_and_json_lines_exports(tmp_path: Path) -> None:
    (tmp_path / "customers.json").write_text(
        json.dumps([{"customer_id": "C1", "name": "One", "region": "APJC", "partner": "P"}])
    )
    (tmp_path / "clusters.json").write_text(
        json.dumps(
            {"cluster_id": "K1", "customer_id": "C1", "application": "IMP", "version": "14.0 SU3", "sso_enabled": False}
        )
        + "\n\n"
        + json.dumps({"cluster_id": "K2"})
        + "\n"
    )
    inv = read_inventory(tmp_path)
    assert [c.cluster_id for c in inv.clusters] == ["K1"]
    assert [(r.source_file, r.line) for r in inv.rejects] == [("clusters.json", 3)]


def test_unreadable_export_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, customers=["C1,One,AUS,P"])
    (tmp_path / "nodes.json").write_text("[{broken")
    inv = read_inventory(tmp_path)
    assert len(inv.customers) == 1
    assert inv.rejects[0].source_file == "nodes.json"
    assert inv.rejects[0].reason.startswith("unreadable export")


def test_missing_folder_or_exports_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_inventory(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="holds none of"):
        read_inventory(tmp_path)


def test_snapshot_changes_when_an_export_changes(tmp_path: Path) -> None:
    write(tmp_path, customers=["C1,One,AUS,P"])
    first = snapshot_digest(tmp_path)
    write(tmp_path, customers=["C1,One,AUS,Q"])
    assert snapshot_digest(tmp_path) != first


# --- declared capacity (DOMAIN.md §8) and the contact-data gate (DOMAIN.md §2) ---------------------


def test_declared_numbers_are_optional_columns_and_old_exports_stay_valid(tmp_path: Path) -> None:
    old = write(tmp_path / "old", customers=["C1,One,AUS,P"])
    [customer] = read_inventory(old).customers
    assert customer.knowledge_workers is None and customer.workspace_devices is None
    new = tmp_path / "new"
    new.mkdir()
    (new / "customers.csv").write_text(
        "customer_id,name,region,partner,knowledge_workers,workspace_devices\n"
        "C1,One,AUS,P,1200, 250\n"
        "C2,Two,AUS,P,,\n"
        "C3,Three,AUS,P,-1,10\n"
        "C4,Four,AUS,P,12.5,10\n"
        "C5,Five,AUS,P,lots,10\n"
    )
    inv = read_inventory(new)
    declared = {c.customer_id: (c.knowledge_workers, c.workspace_devices) for c in inv.customers}
    assert declared == {"C1": (1200, 250), "C2": (None, None)}  # empty cells: not declared, never 0
    reasons = {r.line: r.reason for r in inv.rejects}
    assert sorted(reasons) == [4, 5, 6]
    assert all("knowledge_workers" in reason for reason in reasons.values())
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "customers.json").write_text(
        json.dumps([{"customer_id": "C1", "name": "One", "region": "AUS", "partner": "P", "workspace_devices": 40}])
    )
    inv_json = read_inventory(tmp_path / "json")
    [from_json] = inv_json.customers
    assert (from_json.knowledge_workers, from_json.workspace_devices) == (None, 40)
    (tmp_path / "json" / "customers.json").write_text(
        json.dumps([{"customer_id": "C1", "name": "One", "region": "AUS", "partner": "P", "knowledge_workers": True}])
    )
    [flag] = read_inventory(tmp_path / "json").rejects
    assert "knowledge_workers" in flag.reason and "whole number" in flag.reason


def test_the_contact_gate_names_each_missing_role_and_keeps_the_customer(tmp_path: Path) -> None:
    from di_ops.core.inventory import contact_defects

    folder = write(
        tmp_path,
        customers=["C1,Both,EMEA,P", "C2,No partner,EMEA,P", "C3,Bad partner mail,EMEA,P", "C4,Nobody,EMEA,Q"],
        contacts=[
            "C1,NOC,noc@p.example,,partner",
            "C1,Desk,desk@c1.example,,customer",
            "C2,Desk,desk@c2.example,,customer",
            "C3,NOC,noc at p.example,,partner",  # not well-formed: a rejected row, so no partner contact
            "C3,Desk,desk@c3.example,,customer",
        ],
    )
    inv = read_inventory(folder)
    assert [c.customer_id for c in inv.customers] == ["C1", "C2", "C3", "C4"]
    defects = contact_defects(inv, ["partner", "customer"])
    assert [(d.customer_id, d.missing_roles, d.contacts_on_file) for d in defects] == [
        ("C2", ("partner",), 1),
        ("C3", ("partner",), 1),
        ("C4", ("partner", "customer"), 0),
    ]
    assert defects[2].reason.startswith("customer C4 (Q): no partner contact and no customer contact with a")
    reject = defects[0].as_reject()
    assert (reject.source_file, reject.line, reject.raw) == ("contacts", 0, "customer_id=C2")
    assert contact_defects(inv, ["customer"]) == (defects[2].model_copy(update={"missing_roles": ("customer",)}),)


def test_the_demo_fleet_has_one_contact_defect_and_the_capacity_cases() -> None:
    from include.demo.fleet import configured_counts

    rows = fleet_rows()
    partners = {c["customer_id"] for c in rows["contacts"] if c["role"] == "partner"}
    assert {c["customer_id"] for c in rows["customers"]} - partners == {"C011"}
    declared = {c["customer_id"]: c["workspace_devices"] for c in rows["customers"]}
    counts = configured_counts()
    assert counts["C009"]["devices"] * 100 == 95 * int(declared["C009"])
    assert counts["C010"]["devices"] * 100 == 104 * int(declared["C010"])
    assert declared["C012"] == ""
