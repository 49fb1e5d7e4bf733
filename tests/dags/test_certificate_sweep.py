"""certificate_sweep end to end through dag.test(): the lab on loopback, real TLS, real SMTP."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest

from di_ops.db.engine import make_engine
from di_ops.pipelines.certificates.store import all_plans
from di_ops.rules.certificates import sweep_plan
from tests.dags.certificate_fleet import AS_OF, SWEEP_CONF, setup_fleet

pytestmark = pytest.mark.slow

# The lead time derived from policy.yaml (DOMAIN.md §2): lookahead_days left empty.
DERIVED = {**SWEEP_CONF, "lookahead_days": None}


@pytest.fixture
def fleet(tmp_path: Path, data_dir: Path, ops_sqlite: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    lab = setup_fleet(tmp_path, data_dir, monkeypatch)
    yield lab
    lab.stop()


def _observations(url: str) -> dict[str, dict]:
    from sqlalchemy import select

    from di_ops.db.tables_certificates import certificate_observations as t

    with make_engine(url).connect() as conn:
        return {r["node_id"]: dict(r) for r in conn.execute(select(t)).mappings()}


def test_sweep_probes_plans_exactly_the_rule_windows_and_notifies_once(
    airflow_db, dagbag, fleet, ops_sqlite: str, smtp_sink: Path
) -> None:
    dag = dagbag.get_dag("certificate_sweep")
    assert dag.params["lookahead_days"] is None  # derived unless overridden (deprecated)
    run = dag.test(run_conf=DERIVED)
    assert run.state == "success"

    seen = _observations(ops_sqlite)
    assert len(seen) == 8
    assert seen["A1-cucm-sub"]["status"] == "unreachable" and "refused" in seen["A1-cucm-sub"]["error"]
    assert seen["E1-imp-pub"]["trust"] == "self_signed" and seen["E1-imp-pub"]["status"] == "untrusted"
    assert seen["E1-cucm-pub"]["trust"] == "trusted" and seen["E1-cucm-pub"]["chain_length"] == 2
    assert seen["E1-cucm-pub"]["sans"] == ["e1-cucm-pub.di.example"]
    assert seen["A1-sme-pub"]["region"] == "EMEA"  # the SME follows its publishing region

    engine = make_engine(ops_sqlite)
    plans = {p["node_id"]: p for p in all_plans(engine)}
    assert set(plans) == {"E1-cucm-pub", "E1-cucm-sub", "E1-imp-pub", "A1-sme-pub", "A1-imp-pub", "A1-cer-pub"}
    for node_id, plan in plans.items():
        region = "EMEA" if node_id.startswith("E1") or node_id == "A1-sme-pub" else "AMER"
        expected = sweep_plan(plan["not_after"], region, AS_OF)
        assert plan["status"] == expected.status, node_id
        if expected.window is None:
            assert plan["window_start"] is None
        else:
            assert plan["window_start"] == expected.window.start, node_id
            assert plan["window_end"] == expected.window.end, node_id
        assert len(plan["fallbacks"]) == len(expected.fallbacks)
        assert plan["short_notice"] is expected.short_notice
    assert plans["E1-cucm-pub"]["status"] == "scheduled"
    assert plans["A1-imp-pub"]["status"] == "emergency"
    assert plans["A1-cer-pub"]["status"] == "expired"

    mails = [message_from_bytes(p.read_bytes()) for p in sorted(smtp_sink.glob("*.eml"))]
    assert len(mails) == 6
    subjects = sorted(m["Subject"] for m in mails)
    # seen 9-10 days before expiry: no valid window is 10 business days away, and the notices say so
    assert sum(s.startswith("SHORT NOTICE: Planned certificate renewal") for s in subjects) == 4
    assert sum(s.startswith("EMERGENCY") for s in subjects) == 1
    assert sum(s.startswith("INCIDENT") for s in subjects) == 1
    planned = next(m for m in mails if "e1-cucm-pub" in m["Subject"])
    assert "noc@polder.example" in planned["To"] and "it@e1.example" in planned["To"]
    ics = next(p for p in planned.walk() if p.get_filename() == "certificate-renewal.ics")
    text = ics.get_payload(decode=True).decode()
    assert f"DTSTART:{plans['E1-cucm-pub']['window_start']:%Y%m%dT%H%M%SZ}" in text

    # A rerun (new run, same as_of): same plans, no new notices.
    again = dag.test(run_conf=DERIVED)
    assert again.state == "success"
    assert {p["plan_id"] for p in all_plans(engine)} == {p["plan_id"] for p in plans.values()}
    assert len(list(smtp_sink.glob("*.eml"))) == 6


def test_dry_run_plans_but_sends_nothing(airflow_db, dagbag, fleet, ops_sqlite: str, smtp_sink: Path) -> None:
    run = dagbag.get_dag("certificate_sweep").test(run_conf={**DERIVED, "dry_run": True})
    assert run.state == "success"
    assert len(all_plans(make_engine(ops_sqlite))) == 6
    assert list(smtp_sink.glob("*.eml")) == []


def test_the_deprecated_lookahead_param_still_overrides(
    airflow_db, dagbag, fleet, ops_sqlite: str, smtp_sink: Path
) -> None:
    """``lookahead_days`` set: a fixed horizon; 5 days leaves out the certificates 9-10 days from expiry."""
    run = dagbag.get_dag("certificate_sweep").test(run_conf={**SWEEP_CONF, "lookahead_days": 5, "dry_run": True})
    assert run.state == "success"
    assert {p["node_id"] for p in all_plans(make_engine(ops_sqlite))} == {"A1-imp-pub", "A1-cer-pub"}
