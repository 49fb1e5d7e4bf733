"""The lifecycle of a planned COP upload with the real components: the task bodies of cop_upload run
as the DAG runs them (intake -> send_notices -> upload, last try -> report) on a SQLite ops DB, a real
SMTP server on loopback (aiosmtpd) and a real OpenSSH sshd on loopback that the tests stop and start.

Source: DOMAIN.md §2 ("a plan is only as good as its execution"; a notice never names a window that has
begun; the notice period counts from the sending), §5 (regular operator COPs: notice + change window),
§0 (a window contains its opening instant, not its closing one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from di_ops.core.inventory import read_inventory
from di_ops.core.refusals import Refusal
from di_ops.core.settings import pipelines
from di_ops.db.schema import audit_log, notices
from di_ops.db.tables_cop import cop_requests
from di_ops.integrations.opsdb import ops_engine, store_inventory
from di_ops.pipelines.cop.notices import send_notices
from di_ops.pipelines.cop.tasks import intake
from di_ops.pipelines.cop.transfer import upload_request, write_report
from di_ops.rules.calendar import add_business_days
from di_ops.rules.change import earliest_change_window
from di_ops.rules.maintenance import Window
from include.demo.fleet import write_fleet
from include.demo.pipelines.cop import DEMO_REQUESTS, sftp_connection, write_inbox, write_repository
from include.demo.sshd import SshdLab, prepare_lab, sshd_binary, start, stop
from tests.conftest import free_port, service_missing

pytestmark = pytest.mark.services

MORNING = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday; C002 is APJC (windows 12:00-21:00 UTC)
LOCALE = "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn"
REGULAR = {"op.json": DEMO_REQUESTS["op-locale-C002.json"]}  # a regular operator upload for C002
US = timedelta(microseconds=1)


@dataclass
class StoppableSshd:
    """An sshd of its own (the session's shared one must keep running): stopped and started by the test."""

    lab: SshdLab
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = start(self.lab)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


@pytest.fixture
def own_sshd() -> Iterator[StoppableSshd]:
    if sshd_binary() is None or shutil.which("ssh-keygen") is None:
        service_missing("sshd", "openssh-server or ssh-keygen is not installed")
    top = Path(tempfile.mkdtemp(prefix="di-ops-sshd-"))
    os.chmod(top, 0o755)
    server = StoppableSshd(prepare_lab(top / "lab", free_port()))
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        service_missing("sshd", str(exc))
    yield server
    server.stop()
    shutil.rmtree(top, ignore_errors=True)


@dataclass
class Run:
    summary: dict[str, Any]
    report: dict[str, Any]
    errors: list[BaseException] = field(default_factory=list)

    @property
    def refusals_only(self) -> bool:
        return all(isinstance(e, Refusal) for e in self.errors)


@dataclass
class World:
    engine: Any
    data: Path
    outbox: Path
    upload: Path
    sshd: StoppableSshd

    def run(self, run_id: str, at: datetime) -> Run:
        """One run of cop_upload as of ``at``: every task body in DAG order, each upload on its last try."""
        facts = {"dag_id": "cop_upload", "run_id": run_id, "dry_run": False}
        summary = intake({}, as_of=at, started_at=at, **facts)
        errors: list[BaseException] = []
        try:
            send_notices(summary["notify"], alerts=summary["alerts"], as_of=at, started_at=at, **facts)
        except Exception as exc:  # noqa: BLE001 - the task fails; the run goes on (report: all_done)
            errors.append(exc)
        for n, item in enumerate(summary["due"]):
            try:
                upload_request(item, holder=f"cop_upload/{run_id}/{n}", last_try=True, **facts)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        try:
            write_report(summary, **facts)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        report = json.loads((self.data / "reports" / "cop_upload" / f"{run_id}.json").read_text())
        return Run(summary, report, errors)

    def row(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            (row,) = conn.execute(select(cop_requests)).mappings()
        return dict(row)

    def mails(self) -> list[Message]:
        return [message_from_bytes(p.read_bytes()) for p in sorted(self.outbox.glob("*.eml"))]

    def uploaded(self) -> bool:
        return (self.upload / LOCALE).exists()


@pytest.fixture
def world(data_dir: Path, tmp_path: Path, smtp_sink: Path, own_sshd: StoppableSshd, monkeypatch) -> World:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    engine = ops_engine()
    write_fleet(data_dir / "inventory")
    store_inventory(engine, read_inventory(data_dir / "inventory"), created_at=MORNING)
    write_repository(data_dir / "cop" / "repository")
    upload = Path(tempfile.mkdtemp(prefix="di-ops-sftp-"))
    os.chmod(upload, 0o777)
    lab = own_sshd.lab
    monkeypatch.setenv(
        "AIRFLOW_CONN_COP_SFTP_C002",
        sftp_connection(lab.port, "root", str(lab.client_key), str(lab.host_key) + ".pub", str(upload)),
    )
    write_inbox(data_dir / "cop" / "inbox", REGULAR)
    yield World(engine, data_dir, smtp_sink, upload, own_sshd)
    shutil.rmtree(upload, ignore_errors=True)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _ics(message: Message) -> str:
    (part,) = [p for p in message.walk() if p.get_filename() == "cop-upload.ics"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _planned(world: World) -> Window:
    """Run at MORNING: the request is planned in the earliest change window and its notice is sent."""
    first = world.run("plan", MORNING)
    assert first.errors == []
    window = earliest_change_window("APJC", MORNING)
    row = world.row()
    assert (row["status"], row["sequence"]) == ("planned", 0)
    assert (_utc(row["window_start"]), _utc(row["window_end"])) == (window.start, window.end)
    assert _utc(row["notified_at"]) == MORNING
    return window


# --- (a) the window passes with the server down: missed, one alert, re-planned, then uploaded ---------


def test_a_window_passed_with_the_server_down_is_missed_alerted_once_replanned_and_then_uploaded(world: World) -> None:
    first_window = _planned(world)
    (notice,) = world.mails()
    assert "SEQUENCE:0" in _ics(notice) and f"DTSTART:{_stamp(first_window.start)}" in _ics(notice)

    world.sshd.stop()
    inside = world.run("in-window", first_window.start)  # the window opens: due, but the server is down
    assert [i["cop_file"] for i in inside.summary["due"]] == [LOCALE]
    assert inside.errors and inside.refusals_only  # red, but no on-call alert per run: the miss alerts
    row = world.row()
    assert row["status"] == "planned" and "cannot reach" in row["last_error"]
    assert [n["request_id"] for n in inside.report["not_uploaded"]] == [row["request_id"]]
    late = world.run("in-window-later", first_window.end - timedelta(minutes=15))  # tried again, still down
    assert late.summary["due"] and not world.uploaded()

    closed = world.run("closed", first_window.end)  # the first run at the window's end finds it missed
    assert closed.errors == []
    (miss,) = closed.summary["missed"]
    assert "closed without the upload" in miss["reason"] and "cannot reach" in miss["reason"]
    new_window = earliest_change_window("APJC", first_window.end)
    assert new_window.start >= add_business_days("APJC", first_window.end, 10) > first_window.end
    assert (miss["new_window_start"], miss["new_sequence"]) == (_iso(new_window.start), 1)
    row = world.row()
    assert (row["status"], row["sequence"], row["last_error"]) == ("planned", 1, None)
    assert _utc(row["notified_at"]) == first_window.end  # the new notice went out in the same run
    assert (_utc(row["window_start"]), _utc(row["window_end"])) == (new_window.start, new_window.end)

    # one alert to the operator, one new notice (same calendar event, SEQUENCE 1) naming the new window
    oncall = set(pipelines().alerts.to)
    mails = world.mails()
    alerts = [m for m in mails if set(m["To"].split(", ")) <= oncall]
    notices_sent = [m for m in mails if not set(m["To"].split(", ")) <= oncall]
    assert len(alerts) == 1 and alerts[0]["Subject"].startswith("MISSED COP upload window")
    assert len(notices_sent) == 2 and notices_sent[1]["Subject"].startswith("Re-planned maintenance")
    ics = _ics(notices_sent[1])
    assert "SEQUENCE:1" in ics and f"DTSTART:{_stamp(new_window.start)}" in ics
    assert _ics(notices_sent[0]).split("UID:")[1].split()[0] == ics.split("UID:")[1].split()[0]
    # the report row, and the audit entries with the reason
    (reported,) = closed.report["missed"]
    assert reported["alert_status"] == "sent" and reported["reason"] == miss["reason"]
    assert closed.report["counts"]["missed"] == 1
    with world.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log).where(audit_log.c.run_id == "closed"))]
        keys = {r.dedupe_key: r.status for r in conn.execute(select(notices))}
    assert actions == ["cop_request_missed", "cop_request_replanned"]
    assert keys[miss["alert"]] == "sent" and keys[f"cop:{row['request_id']}:1"] == "sent"

    again = world.run("after", first_window.end + timedelta(minutes=15))  # nothing twice
    assert again.errors == [] and again.summary["missed"] == again.summary["alerts"] == []
    assert len(world.mails()) == 3
    assert world.run("before-new", new_window.start - US).summary["due"] == []

    world.sshd.start()
    done = world.run("new-window", new_window.start)  # the first run in the new window uploads it
    assert done.errors == [] and world.uploaded()
    assert world.row()["status"] == "uploaded" and done.report["uploads"][0]["file"] == LOCALE


