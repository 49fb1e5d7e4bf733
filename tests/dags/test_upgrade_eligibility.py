"""upgrade_eligibility end to end through dag.test(): a fleet over every train and region, notices to a real
SMTP server on loopback, idempotent weekly reruns, completion and cancellation, dry runs and what-ifs."""

from __future__ import annotations

import csv
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from di_ops.db.engine import make_engine
from tests.pipelines.upgrades.fleet import AS_OF, load_inventory, write_feeds, write_inventory

pytestmark = pytest.mark.slow
DAG_ID = "upgrade_eligibility"
UPGRADES = {
    "A003-cucm": ("AUS", "2026-06-15T11:00:00+00:00", False),  # n-2: Mon 15 Jun 21:00 AEST, 10 business days on
    "A003-imp": ("AUS", "2026-06-15T11:00:00+00:00", False),  # n-2
    "A003-cucxn": ("AUS", "2026-06-15T11:00:00+00:00", False),  # n, moves together with CUCM and IM&P
    "A003-sme": ("APJC", "2026-06-15T12:00:00+00:00", False),  # SME: its publishing region's window (JST)
    "A004-cucm": ("EMEA", "2026-06-15T19:00:00+00:00", False),  # unsupported 11.5
    "A005-cucm": ("EMEA", "2026-06-01T19:00:00+00:00", True),  # critical advisory: next window, emergency
    "A005-imp": ("EMEA", "2026-06-01T19:00:00+00:00", True),  # moves together with the emergency
    "A006-imp": ("AMER", "2026-06-16T01:00:00+00:00", False),  # partner request: Mon 15 Jun 21:00 EDT
}


def _mails(outbox: Path) -> list[Message]:
    return [message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]


def _ics(msg: Message) -> str:
    for part in msg.walk():
        if part.get_filename() == "upgrade.ics":
            return part.get_payload(decode=True).decode()
    raise AssertionError(f"no .ics in {msg['Subject']}")


