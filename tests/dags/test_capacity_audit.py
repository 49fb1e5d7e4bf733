"""capacity_audit end to end through dag.test(): the DI lab's admin API on loopback, real SMTP, the ops DB.

The fleet (declared devices / configured devices; knowledge workers are always at 50 %):

| customer | devices | expected |
|---|---|---|
| K1 | 100 / 50 | within |
| K2 | 100 / 90 | within (exactly 90 %) |
| K3 | 100 / 91 | warning (just above 90 %) |
| K4 | 100 / 100 | warning (exactly 100 %) |
| K5 | 100 / 104 | breach (a bad expansions row for it raises nothing) |
| K6 | 100 / 110 | within: an approved expansion to 125 (88 %) |
| K7 | not declared / 500 | not declared |
| K8 | 100 / (the API has no counts) | not measured |
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import httpx
import pytest

from di_ops.core.run_folders import run_folder
from di_ops.db.engine import make_engine
from include.lab.server import Lab, NodeSpec

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
DEVICES = {"K1": 50, "K2": 90, "K3": 91, "K4": 100, "K5": 104, "K6": 110, "K7": 500}
EXPECTED = {
    "K1": "within",
    "K2": "within",
    "K3": "warning",
    "K4": "warning",
    "K5": "breach",
    "K6": "within",
    "K7": "not_declared",
    "K8": "not_measured",
}


def _conf(as_of: datetime, customers: list[str] | None = None) -> dict:
    return {"as_of": as_of.isoformat(), "customers": customers}


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def fleet(tmp_path: Path, data_dir: Path, ops_sqlite: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from di_ops.core.inventory import contact_defects, read_inventory
    from di_ops.integrations.opsdb import ops_engine, store_inventory
    from di_ops.pipelines.inventory.gate import store_gate

    inventory = tmp_path / "inventory"
    inventory.mkdir()
    ids = sorted(EXPECTED)
    _write(
        inventory / "customers.csv",
        [
            {
                "customer_id": cid,
                "name": f"Customer {cid}",
                "region": "EMEA",
                "partner": "Polder Telecom",
                "knowledge_workers": "" if cid == "K7" else "200",
                "workspace_devices": "" if cid == "K7" else "100",
            }
            for cid in ids
        ],
    )
    _write(
        inventory / "contacts.csv",
        [{"customer_id": cid, "name": "NOC", "email": "noc@polder.example", "role": "partner"} for cid in ids],
    )
    (data_dir / "capacity").mkdir()
    _write(
        data_dir / "capacity" / "expansions.csv",
        [
            {
                "customer_id": "K6",
                "knowledge_workers": "",
                "workspace_devices": "125",
                "approved_by": "Capacity board",
                "approved_at": "2026-11-02T10:00:00Z",
                "change_reference": "TAC-EXP-6",
            },
            {  # no zone: reported, raises nothing
                "customer_id": "K5",
                "knowledge_workers": "",
                "workspace_devices": "200",
                "approved_by": "Somebody",
                "approved_at": "2026-11-02 10:00",
                "change_reference": "TAC-EXP-5",
            },
        ],
    )
    counts = {cid: {"users": 100, "devices": n} for cid, n in DEVICES.items()}
    node = NodeSpec("K1-cucm-pub", "k1.example", "K1-cucm", timedelta(days=90))
    lab = Lab([node], {}, state_dir=tmp_path / "lab", now=AS_OF, capacity=counts).start()
    monkeypatch.setenv("AIRFLOW_CONN_DI_UC_ADMIN", json.dumps(lab.connection()))
    loaded = read_inventory(inventory)
    assert not loaded.rejects and not contact_defects(loaded, ["partner"])
    engine = ops_engine()
    store_inventory(engine, loaded, AS_OF - timedelta(hours=1))
    store_gate(engine, loaded, [])
    yield lab
    lab.stop()


def _mails(outbox: Path) -> list:
    return [message_from_bytes(p.read_bytes(), policy=default) for p in sorted(outbox.glob("*.eml"))]


def _states(url: str) -> dict[str, str]:
    from sqlalchemy import select

    from di_ops.db.tables_capacity import capacity_states as t

    with make_engine(url).connect() as conn:
        return {r["customer_id"]: r["verdict"] for r in conn.execute(select(t)).mappings()}


def _summary(data_dir: Path, run_id: str) -> dict:
    return json.loads((run_folder(data_dir / "reports" / "capacity", run_id) / "summary.json").read_text())


def test_verdicts_report_and_one_alert_per_entry_into_breach(
    airflow_db, dagbag, fleet: Lab, ops_sqlite: str, data_dir: Path, smtp_sink: Path
) -> None:
    dag = dagbag.get_dag("capacity_audit")
    run = dag.test(run_conf=_conf(AS_OF))
    assert run.state == "success"

    summary = _summary(data_dir, run.run_id)
    assert {"dag_id", "run_id", "as_of", "customers"} <= set(summary)
    assert summary["dag_id"] == "capacity_audit" and summary["run_id"] == run.run_id
    assert summary["as_of"] == AS_OF.isoformat()
    verdicts = {c["customer_id"]: c["verdict"] for c in summary["customers"]}
    assert verdicts == EXPECTED
    k6 = next(c for c in summary["customers"] if c["customer_id"] == "K6")
    devices = next(f for f in k6["figures"] if f["measure"] == "workspace_devices")
    assert (devices["declared"], devices["allowed"], devices["expansion"]) == (100, 125, "TAC-EXP-6")
    assert summary["expansions_used"] == ["TAC-EXP-6"]
    [problem] = summary["expansion_problems"]
    assert problem["line"] == 3 and "approved_at" in problem["reason"]
    assert summary["counts"] == {
        "breach": 1,
        "warning": 2,
        "within": 3,
        "not_measured": 1,
        "not_declared": 1,
    }
    assert summary["alerts"]["sent"] == ["K5"]

    run_dir = run_folder(data_dir / "reports" / "capacity", run.run_id)
    rows = list(csv.DictReader((run_dir / "capacity.csv").open()))
    assert len(rows) == 16
    k5 = next(r for r in rows if r["customer_id"] == "K5" and r["measure"] == "workspace_devices")
    assert (k5["configured"], k5["allowed"], k5["percent"], k5["verdict"]) == ("104", "100", "104.0", "breach")
    html = (run_dir / "report.html").read_text()
    assert "Capacity audit as of 2026-11-30T05:00:00+00:00" in html and "TAC-EXP-6" in html

    [mail] = _mails(smtp_sink)
    assert mail["Subject"] == "[di-ops] Capacity breach: K5 (Customer K5) above its declared numbers"
    assert mail["To"] == "di-ops-oncall@localhost"
    body = mail.get_body(("plain",)).get_content()
    assert "104 devices configured of 100 allowed" in body
    assert _states(ops_sqlite)["K5"] == "breach" and "K8" not in _states(ops_sqlite)

    # a week later, still in breach: no second alert
    again = dag.test(run_conf=_conf(AS_OF + timedelta(days=7)))
    assert again.state == "success"
    assert _summary(data_dir, again.run_id)["alerts"]["sent"] == []
    assert len(_mails(smtp_sink)) == 1

    # back under 100 %, then above again: a new state change, a new alert
    with httpx.Client(base_url=fleet.admin_url, auth=(fleet.login, fleet.password)) as client:
        assert client.put("/lab/capacity", json={"K5": {"users": 100, "devices": 99}}).status_code == 200
        back = dag.test(run_conf=_conf(AS_OF + timedelta(days=14)))
        assert back.state == "success" and _states(ops_sqlite)["K5"] == "warning"
        assert client.put("/lab/capacity", json={"K5": {"users": 100, "devices": 101}}).status_code == 200
    breach = dag.test(run_conf=_conf(AS_OF + timedelta(days=21)))
    assert breach.state == "success"
    assert _summary(data_dir, breach.run_id)["alerts"]["sent"] == ["K5"]
    assert len(_mails(smtp_sink)) == 2

    # a what-if on an older instant changes no state and sends nothing
    old = dag.test(run_conf=_conf(AS_OF - timedelta(days=7)))
    assert old.state == "success" and _summary(data_dir, old.run_id)["alerts"]["stale"] is True
    assert len(_mails(smtp_sink)) == 2 and _states(ops_sqlite)["K5"] == "breach"


def test_the_customers_param_limits_the_run_and_an_unknown_id_is_refused(
    airflow_db, dagbag, fleet: Lab, ops_sqlite: str, data_dir: Path, smtp_sink: Path
) -> None:
    dag = dagbag.get_dag("capacity_audit")
    run = dag.test(run_conf=_conf(AS_OF, ["K3", "K7"]))
    assert run.state == "success"
    assert {c["customer_id"]: c["verdict"] for c in _summary(data_dir, run.run_id)["customers"]} == {
        "K3": "warning",
        "K7": "not_declared",
    }
    assert _mails(smtp_sink) == []
    refused = dag.test(run_conf=_conf(AS_OF, ["K33"]))
    assert refused.state == "failed"


def test_the_demo_fleet_against_the_demo_lab(
    airflow_db, dagbag, tmp_path: Path, ops_sqlite: str, data_dir: Path, smtp_sink: Path, monkeypatch
) -> None:
    """What ``make demo`` shows: C009 warning (95 %), C010 breach (104 %), C005 within thanks to its approved
    expansion, C012 not declared; one alert (C010)."""
    from di_ops.core.inventory import contact_defects, read_inventory
    from di_ops.integrations.opsdb import ops_engine, store_inventory
    from di_ops.pipelines.inventory.gate import store_gate
    from include.demo.fleet import write_fleet
    from include.demo.pipelines.capacity import COUNTS_FILE, prepare
    from include.lab.__main__ import demo_counts, demo_specs

    write_fleet(tmp_path / "inventory")
    prepare(data_dir)
    specs, sso = demo_specs(tmp_path / "inventory")
    lab = Lab(specs[:1], {}, state_dir=tmp_path / "lab", capacity=demo_counts(data_dir / COUNTS_FILE)).start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_DI_UC_ADMIN", json.dumps(lab.connection()))
        inventory = read_inventory(tmp_path / "inventory")
        store_inventory(ops_engine(), inventory, AS_OF - timedelta(hours=1))
        store_gate(ops_engine(), inventory, contact_defects(inventory, ["partner", "customer"]))
        run = dagbag.get_dag("capacity_audit").test(run_conf=_conf(AS_OF))
    finally:
        lab.stop()
    assert run.state == "success"
    summary = _summary(data_dir, run.run_id)
    verdicts = {c["customer_id"]: c["verdict"] for c in summary["customers"]}
    assert {k: v for k, v in verdicts.items() if v != "within"} == {
        "C009": "warning",
        "C010": "breach",
        "C012": "not_declared",
    }
    c005 = next(c for c in summary["customers"] if c["customer_id"] == "C005")
    assert [f["expansion"] for f in c005["figures"]] == [None, "TAC-EXP-5005"]
    assert summary["alerts"]["sent"] == ["C010"] and len(_mails(smtp_sink)) == 1
