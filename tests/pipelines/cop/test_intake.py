"""cop_upload task bodies on a real ops DB (SQLite), inbox folder and sshd: read once, missed windows,
a killed upload retried by the task body resumes and records one receipt."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.core.inventory import read_inventory
from di_ops.db.tables_cop import cop_leases, cop_requests, cop_uploads
from di_ops.integrations.opsdb import ops_engine, store_inventory
from di_ops.integrations.sftp.upload import UploadInterrupted
from di_ops.pipelines.cop.tasks import intake
from di_ops.pipelines.cop.transfer import upload_request
from include.demo.fleet import write_fleet
from include.demo.pipelines.cop import DEMO_REQUESTS, sftp_connection, write_inbox, write_repository
from include.demo.sshd import SshdLab
from tests.integrations import conftest as adapter_fixtures

sshd_lab = adapter_fixtures.sshd_lab
sftp_root = adapter_fixtures.sftp_root
cutting_proxy = adapter_fixtures.cutting_proxy

MORNING = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DEVICEPACK = "cmterm-devicepack15.0.1.13010-1.cop.sgn"


@pytest.fixture
def world(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    engine = ops_engine()
    write_fleet(data_dir / "inventory")
    store_inventory(engine, read_inventory(data_dir / "inventory"), created_at=MORNING)
    write_repository(data_dir / "cop" / "repository")
    for cid in ("C001", "C002", "C004"):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_COP_SFTP_{cid}",
            sftp_connection(22, "root", "/nonexistent", "/nonexistent", "/upload"),
        )
    return engine, data_dir / "cop" / "inbox"


def _intake(run_id: str, as_of: datetime = MORNING, dry_run: bool = False) -> dict:
    return intake({}, dag_id="cop_upload", run_id=run_id, as_of=as_of, started_at=as_of, dry_run=dry_run)


def _statuses(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {r.inbox_file: r.status for r in conn.execute(select(cop_requests))}


def test_an_inbox_file_is_never_read_twice_even_when_a_crash_left_it_behind(world) -> None:  # type: ignore[no-untyped-def]
    engine, inbox = world
    write_inbox(inbox, {"sr.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    first = _intake("run-1")
    assert [item["cop_file"] for item in first["due"]] == [DEVICEPACK]
    assert (inbox / "processed" / "sr.json").exists() and not (inbox / "sr.json").exists()

    shutil.copy(inbox / "processed" / "sr.json", inbox / "sr.json")  # the move "did not happen"
    second = _intake("run-2")
    assert second["rejected"] == [] and second["planned"] == []
    with engine.connect() as conn:
        assert len(conn.execute(select(cop_requests)).all()) == 1
    assert not (inbox / "sr.json").exists()
    assert len(list((inbox / "processed").glob("*sr.json"))) == 2  # moved beside, under another name
    # the request is still due (not uploaded yet), so the next run picks it up once
    assert [item["request_id"] for item in second["due"]] == [item["request_id"] for item in first["due"]]


def test_before_the_first_inventory_the_inbox_waits_and_a_manual_request_fails(  # type: ignore[no-untyped-def]
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    inbox = data_dir / "cop" / "inbox"
    write_inbox(inbox, {"sr.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    result = _intake("run-early")
    assert result["waiting_for_inventory"] == 1
    assert result["due"] == result["rejected"] == result["planned"] == []
    assert (inbox / "sr.json").exists()  # untouched: read by the first run after inventory_sync
    assert not (inbox / "processed").exists() and not (inbox / "rejected").exists()
    with pytest.raises(RuntimeError, match="inventory_sync must run first"):
        intake(
            {"customer_id": "C001", "cop_file": DEVICEPACK},
            dag_id="cop_upload",
            run_id="run-manual",
            as_of=MORNING,
            started_at=MORNING,
            dry_run=False,
        )


def test_a_dry_run_reads_but_keeps_the_inbox_and_records_nothing(world) -> None:  # type: ignore[no-untyped-def]
    engine, inbox = world
    write_inbox(inbox, {"sr.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    summary = _intake("dry", dry_run=True)
    assert [p["status"] for p in summary["dry_run_plan"]] == ["due"]
    assert (inbox / "sr.json").exists()
    assert _statuses(engine) == {}


def test_planned_uploads_are_picked_up_in_their_window_and_missed_after_it(world) -> None:  # type: ignore[no-untyped-def]
    engine, inbox = world
    write_inbox(inbox, {"psirt.json": DEMO_REQUESTS["op-psirt-C004.json"]})
    assert _intake("morning")["due"] == []
    assert _statuses(engine) == {"psirt.json": "planned"}
    inside = _intake("in-window", as_of=datetime(2026, 11, 27, 21, 0, tzinfo=UTC))
    assert [i["customer_id"] for i in inside["due"]] == ["C004"]
    after = _intake("too-late", as_of=datetime(2026, 11, 28, 5, 0, tzinfo=UTC))  # 06:00 CET: window closed
    assert after["due"] == [] and len(after["missed"]) == 1
    (miss,) = after["missed"]
    assert "no upload was attempted" in miss["reason"]
    # an emergency is re-planned into the next maintenance window, weekend included, without a notice
    assert miss["new_window_start"] == "2026-11-28T20:00:00+00:00" and miss["new_notice"] is False
    assert after["notify"] == [] and [a["dedupe_key"] for a in after["alerts"]] == [miss["alert"]]
    with engine.connect() as conn:
        (row,) = conn.execute(select(cop_requests)).mappings()
    assert (row["status"], row["sequence"], row["misses"][-1]["sequence"]) == ("planned", 1, 0)


@pytest.fixture
def few_in_flight(config_copy: Path):  # type: ignore[no-untyped-def]
    """cop.yaml with 2 writes in flight, so a cut half-way leaves bytes on the server to resume from."""
    from di_ops.pipelines.cop.settings import cop_settings

    path = config_copy / "cop.yaml"
    text = path.read_text()
    assert "max_outstanding: 8" in text
    path.write_text(text.replace("max_outstanding: 8", "max_outstanding: 2"))
    cop_settings.cache_clear()
    yield
    cop_settings.cache_clear()


@pytest.mark.services
def test_a_killed_upload_is_retried_by_the_task_body_resumes_and_records_one_receipt(  # type: ignore[no-untyped-def]
    world, sshd_lab: SshdLab, sftp_root: Path, cutting_proxy, few_in_flight, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, inbox = world
    folder = sftp_root / "C001"
    folder.mkdir()
    os.chmod(folder, 0o777)
    monkeypatch.setenv(
        "AIRFLOW_CONN_COP_SFTP_C001",
        sftp_connection(
            cutting_proxy.port, "root", str(sshd_lab.client_key), str(sshd_lab.host_key) + ".pub", str(folder)
        ),
    )
    write_inbox(inbox, {"sr.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    (item,) = _intake("run-1")["due"]
    kwargs = {"dag_id": "cop_upload", "run_id": "run-1", "holder": "cop_upload/run-1/0", "dry_run": False}

    cutting_proxy.cut_after = item["bytes"] // 2
    with pytest.raises(UploadInterrupted):
        upload_request(item, last_try=False, **kwargs)
    assert _statuses(engine) == {"sr.json": "due"}  # a transient failure leaves it due for the retry
    with engine.connect() as conn:
        assert conn.execute(select(cop_leases)).all() == []  # the lease was released
    assert not (folder / DEVICEPACK).exists()

    cutting_proxy.cut_after = None
    receipt = upload_request(item, last_try=False, **kwargs)
    assert receipt["outcome"] == "resumed" and 0 < receipt["resumed_from"] < item["bytes"]
    assert receipt["sha512"] == item["sha512"]
    assert _statuses(engine) == {"sr.json": "uploaded"}
    sent = cutting_proxy.total_forwarded
    again = upload_request(item, last_try=False, **kwargs)  # a rerun finds the receipt: nothing sent
    assert again["outcome"] == "resumed" and cutting_proxy.total_forwarded == sent
    with engine.connect() as conn:
        assert len(conn.execute(select(cop_uploads)).all()) == 1


# --- hostile inbox entries: each rejected with its reason, the run goes on ----------------------

HOSTILE = {
    "long-cop-name.json": b'{"customer_id": "C001", "cop_file": "' + b"a" * 300 + b'.cop.sgn"}',
    "deep.json": b"[" * 30_000 + b"]" * 30_000,  # under the size limit: the depth limit refuses it
    "huge.json": b'{"customer_id": "C001", "cop_file": "x.cop.sgn", "pad": "' + b" " * 70_000 + b'"}',
    ("n" * 240 + ".json"): b"{not json",  # its reason file's name must be shortened to fit
}


def _plant(inbox: Path, canary: Path) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for name, content in HOSTILE.items():
        (inbox / name).write_bytes(content)
    (inbox / "folder.json").mkdir()
    (inbox / "folder.json" / "inside.txt").write_text("kept")
    (inbox / "link.json").symlink_to(canary)
    os.mkfifo(inbox / "fifo.json")


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "canary.json"
    path.parent.mkdir()
    path.write_text(json.dumps(DEMO_REQUESTS["sr-1001-C001.json"]))  # a valid request, if it were followed
    return path


def test_hostile_inbox_entries_are_rejected_with_reasons_and_the_good_request_goes_on(world, canary: Path) -> None:  # type: ignore[no-untyped-def]
    engine, inbox = world
    _plant(inbox, canary)
    write_inbox(inbox, {"good.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    before = canary.read_bytes()

    summary = _intake("run-hostile")

    assert [i["cop_file"] for i in summary["due"]] == [DEVICEPACK]  # the good one was not held up
    reasons = {r["request_id"]: r["reason"] for r in summary["rejected"]}
    assert len(reasons) == 7 and all(reasons.values())
    rows = {r.inbox_file: r.reason for r in engine.connect().execute(select(cop_requests))}
    assert "at most 255" in rows["long-cop-name.json"]
    assert "nested 30000 deep" in rows["deep.json"]
    assert "larger than 65536 bytes" in rows["huge.json"]
    assert "not a JSON file" in rows["n" * 240 + ".json"]
    assert "symbolic link" in rows["link.json"]
    assert "folder" in rows["folder.json"]
    assert "FIFO" in rows["fifo.json"]

    assert canary.read_bytes() == before  # never read through, never written
    assert sorted(p.name for p in inbox.iterdir()) == ["processed", "rejected"]
    rejected = inbox / "rejected"
    assert (rejected / "link.json").is_symlink() and os.readlink(rejected / "link.json") == str(canary)
    assert (rejected / "folder.json" / "inside.txt").read_text() == "kept"
    notes = sorted(rejected.glob("*.reason.txt"))
    assert len(notes) == 7 and all(len(os.fsencode(n.name)) <= 255 and n.read_text().strip() for n in notes)
    assert any("n" * 200 in n.read_text() for n in notes)  # the shortened note names its request file

    again = _intake("run-after")  # the next run finds a clean inbox: nothing fails, nothing re-read
    assert again["rejected"] == [] and again["due"][0]["cop_file"] == DEVICEPACK


def test_a_dry_run_reports_the_rejections_intake_made(world, canary: Path) -> None:  # type: ignore[no-untyped-def]
    from di_ops.pipelines.cop.transfer import write_report

    engine, inbox = world
    _plant(inbox, canary)
    write_inbox(inbox, {"good.json": DEMO_REQUESTS["sr-1001-C001.json"]})
    summary = _intake("dry-hostile", dry_run=True)
    counts = write_report(summary, dag_id="cop_upload", run_id="dry-hostile", dry_run=True)
    assert counts["rejected"] == len(summary["rejected"]) == 7
    assert counts["due"] == 1
    assert _statuses(engine) == {}
    assert (inbox / "link.json").is_symlink() and (inbox / "fifo.json").exists()  # a dry run moves nothing