def _body(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no html part")


def _report(folder: Path) -> dict[str, dict[str, str]]:
    with (folder / "upgrades.csv").open(encoding="utf-8") as fh:
        return {row["cluster_id"]: row for row in csv.DictReader(fh)}


def _run(dag, as_of, **conf):  # type: ignore[no-untyped-def]
    # every Param explicit: dag.test() keeps earlier run_conf values on the (session-wide) DAG object
    defaults = {"dry_run": False, "customers": None, "announce_release": None}
    run = dag.test(run_conf={**defaults, "as_of": as_of.isoformat(), **conf})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    report = next(ti for ti in run.get_task_instances() if ti.task_id == "write_report").xcom_pull(
        task_ids="write_report"
    )
    return run, report


def test_weekly_sweeps_plan_notify_schedule_complete_and_cancel_once(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    from di_ops.integrations.opsdb import count_rows
    from di_ops.pipelines.upgrades.store import latest_plans

    engine = make_engine(ops_sqlite)
    from di_ops.db.engine import upgrade

    upgrade(engine)
    load_inventory(engine, write_inventory(tmp_path / "inv1"), AS_OF)
    write_feeds(data_dir)
    dag = dagbag.get_dag(DAG_ID)

    # week 1: every upgrade the operator must start is planned, recorded and announced once
    _, report = _run(dag, AS_OF)
    assert report["upgrades"] == len(UPGRADES)
    assert report["by_train"] == {"n": 9, "n-1": 3, "n-2": 3, "unsupported": 1, "unknown": 1, "not assessed": 1}
    assert report["by_region"] == {"AMER": 7, "APJC": 3, "AUS": 4, "EMEA": 4}
    rows = _report(Path(report["csv"]).parent)
    assert rows["A002-cucm"]["train"] == "n-1" and rows["A002-cucm"]["upgrade"] == "False"
    assert "CUCxN 14.0 SU3" in rows["A002-cucxn"]["move_together"]
    assert "must be on one Collaboration Systems release" in rows["A002-cucm"]["move_together"]
    assert rows["A001-cucm"]["move_together"] == ""
    assert rows["A002-imp"]["triggers"].startswith("security_cop: security advisory ADV-2")
    assert rows["A004-cer"]["train"] == "unknown" and rows["A004-cer"]["target"] == ""
    assert rows["A001-expressway"]["train"] == "not assessed"
    assert "ADV-3" not in rows["A001-cucm"]["triggers"]  # published after as_of
    for cluster_id, (region, start, emergency) in UPGRADES.items():
        assert rows[cluster_id]["upgrade"] == "True", cluster_id
        assert rows[cluster_id]["window_region"] == region
        assert rows[cluster_id]["state"] == "notified"
        assert rows[cluster_id]["window_utc"].startswith(start[:16].replace("T", " ")), (cluster_id, rows[cluster_id])
        assert rows[cluster_id]["emergency"] == str(emergency)
    mails = _mails(smtp_sink)
    assert len(mails) == len(UPGRADES)
    by_cluster = {m["Subject"].split(" to ")[0].split()[-1]: m for m in mails}
    assert set(by_cluster) == set(UPGRADES)
    aus = by_cluster["A003-cucm"]
    assert set(aus["To"].replace(" ", "").split(",")) == {"noc@a003.partner.example", "it@a003.example"}
    ics = _ics(aus)
    assert "METHOD:REQUEST" in ics and "SEQUENCE:0" in ics and "DTSTART:20260615T110000Z" in ics
    assert "2026-06-15 21:00 AEST (2026-06-15 11:00 UTC)" in _body(aus)
    assert "2026-06-04 16:00 AEST" in _body(aus)  # the partner's answer deadline: notice + 3 days
    assert "Emergency change" in _body(by_cluster["A005-cucm"])
    assert count_rows(engine, "upgrade_plans") == len(UPGRADES)

    # the same week again (a rerun): nothing new recorded or sent
    _run(dag, AS_OF)
    assert len(_mails(smtp_sink)) == len(UPGRADES)
    assert count_rows(engine, "upgrade_plans") == len(UPGRADES)

    # week 2: A003's CUCM now runs 15.0 SU2 and the partner withdrew TAC-123 → done + completion, cancel + CANCEL;
    # A005's emergency window (Mon 1 June night) passed without 15.0 SU2 → missed: alert + re-planned notice
    load_inventory(engine, write_inventory(tmp_path / "inv2", {"A003-cucm": "15.0 SU2"}), AS_OF + timedelta(days=7))
    write_feeds(data_dir, requests=[])
    _, report = _run(dag, AS_OF + timedelta(days=7))
    plans = latest_plans(engine, UPGRADES)
    assert plans["A003-cucm"]["state"] == "done"
    assert plans["A006-imp"]["state"] == "cancelled"
    assert plans["A004-cucm"]["state"] == "scheduled"  # the answer deadline passed without a conflict
    assert plans["A005-cucm"]["state"] == "notified" and plans["A005-cucm"]["sequence"] == 1
    assert plans["A005-cucm"]["window_start"] == AS_OF.replace(day=8, hour=19)  # the next window: Mon 8 June
    assert report["missed"] == 2
    new = _mails(smtp_sink)[len(UPGRADES) :]
    assert sorted(m["Subject"].split(":")[0] for m in new) == [
        "Cancelled upgrade",
        "Completed upgrade",
        "MISSED upgrade window",
        "MISSED upgrade window",
        "Re-planned emergency upgrade",
        "Re-planned emergency upgrade",
    ]
    cancel = next(m for m in new if m["Subject"].startswith("Cancelled"))
    cancel_ics = _ics(cancel)
    assert "METHOD:CANCEL" in cancel_ics and "SEQUENCE:1" in cancel_ics and "STATUS:CANCELLED" in cancel_ics
    assert _ics(by_cluster["A006-imp"]).split("UID:")[1].split()[0] == cancel_ics.split("UID:")[1].split()[0]

    # week 2 again: still nothing twice
    _run(dag, AS_OF + timedelta(days=7))
    assert len(_mails(smtp_sink)) == len(UPGRADES) + 6


def test_dry_run_for_some_customers_records_and_sends_nothing(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    from di_ops.db.engine import upgrade
    from di_ops.integrations.opsdb import count_rows

    engine = make_engine(ops_sqlite)
    upgrade(engine)
    load_inventory(engine, write_inventory(tmp_path / "inv"), AS_OF)
    write_feeds(data_dir)
    _, report = _run(dagbag.get_dag(DAG_ID), AS_OF, dry_run=True, customers=["A003", "A004"])
    assert report["clusters"] == 6 and report["upgrades"] == 5  # only the customers asked for
    assert _report(Path(report["csv"]).parent)["A004-cucm"]["state"] == "would be notified"
    assert list(smtp_sink.glob("*.eml")) == []
    assert count_rows(engine, "upgrade_plans") == 0


def test_announcing_a_release_shifts_the_train_and_lists_the_new_n_minus_2_customers(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, smtp_sink: Path, tmp_path: Path
) -> None:
    from di_ops.db.engine import upgrade
    from di_ops.integrations.opsdb import count_rows

    engine = make_engine(ops_sqlite)
    upgrade(engine)
    load_inventory(engine, write_inventory(tmp_path / "inv"), AS_OF)
    write_feeds(data_dir, advisories=[], requests=[])
    _, report = _run(dagbag.get_dag(DAG_ID), AS_OF, announce_release="16.0 SU1")
    rows = _report(Path(report["csv"]).parent)
    # 15.0 → n-1, 14.0 → n-2 (now below n-1: upgrade), 12.5 → unsupported; 16.0 SU1 becomes known n
    assert rows["A001-cucm"]["train"] == "n-1" and rows["A001-cucm"]["upgrade"] == "False"
    assert {rows[c]["train"] for c in ("A002-cucm", "A002-imp", "A002-cucxn")} == {"n-2"}
    assert {rows[c]["upgrade"] for c in ("A002-cucm", "A002-imp", "A002-cucxn")} == {"True"}
    assert rows["A002-cucm"]["target"] == "16.0 SU1"
    assert rows["A003-cucm"]["train"] == "unsupported"
    assert rows["A004-cer"]["train"] == "n"
    assert rows["A002-cucm"]["state"] == "what-if" and rows["A002-cucm"]["window_utc"]
    assert "what-if: v16.0 SU1" in Path(report["html"]).read_text()
    assert list(smtp_sink.glob("*.eml")) == []  # a what-if records and sends nothing
    assert count_rows(engine, "upgrade_plans") == 0


def test_the_change_freeze_stops_a_real_sweep_before_it_reads_anything(
    airflow_db, dagbag, ops_sqlite: str, data_dir: Path, smtp_sink: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", "year-end freeze")
    conf = {"as_of": AS_OF.isoformat(), "dry_run": False, "customers": None, "announce_release": None}
    run = dagbag.get_dag(DAG_ID).test(run_conf=conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert states["change_freeze_gate"] == "failed" and states["assess_fleet"] == "upstream_failed"
    assert list(smtp_sink.glob("*.eml")) == []