# --- (b) a notice that failed: never uploaded in its window, re-planned once the notice is sent --------


def test_an_upload_whose_notice_failed_is_not_uploaded_in_its_window_and_replanned_when_the_notice_goes(  # type: ignore[no-untyped-def]
    world: World, monkeypatch
) -> None:
    smtp = os.environ["AIRFLOW_CONN_SMTP_DEFAULT"]
    down = json.loads(smtp) | {"port": free_port()}  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(down | {"extra": down["extra"] | {"retry_limit": 0}}))
    first = world.run("plan", MORNING)
    assert first.errors and not isinstance(first.errors[0], Refusal)  # a fault: retried, then alerted
    proposed = earliest_change_window("APJC", MORNING)
    row = world.row()
    assert row["notified_at"] is None and _utc(row["window_start"]) == proposed.start

    opened = world.run("window-opens", proposed.start)  # its window opens, the notice still not sent
    assert opened.summary["due"] == [] and not world.uploaded()
    (replanned,) = opened.report["replanned"]
    assert "was not sent by its window" in replanned["reason"] and replanned["notice"] == "failed"
    assert replanned["new_window_start"] == _iso(earliest_change_window("APJC", proposed.start).start)

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp)  # the mail server is back
    sent_at = proposed.start + timedelta(hours=3)
    sent = world.run("notice-sent", sent_at)
    assert sent.errors == [] and sent.summary["due"] == []
    window = earliest_change_window("APJC", sent_at)
    row = world.row()
    assert _utc(row["notified_at"]) == sent_at and row["sequence"] == 0
    assert _utc(row["window_start"]) == window.start >= add_business_days("APJC", sent_at, 10)
    (notice,) = world.mails()  # the notice names the window computed when it was sent
    assert f"DTSTART:{_stamp(window.start)}" in _ics(notice)

    assert world.run("before", window.start - US).summary["due"] == []
    done = world.run("in-window", window.start)
    assert done.errors == [] and world.uploaded() and world.row()["status"] == "uploaded"


