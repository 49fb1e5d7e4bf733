"""incident_watch task bodies on golden cases, against a real SMTP server on loopback and a SQLite ops DB.

Source: DOMAIN.md §7, §7a, §2 (data gap); docs/pipelines/incident_watch.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from di_ops.db.engine import make_engine
from di_ops.db.tables_sla import sla_quarantine, sla_watch_cases, sla_watch_files, sla_watch_notices
from di_ops.pipelines.sla.watch_state import aware
from tests.pipelines.sla.watch_world import NO_PARTNER, body, case, mails, run_watch, store_snapshot, write_export

SAT_2355 = "2026-12-05T23:55:00Z"  # Saturday 23:55 UTC (Sunday 00:55 in Amsterdam)
SUNDAY = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)


def _connection(url: str) -> dict[str, Any]:
    """The Airflow connection (as JSON) of the ops DB at ``url``."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"conn_type": "sqlite", "host": parsed.database}
    return {
        "conn_type": "postgres",
        "host": parsed.host,
        "port": parsed.port,
        "login": parsed.username,
        "password": parsed.password,
        "schema": parsed.database,
    }


@pytest.fixture
def world(  # type: ignore[no-untyped-def]
    ops_url: str, data_dir: Path, smtp_sink: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The demo inventory, an export folder, the SMTP sink and the ops DB (SQLite, then PostgreSQL)."""
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps(_connection(ops_url)))
    store_snapshot(tmp_path / "inventory", SUNDAY - timedelta(days=1))
    engine = make_engine(ops_url)
    yield {"exports": data_dir / "exports", "outbox": smtp_sink, "engine": engine}
    engine.dispose()


def _rows(engine: Any, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def test_an_s1_at_2355_on_saturday_is_told_to_the_partner_within_15_minutes_and_once(world: dict[str, Any]) -> None:
    exports, outbox = world["exports"], world["outbox"]
    write_export(exports / "cases-1.csv", [case("TAC-S1", SAT_2355)])

    first = run_watch(exports, SUNDAY, "scheduled__1", sent_at=SUNDAY + timedelta(seconds=20))

    (mail,) = mails(outbox)
    assert mail["To"] == "noc@partner-emea.example"  # the partner contact of C004, not the customer's
    assert mail["Subject"] == "[S1] TAC case TAC-S1: incident at Customer 004 (EMEA) (C004)"
    text = body(mail)
    assert "Widespread" in text and "Critical" in text
    # next update: 15 min after opening (00:10 UTC), shown in Amsterdam time and UTC
    assert "2026-12-06 01:10 CET (2026-12-06 00:10 UTC)" in text
    assert first["notified"]["sent"] == 1
    (notice,) = _rows(world["engine"], sla_watch_notices)
    assert aware(notice["due_at"]) == datetime(2026, 12, 6, 0, 10, tzinfo=UTC)
    assert aware(notice["sent_at"]) <= aware(notice["due_at"])

    again = run_watch(exports, SUNDAY + timedelta(minutes=5), "scheduled__2")
    assert again["plan"]["changed"] == [] and again["notified"]["due"] == 0
    assert len(mails(outbox)) == 1


def test_a_raise_from_s2_to_s1_sends_a_second_notice(world: dict[str, Any]) -> None:
    exports, outbox = world["exports"], world["outbox"]
    write_export(exports / "cases-1.csv", [case("TAC-R", SAT_2355, severity="S2", impact="Localized")])
    run_watch(exports, SUNDAY, "scheduled__1")
    write_export(exports / "cases-2.csv", [case("TAC-R", SAT_2355, severity="S1")])
    second = run_watch(exports, SUNDAY + timedelta(minutes=5), "scheduled__2")

    subjects = [m["Subject"] for m in mails(outbox)]
    assert [s.split("]")[0] for s in subjects] == ["[S2", "[S1"]
    assert "raised from S2" in body(mails(outbox)[1])
    assert second["ingested"]["changed"] == 1 and second["ingested"]["new"] == 0
    assert {(n["case_id"], n["severity"]) for n in _rows(world["engine"], sla_watch_notices)} == {
        ("TAC-R", "S2"),
        ("TAC-R", "S1"),
    }
    # and back down to S2: the partner already knows worse, nothing more
    write_export(exports / "cases-3.csv", [case("TAC-R", SAT_2355, severity="S2", impact="Localized")])
    run_watch(exports, SUNDAY + timedelta(minutes=10), "scheduled__3")
    assert len(mails(outbox)) == 2


def test_duplicate_rows_across_two_exports_are_one_case_and_one_notice(world: dict[str, Any]) -> None:
    exports, outbox = world["exports"], world["outbox"]
    row = case("TAC-D", SAT_2355)
    write_export(exports / "a.csv", [row, case("TAC-X", SAT_2355, severity="S3", impact="Personalized")])
    write_export(exports / "b.csv", [row])

    result = run_watch(exports, SUNDAY, "scheduled__1")

    assert len(mails(outbox)) == 1
    assert result["ingested"]["quarantined"] == 0  # the same case in two files is not a duplicate id
    assert [f["name"] for f in result["ingested"]["files"]] == ["a.csv", "b.csv"]
    assert result["ingested"]["new"] == 2
    assert len(_rows(world["engine"], sla_watch_files)) == 2


def test_a_response_between_two_runs_ends_the_escalation_and_alerts_only_once(world: dict[str, Any]) -> None:
    exports, outbox = world["exports"], world["outbox"]
    write_export(exports / "cases-1.csv", [case("TAC-E", "2026-12-06T10:00:00Z")])
    run_watch(exports, datetime(2026, 12, 6, 10, 5, tzinfo=UTC), "r1")  # the partner notice
    late = run_watch(exports, datetime(2026, 12, 6, 10, 16, tzinfo=UTC), "r2")  # past 10:15 without response
    again = run_watch(exports, datetime(2026, 12, 6, 10, 21, tzinfo=UTC), "r3")  # still, nothing new
    subjects = [m["Subject"] for m in mails(outbox)]
    assert late["result"]["alerts"] == 1 and again["result"]["alerts"] == 0
    assert subjects[1] == "[di-ops] ESCALATE S1 case TAC-E (C004): no first response within the objective"
    alert = mails(outbox)[1]
    assert alert["To"] == "di-ops-oncall@localhost"
    assert "SVC-004004" in body(alert) and "+31 20 555 0004" in body(alert) and "Polder Telecom NOC" in body(alert)

    responded = case("TAC-E", "2026-12-06T10:00:00Z", first_response_at="2026-12-06T10:22:00Z")
    write_export(exports / "cases-2.csv", [responded])
    after = run_watch(exports, datetime(2026, 12, 6, 10, 26, tzinfo=UTC), "r4")
    (state,) = _rows(world["engine"], sla_watch_cases)
    assert state["candidate_state"] == "none" and after["result"]["candidates_changed"] == 1
    assert aware(state["candidate_changed_at"]) == datetime(2026, 12, 6, 10, 26, tzinfo=UTC)
    assert len(mails(outbox)) == 2  # no alert for leaving the candidate state


def test_a_customer_without_a_partner_contact_is_an_operator_alert_naming_the_data_gap(world: dict[str, Any]) -> None:
    exports, outbox = world["exports"], world["outbox"]
    write_export(exports / "cases-1.csv", [case("TAC-G", SAT_2355, customer=NO_PARTNER)])

    result = run_watch(exports, SUNDAY, "scheduled__1")

    (mail,) = mails(outbox)
    assert mail["To"] == "di-ops-oncall@localhost"
    assert mail["Subject"] == f"[di-ops] DATA GAP: no partner contact for {NO_PARTNER}, S1 case TAC-G"
    assert "DOMAIN.md §2" in body(mail)
    assert result["notified"]["gaps"] == ["TAC-G"]
    (notice,) = _rows(world["engine"], sla_watch_notices)
    assert notice["kind"] == "no_partner_contact" and notice["sent_at"] is None  # not counted as told
    run_watch(exports, SUNDAY + timedelta(minutes=5), "scheduled__2")
    assert len(mails(outbox)) == 1  # once per case and severity


def test_a_quarantined_row_is_never_notified(world: dict[str, Any]) -> None:
    exports, outbox = world["exports"], world["outbox"]
    naive = case("TAC-Q", "2026-12-05T23:55:00")  # no zone: refused by the blocking timestamps rule
    write_export(exports / "cases-1.csv", [naive, case("TAC-OK", SAT_2355, severity="S4", urgency="Low")])

    result = run_watch(exports, SUNDAY, "scheduled__1")

    assert mails(outbox) == []
    assert result["ingested"]["quarantined"] == 1
    (quarantined,) = _rows(world["engine"], sla_quarantine)
    assert (quarantined["case_id"], quarantined["dag_id"]) == ("TAC-Q", "incident_watch")
    assert "timestamps_valid" in quarantined["reasons"]
    assert [c["case_id"] for c in _rows(world["engine"], sla_watch_cases)] == ["TAC-OK"]


class Killed(BaseException):
    """The worker dies (not an Exception: nothing in the code under test catches it)."""


def test_a_run_killed_after_sending_and_before_recording_does_not_send_twice(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from di_ops.pipelines.sla import watch_state

    exports, outbox = world["exports"], world["outbox"]
    write_export(exports / "cases-1.csv", [case("TAC-K", SAT_2355)])

    def die(*args: Any, **kwargs: Any) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(watch_state, "record_notice", die)
        with pytest.raises(Killed):
            run_watch(exports, SUNDAY, "scheduled__1")
    assert len(mails(outbox)) == 1 and _rows(world["engine"], sla_watch_notices) == []

    retry = run_watch(exports, SUNDAY, "scheduled__1")  # the task's retry
    assert len(mails(outbox)) == 1  # the notices table said sent: nothing sent again
    assert retry["notified"]["already_sent"] == 1
    assert len(_rows(world["engine"], sla_watch_notices)) == 1


def test_killed_between_the_smtp_accept_and_the_sent_mark_the_retry_repeats_the_same_message_id(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from di_ops.integrations import mail

    exports, outbox = world["exports"], world["outbox"]
    write_export(exports / "cases-1.csv", [case("TAC-M", SAT_2355)])
    real_send = mail._smtp_send

    def send_then_die(notice: Any, conn_id: str) -> None:
        real_send(notice, conn_id)
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(mail, "_smtp_send", send_then_die)
        with pytest.raises(Killed):
            run_watch(exports, SUNDAY, "scheduled__1")
    run_watch(exports, SUNDAY, "scheduled__1")
    run_watch(exports, SUNDAY + timedelta(minutes=5), "scheduled__2")

    ids = [m["Message-ID"] for m in mails(outbox)]
    # SMTP has no exactly-once: the one unavoidable repeat carries the same Message-ID, which mail
    # clients show as one message; after the mark, nothing more is sent.
    assert len(ids) == 2 and ids[0] == ids[1] == mail.message_id("incident:TAC-M:S1")


def test_s3_s4_candidates_and_channel_deviations_go_into_one_daily_digest(world: dict[str, Any]) -> None:
    exports, outbox = world["exports"], world["outbox"]
    rows = [
        case("TAC-3", "2026-12-03T09:00:00Z", severity="S3", impact="Personalized", channel="case manager"),
        case("TAC-P", "2026-12-07T06:00:00Z", severity="S4", urgency="Low", channel="phone"),  # deviation
        case("TAC-W", "2026-12-07T06:50:00Z", severity="S2", impact="Localized", channel="web"),  # deviation
    ]
    write_export(exports / "cases-1.csv", rows, extra=("channel",))
    before = run_watch(exports, datetime(2026, 12, 7, 6, 55, tzinfo=UTC), "r1")  # Monday, before the digest hour
    assert before["result"]["digest"] is None
    assert {d["case_id"] for d in before["ingested"]["deviations"]} == {"TAC-P", "TAC-W"}
    run_watch(exports, datetime(2026, 12, 7, 7, 0, tzinfo=UTC), "r2")
    run_watch(exports, datetime(2026, 12, 7, 7, 5, tzinfo=UTC), "r3")

    digests = [m for m in mails(outbox) if "digest" in m["Subject"]]
    assert len(digests) == 1
    assert digests[0]["Subject"].strip() == "[di-ops] TAC case digest 2026-12-07: 1 S3/S4 candidate(s), 2 deviation(s)"
    text = body(digests[0])
    assert "TAC-3" in text and "no first response within the objective" in text and "SVC-004004" in text
    assert "S4 raised through the phone" in text and "S2 raised through the case manager" in text
    report = json.loads(next((exports.parent / "sla" / "watch").glob("*/run.json")).read_text())
    assert {d["case_id"] for d in report["process_deviations"]} == {"TAC-P", "TAC-W"}


def test_an_unchanged_folder_reads_nothing_and_a_touched_file_is_not_read_again(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from di_ops.pipelines.sla import exports as reader
    from di_ops.pipelines.sla import quality

    exports = world["exports"]
    path = write_export(exports / "cases-1.csv", [case("TAC-T", SAT_2355, severity="S3", impact="Personalized")])
    run_watch(exports, SUNDAY, "r1")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the steady state reads no export and builds no GX context")

    monkeypatch.setattr(quality, "validate", forbidden)
    monkeypatch.setattr(reader, "read_file", forbidden)
    touched = run_watch(exports, SUNDAY + timedelta(minutes=5), "r2")
    assert touched["plan"]["changed"] == [] and [t["name"] for t in touched["plan"]["touched"]] == ["cases-1.csv"]
    assert touched["ingested"]["files"] == []
    steady = run_watch(exports, SUNDAY + timedelta(minutes=10), "r3")
    assert steady["plan"]["changed"] == [] and steady["plan"]["touched"] == []


def test_the_sla_audit_report_counts_the_proactive_notices_sent_within_the_objective(world: dict[str, Any]) -> None:
    from di_ops.pipelines.sla import tasks as sla

    exports = world["exports"]
    rows = [
        case("TAC-IN", SAT_2355),  # told at 00:00: within 15 min
        case("TAC-LATE", "2026-12-05T23:40:00Z", severity="S2", impact="Localized"),  # told 00:12: late (00:10)
        case("TAC-GAP", SAT_2355, customer=NO_PARTNER),  # no partner contact: never told
    ]
    write_export(exports / "cases-1.csv", rows[:1] + rows[2:])
    run_watch(exports, SUNDAY, "w1")
    write_export(exports / "cases-2.csv", rows[1:2])
    run_watch(exports, SUNDAY + timedelta(minutes=12), "w2")
    write_export(exports / "cases-3.csv", [case("TAC-NEW", "2026-12-06T00:20:00Z")])  # not seen, not due yet

    as_of = SUNDAY + timedelta(minutes=25)
    plan = sla.start_audit({"export_path": str(exports), "as_of": as_of.isoformat()}, "audit_1", None, as_of)
    sla.check_quality(plan)
    sla.audit_cases(plan)
    sla.write_report(plan)

    folder = Path(plan["run_dir"])
    figures = json.loads((folder / sla.FIGURES).read_text())
    assert figures["proactive_notices"] == {
        "sent_within": 1,
        "cases": 3,
        "pending": 1,
        "since": (SUNDAY - timedelta(hours=24)).isoformat(),  # the first run less the look-back
    }
    assert "proactive notices: sent within objective <b>1/3</b>" in (folder / sla.REPORT).read_text()


def test_the_demo_case_feed_drops_files_the_watch_reads_and_announces(world: dict[str, Any]) -> None:
    import random

    from include.demo.case_feed import feed_rows, follow_up, write_file

    exports, outbox = world["exports"], world["outbox"]
    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    rows = feed_rows(now, 12, random.Random(5), 0)
    write_file(exports, rows, now)
    result = run_watch(exports, now, "feed-1")
    severe = [r for r in rows if r["severity"] in ("S1", "S2")]
    assert severe and result["ingested"]["quarantined"] == 0
    notices = [m for m in mails(outbox) if m["Subject"].startswith(("[S1]", "[S2]"))]
    assert sorted(m["Subject"].split(" ")[3].rstrip(":") for m in notices) == sorted(r["case_id"] for r in severe)
    assert not result["notified"]["gaps"]
    later = now + timedelta(minutes=2)
    raised = follow_up(rows, later, 1)
    write_file(exports, raised, later)
    run_watch(exports, later, "feed-2")
    if any(r["severity"] == "S2" for r in rows):
        assert mails(outbox)[-1]["Subject"].startswith("[S1]")
