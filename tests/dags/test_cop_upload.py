"""cop_upload end to end through dag.test(): real sshd on loopback, SMTP sink, SQLite ops DB."""

from __future__ import annotations

import json
import os
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.core.inventory import read_inventory
from di_ops.core.run_folders import run_folder_name
from di_ops.db.engine import make_engine, upgrade
from di_ops.integrations.opsdb import store_inventory
from include.demo.fleet import write_fleet
from include.demo.pipelines.cop import DEMO_REQUESTS, sftp_connection, write_inbox, write_repository
from include.demo.sshd import SshdLab
from tests.integrations import conftest as adapter_fixtures

# the real sshd and upload folders of the adapter tests
sshd_lab = adapter_fixtures.sshd_lab
sftp_root = adapter_fixtures.sftp_root

pytestmark = [pytest.mark.slow, pytest.mark.services]

FRIDAY_MORNING = "2026-11-27T10:00:00+00:00"  # 11:00 CET: no EMEA window open
FRIDAY_NIGHT_EMEA = "2026-11-27T20:30:00+00:00"  # 21:30 CET: inside Friday's EMEA window


@pytest.fixture
def cop_world(  # type: ignore[no-untyped-def]
    airflow_db, ops_sqlite: str, data_dir: Path, smtp_sink: Path, sshd_lab: SshdLab, sftp_root: Path, monkeypatch
):
    from airflow.models.pool import Pool

    from di_ops.pipelines.cop.settings import cop_settings

    Pool.create_or_update_pool(cop_settings().pool, slots=2, description="COP uploads (test)", include_deferred=False)
    write_fleet(data_dir / "inventory")
    engine = make_engine(ops_sqlite)
    upgrade(engine)
    store_inventory(engine, read_inventory(data_dir / "inventory"), created_at=__import__("datetime").datetime.now())
    shas = write_repository(data_dir / "cop" / "repository")
    for cid in ("C001", "C002", "C003", "C004", "C005"):
        folder = sftp_root / cid
        folder.mkdir()
        os.chmod(folder, 0o777)
        monkeypatch.setenv(
            f"AIRFLOW_CONN_COP_SFTP_{cid}",
            sftp_connection(
                sshd_lab.port, "root", str(sshd_lab.client_key), str(sshd_lab.host_key) + ".pub", str(folder)
            ),
        )
    return {"engine": engine, "shas": shas, "data": data_dir, "sftp": sftp_root, "outbox": smtp_sink}


def _conf(**changes: object) -> dict[str, object]:
    # every Param explicitly: dag.test(run_conf=...) on the shared DagBag's DAG keeps the params of
    # an earlier run (seen on Airflow 3.3.2), so a dry_run=True would leak into the next test
    base: dict[str, object] = {
        "dry_run": False,
        "as_of": FRIDAY_MORNING,
        "customer_id": None,
        "cop_file": None,
        "emergency": False,
        "origin": "operator",
    }
    return base | changes


def _requests(engine) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    from di_ops.db.tables_cop import cop_requests

    with engine.connect() as conn:
        return {r["inbox_file"] or r["request_id"]: dict(r) for r in conn.execute(select(cop_requests)).mappings()}