# --- (c) both sides of the window's end -------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [(-US, "uploaded"), (timedelta(0), "missed"), (US, "missed")],
    ids=["1us-before-the-end", "at-the-end", "1us-after-the-end"],
)
def test_the_window_end_is_exclusive(world: World, offset: timedelta, outcome: str) -> None:
    window = _planned(world)
    run = world.run("at-the-edge", window.end + offset)
    assert run.errors == []
    if outcome == "uploaded":
        assert world.uploaded() and world.row()["status"] == "uploaded" and run.summary["missed"] == []
    else:
        assert not world.uploaded() and run.summary["due"] == []
        (miss,) = run.summary["missed"]
        assert miss["window_end"] == _iso(window.end) and "no upload was attempted" in miss["reason"]
        assert (world.row()["status"], world.row()["sequence"]) == ("planned", 1)


@pytest.mark.parametrize(("offset", "due"), [(-US, False), (timedelta(0), True)], ids=["1us-before", "at-the-start"])
def test_the_window_start_is_inclusive(world: World, offset: timedelta, due: bool) -> None:
    window = _planned(world)
    world.sshd.stop()  # only the decision is looked at here
    run = world.run("at-the-start", window.start + offset)
    assert bool(run.summary["due"]) is due and run.summary["missed"] == []
