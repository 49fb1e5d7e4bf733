"""One alert per series per state change (docs/pipelines/backup_health.md, "Alerts"), through the real
send_notice into a real SMTP sink; state in the ops DB (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from di_ops.pipelines.backup_health.alerts import send_alerts

AS_OF = datetime(2026, 11, 27, 11, tzinfo=UTC)


def _row(freshness: str = "fresh", dr_ready: bool = True) -> dict[str, Any]:
    return {
        "customer_id": "C001",
        "cluster_id": "C001-cucm",
        "application": "CUCM",
        "region": "EMEA",
        "freshness": freshness,
        "at_risk": False,
        "good_backups": 3,
        "latest_good_at": None,
        "latest_backup_id": None,
        "dr_ready": dr_ready,
        "reasons": ["r"],
    }


def _send(engine: Any, row: dict[str, Any], night: int, *, run_id: str | None = None, dry_run: bool = False) -> dict:
    as_of = AS_OF + timedelta(days=night)
    return send_alerts(
        engine,
        [row],
        dag_id="backup_health",
        run_id=run_id or f"run-{night}",
        as_of=as_of,
        report="report.html",
        to=["ops@localhost"],
        dry_run=dry_run,
        now=as_of,
    )


def _subjects(outbox: Path) -> list[str]:
    return sorted(str(message_from_bytes(p.read_bytes())["Subject"]) for p in outbox.glob("*.eml"))


def test_an_alert_goes_when_a_state_turns_on_and_again_only_after_it_cleared(migrated_ops_db, smtp_sink) -> None:  # type: ignore[no-untyped-def]
    engine = migrated_ops_db
    assert _send(engine, _row(), 0)["alerts"] == {"overdue": 0, "not_dr_ready": 0}
    assert _send(engine, _row("overdue", dr_ready=False), 1)["alerts"] == {"overdue": 1, "not_dr_ready": 1}
    assert len(_subjects(smtp_sink)) == 2
    retry = _send(engine, _row("overdue", dr_ready=False), 1)  # a retry of the same run: same dedupe keys
    assert {n["result"] for n in retry["notices"]} == {"already_sent"} and len(_subjects(smtp_sink)) == 2
    assert _send(engine, _row("overdue", dr_ready=False), 2)["notices"] == []  # still on: nothing new
    assert _send(engine, _row("missed", dr_ready=False), 3)["notices"] == []  # overdue cleared, DR still off
    assert _send(engine, _row("overdue", dr_ready=False), 4)["alerts"] == {"overdue": 1, "not_dr_ready": 0}
    assert _subjects(smtp_sink) == [
        "[di-ops] Backups overdue: C001 C001-cucm (CUCM)",
        "[di-ops] Backups overdue: C001 C001-cucm (CUCM)",
        "[di-ops] Not DR-ready: C001 C001-cucm (CUCM)",
    ]


def test_a_dry_run_sends_nothing_and_leaves_the_alert_to_the_next_real_run(migrated_ops_db, smtp_sink) -> None:  # type: ignore[no-untyped-def]
    engine = migrated_ops_db
    dry = _send(engine, _row("overdue"), 1, dry_run=True)
    assert dry["alerts"] == {"overdue": 1, "not_dr_ready": 0} and [n["result"] for n in dry["notices"]] == ["dry_run"]
    assert _subjects(smtp_sink) == []
    real = _send(engine, _row("overdue"), 1, run_id="real-1")
    assert [n["result"] for n in real["notices"]] == ["sent"] and len(_subjects(smtp_sink)) == 1