def test_inbox_to_verified_uploads_with_rejects_notice_and_window_pickup(dagbag, cop_world) -> None:  # type: ignore[no-untyped-def]
    data, sftp, engine = cop_world["data"], cop_world["sftp"], cop_world["engine"]
    inbox = data / "cop" / "inbox"
    write_inbox(inbox)
    (inbox / "garbage.json").write_text("{not json")
    dag = dagbag.get_dag("cop_upload")

    run = dag.test(run_conf=_conf())
    assert run.state == "success"
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert states[("upload", 0)] == "success"

    # the customer request went right away, verified, under its final name only
    devicepack = sftp / "C001" / "cmterm-devicepack15.0.1.13010-1.cop.sgn"
    assert devicepack.read_bytes() == (data / "cop" / "repository" / devicepack.name).read_bytes()
    assert sorted(p.name for p in (sftp / "C001").iterdir()) == [devicepack.name]

    # nothing is left in the inbox; bad requests are beside their reasons
    assert list(inbox.glob("*.json")) == []
    assert sorted(p.name for p in (inbox / "processed").glob("*.json")) == [
        "op-locale-C002.json",
        "op-psirt-C004.json",
        "sr-1001-C001.json",
    ]
    rejected = {p.name: p for p in (inbox / "rejected").iterdir()}
    assert set(rejected) == {
        "garbage.json",
        "garbage.json.reason.txt",
        "sr-1002-C003.json",
        "sr-1002-C003.json.reason.txt",
        "sr-1003-C005.json",
        "sr-1003-C005.json.reason.txt",
    }
    assert "not the published one" in rejected["sr-1002-C003.json.reason.txt"].read_text()
    assert "path component" in rejected["sr-1003-C005.json.reason.txt"].read_text()
    assert "not a JSON file" in rejected["garbage.json.reason.txt"].read_text()

    rows = _requests(engine)
    assert rows["sr-1001-C001.json"]["status"] == "uploaded"
    regular = rows["op-locale-C002.json"]
    assert regular["status"] == "planned"  # C002 is APJC: earliest change window >= 10 business days ahead
    assert str(regular["window_start"]) >= "2026-12-11"
    emergency = rows["op-psirt-C004.json"]
    assert emergency["status"] == "planned"
    assert str(emergency["window_start"]).startswith("2026-11-27 20:00")  # Friday 21:00 CET

    # one change notice with its calendar event, to the partner and the customer
    mails = sorted(cop_world["outbox"].glob("*.eml"))
    assert len(mails) == 1
    msg = message_from_bytes(mails[0].read_bytes())
    assert "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn" in msg["Subject"]
    assert any(p.get_filename() == "cop-upload.ics" for p in msg.walk())

    # receipt in the run report: file, bytes, checksum, duration, MB/s
    reports = list((data / "reports" / "cop_upload").glob("*.json"))
    assert len(reports) == 1
    receipt = json.loads(reports[0].read_text())["uploads"][0]
    assert receipt["file"] == devicepack.name and receipt["bytes"] == devicepack.stat().st_size
    assert receipt["sha512"] == cop_world["shas"][devicepack.name]
    assert receipt["duration_s"] > 0 and receipt["mb_per_s"] > 0

    # the window-timetabled pick-up: the run inside Friday's EMEA window uploads the emergency
    night = dag.test(run_conf=_conf(as_of=FRIDAY_NIGHT_EMEA))
    assert night.state == "success"
    psirt = sftp / "C004" / "ciscocm.CSCwk12345-v1.0.k4.cop.sgn"
    assert psirt.read_bytes() == (data / "cop" / "repository" / psirt.name).read_bytes()
    rows = _requests(engine)
    assert rows["op-psirt-C004.json"]["status"] == "uploaded"
    assert rows["op-locale-C002.json"]["status"] == "planned"
    assert len(list(cop_world["outbox"].glob("*.eml"))) == 1  # no second notice
    assert sorted(p.name for p in (sftp / "C001").iterdir()) == [devicepack.name]


def test_dry_run_plans_without_uploading_moving_or_recording(dagbag, cop_world) -> None:  # type: ignore[no-untyped-def]
    data, sftp = cop_world["data"], cop_world["sftp"]
    inbox = data / "cop" / "inbox"
    write_inbox(inbox, {"sr-1001-C001.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    run = dagbag.get_dag("cop_upload").test(run_conf=_conf(dry_run=True))
    assert run.state == "success"
    assert (inbox / "sr-1001-C001.json").exists()
    assert list((sftp / "C001").iterdir()) == []
    assert _requests(cop_world["engine"]) == {}
    report = json.loads(next((data / "reports" / "cop_upload").glob("*.json")).read_text())
    assert report["dry_run"] is True
    assert [p["status"] for p in report["dry_run_plan"]] == ["due"]


@pytest.mark.parametrize(
    ("changes", "param", "reason"),
    [
        ({"customer_id": "C001", "cop_file": "../../etc/passwd"}, "cop_file", "COP file name"),
        ({"customer_id": "C001", "cop_file": "ciscocm-fix.cop"}, "cop_file", "COP file name"),
        ({"customer_id": "C001", "cop_file": "ciscocm-missing-1.cop.sgn"}, "cop_file", "not in the COP repository"),
        ({"customer_id": "C001"}, "cop_file", "needs both customer_id and cop_file; cop_file is empty"),
        ({"customer_id": "C999", "cop_file": "cmterm-devicepack15.0.1.13010-1.cop.sgn"}, "customer_id", "C999"),
    ],
)
def test_a_refused_manual_request_fails_the_run_as_a_refusal_after_the_inbox_is_handled(  # type: ignore[no-untyped-def]
    dagbag, cop_world, changes: dict, param: str, reason: str
) -> None:
    """A green run means the request was carried out: the operator's refused request ends the run
    failed (report task, no retry, no alert mail), naming the Param; the inbox is still handled."""
    data, sftp = cop_world["data"], cop_world["sftp"]
    inbox = data / "cop" / "inbox"
    write_inbox(inbox, {"sr-1001-C001.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    run = dagbag.get_dag("cop_upload").test(run_conf=_conf(origin="customer", **changes))
    assert run.state == "failed"
    tis = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}
    assert tis[("report", -1)].state == "failed" and tis[("report", -1)].try_number == 1
    assert tis[("intake", -1)].state == "success"
    assert not (inbox / "sr-1001-C001.json").exists()  # the inbox request was still handled
    statuses = {r["status"] for r in _requests(cop_world["engine"]).values()}
    assert "rejected" in statuses and statuses - {"rejected"} <= {"uploaded"}
    report = json.loads(next((data / "reports" / "cop_upload").glob("*.json")).read_text())
    (rejected,) = report["rejected"]
    assert reason in rejected["reason"] and report["counts"]["rejected"] == 1
    assert not list(cop_world["outbox"].glob("*.eml")) or all(
        "failed" not in (message_from_bytes(p.read_bytes())["Subject"] or "") for p in cop_world["outbox"].glob("*.eml")
    )
    from di_ops.pipelines.cop.transfer import write_report

    with pytest.raises(Exception, match=rf"^Param {param}: manual request refused") as caught:
        write_report(
            {"manual": {"status": "rejected", "param": param, "reason": reason}}, dag_id="d", run_id="r", dry_run=True
        )
    assert caught.value.param == param  # type: ignore[attr-defined]
    assert list((sftp / "C001").glob("*.cop.sgn.part*")) == []


def test_a_dry_run_counts_what_intake_rejected_and_refuses_the_bad_manual_request(dagbag, cop_world) -> None:  # type: ignore[no-untyped-def]
    """The report of a dry run counts the rejected manual request (it said 0 before) and the run
    ends as a refusal naming the Param; nothing is recorded or moved."""
    data = cop_world["data"]
    run = dagbag.get_dag("cop_upload").test(
        run_conf=_conf(dry_run=True, customer_id="C001", cop_file="ciscocm-fix.cop", origin="customer")
    )
    assert run.state == "failed"
    report = json.loads(next((data / "reports" / "cop_upload").glob("*.json")).read_text())
    assert report["dry_run"] is True and report["counts"]["rejected"] == 1 and len(report["rejected"]) == 1
    assert _requests(cop_world["engine"]) == {}


def test_a_manual_request_with_a_changed_host_key_fails_the_upload_without_retries(
    dagbag, cop_world, sshd_lab: SshdLab, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "AIRFLOW_CONN_COP_SFTP_C001",
        sftp_connection(
            sshd_lab.port,
            "root",
            str(sshd_lab.client_key),
            "/nonexistent",
            str(cop_world["sftp"] / "C001"),
            host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvOqV5V0J8cX2l5b6w0yG4w6u1W8iJ9sQkz9yHh0pZ1",
        ),
    )
    conf = _conf(customer_id="C001", cop_file="cmterm-devicepack15.0.1.13010-1.cop.sgn", origin="customer")
    run = dagbag.get_dag("cop_upload").test(run_conf=conf)
    assert run.state == "failed"
    tis = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}
    assert tis[("upload", 0)].state == "failed"
    assert tis[("upload", 0)].try_number == 1  # a refused host key is not retried
    assert tis[("report", -1)].state == "failed"  # the report is written, then fails the run
    rows = _requests(cop_world["engine"])
    (row,) = rows.values()
    assert row["status"] == "failed"
    assert "changed or unknown" in row["reason"]
    assert list((cop_world["sftp"] / "C001").iterdir()) == []


def test_uploads_run_in_the_cop_pool_one_run_at_a_time_after_the_freeze_gate(dagbag) -> None:  # type: ignore[no-untyped-def]
    from di_ops.pipelines.cop.settings import cop_settings

    dag = dagbag.dags["cop_upload"]
    upload = dag.get_task("upload")
    assert upload.pool == cop_settings().pool and upload.pool_slots == cop_settings().pool_slots
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.get_task("report").trigger_rule == "all_done"
    assert "change_freeze_gate" in upload.get_flat_relative_ids(upstream=True)


def test_the_change_freeze_stops_uploads_and_leaves_the_inbox_alone(dagbag, cop_world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data, sftp = cop_world["data"], cop_world["sftp"]
    inbox = data / "cop" / "inbox"
    write_inbox(inbox, {"sr-1001-C001.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    monkeypatch.setenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", "year-end freeze")
    run = dagbag.get_dag("cop_upload").test(run_conf=_conf())
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert states["change_freeze_gate"] == "failed" and states["intake"] == "upstream_failed"
    assert states["report"] == "failed"  # all_done runs it; it must not turn the run green
    assert (inbox / "sr-1001-C001.json").exists()
    assert list((sftp / "C001").iterdir()) == []
    assert _requests(cop_world["engine"]) == {}


def test_a_window_closed_without_a_run_is_missed_alerted_and_replanned_through_the_dag(dagbag, cop_world) -> None:  # type: ignore[no-untyped-def]
    """The wiring of DOMAIN.md §2 ("flagged and re-planned with a new notice"): intake finds the miss,
    send_notices sends the operator's alert and the new notice, the report lists it; the run is green."""
    from datetime import UTC, datetime

    from di_ops.core.settings import pipelines
    from di_ops.rules.change import earliest_change_window

    data, engine = cop_world["data"], cop_world["engine"]
    write_inbox(data / "cop" / "inbox", {"op-locale-C002.json": DEMO_REQUESTS["op-locale-C002.json"]})
    dag = dagbag.get_dag("cop_upload")
    assert dag.test(run_conf=_conf()).state == "success"
    closed = earliest_change_window("APJC", datetime.fromisoformat(FRIDAY_MORNING)).end.astimezone(UTC)

    run = dag.test(run_conf=_conf(as_of=closed.isoformat()), run_after=closed)  # no run fell inside the window
    assert run.state == "success"
    row = _requests(engine)["op-locale-C002.json"]
    assert (row["status"], row["sequence"], row["misses"][-1]["window_end"]) == ("planned", 1, closed.isoformat())
    mails = [message_from_bytes(p.read_bytes()) for p in sorted(cop_world["outbox"].glob("*.eml"))]
    to_operator = [m for m in mails if m["To"] in pipelines().alerts.to]
    assert len(mails) == 3 and len(to_operator) == 1  # notice, alert, new notice
    assert "MISSED COP upload window" in to_operator[0]["Subject"]
    report = json.loads((data / "reports" / "cop_upload" / f"{run_folder_name(run.run_id)}.json").read_text())
    assert [m["request_id"] for m in report["missed"]] == [row["request_id"]]
    assert report["missed"][0]["alert_status"] == "sent"
