"""Invariants of the planned-upload lifecycle over random run schedules (hypothesis), on a SQLite ops DB
and a real SMTP server on loopback that is up or down per run.

Source: DOMAIN.md §2: no change sits in a planned state with a window that has ended (it is carried out
or flagged and re-planned); a change never happens without its notice; a notice names a window at least
10 business days after it was sent; a missed window alerts the operator once.
Examples: ``DI_OPS_LIFECYCLE_EXAMPLES`` (default 25; each example is up to 8 runs).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from di_ops.core.inventory import read_inventory
from di_ops.core.settings import pipelines
from di_ops.db.schema import notices
from di_ops.db.tables_cop import cop_requests
from di_ops.integrations.opsdb import ops_engine, store_inventory
from di_ops.pipelines.cop.missed import as_utc, needs_notice, notice_key
from di_ops.pipelines.cop.notices import send_notices
from di_ops.pipelines.cop.tasks import intake
from di_ops.rules.calendar import add_business_days
from include.demo.fleet import write_fleet
from include.demo.pipelines.cop import DEMO_REQUESTS, sftp_connection, write_inbox, write_repository
from tests.conftest import free_port

EXAMPLES = int(os.environ.get("DI_OPS_LIFECYCLE_EXAMPLES", "25"))
MORNING = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
REQUESTS = {k: DEMO_REQUESTS[k] for k in ("op-locale-C002.json", "op-psirt-C004.json")}  # regular + emergency


@pytest.fixture
def lifecycle(data_dir: Path, tmp_path: Path, smtp_sink: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    engine = ops_engine()
    write_fleet(data_dir / "inventory")
    store_inventory(engine, read_inventory(data_dir / "inventory"), created_at=MORNING)
    write_repository(data_dir / "cop" / "repository")
    for cid in ("C002", "C004"):  # never reached: no upload task runs here, only the decisions
        monkeypatch.setenv(
            f"AIRFLOW_CONN_COP_SFTP_{cid}", sftp_connection(22, "root", "/nonexistent", "/nonexistent", "/upload")
        )
    up = os.environ["AIRFLOW_CONN_SMTP_DEFAULT"]
    config = json.loads(up)
    down = json.dumps(config | {"port": free_port(), "extra": config["extra"] | {"retry_limit": 0}})
    return engine, data_dir / "cop" / "inbox", smtp_sink, {True: up, False: down}


def _check(engine: Any, at: datetime, summary: dict[str, Any], sent_before: dict[str, str]) -> None:
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(cop_requests)).mappings()]
    for row in rows:
        end = as_utc(row["window_end"])
        if row["status"] in ("planned", "due") and end is not None:
            assert end > at, f"{row['request_id']} sits {row['status']} with a window that ended {end}"
        if row["notified_at"] is not None:
            notified, start = as_utc(row["notified_at"]), as_utc(row["window_start"])
            assert notified is not None and start is not None
            assert start >= add_business_days(str(row["region"]), notified, 10)
    regular = {r["request_id"]: r for r in rows if needs_notice(r)}
    for item in summary["due"]:
        if item["request_id"] in regular:
            assert sent_before.get(notice_key(item["request_id"], item["sequence"])) == "sent"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.integers(min_value=0, max_value=14 * 24 * 4),
    runs=st.lists(st.tuples(st.integers(min_value=1, max_value=16 * 24 * 4), st.booleans()), min_size=1, max_size=8),
)
def test_no_planned_upload_sits_with_an_ended_window_or_goes_without_its_notice(  # type: ignore[no-untyped-def]
    lifecycle, start: int, runs: list[tuple[int, bool]]
) -> None:
    engine, inbox, outbox, smtp = lifecycle
    with engine.begin() as conn:
        conn.execute(delete(cop_requests))
        conn.execute(delete(notices))
    for old in outbox.glob("*.eml"):
        old.unlink()
    write_inbox(inbox, REQUESTS)
    at = MORNING + timedelta(minutes=15 * start)
    missed_keys: set[str] = set()
    for n, (quarters, smtp_up) in enumerate(runs):
        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp[smtp_up]
        facts = {"dag_id": "cop_upload", "run_id": f"run-{n}", "as_of": at, "started_at": at, "dry_run": False}
        summary = intake({}, **facts)
        with engine.connect() as conn:
            sent_before = {r.dedupe_key: r.status for r in conn.execute(select(notices))}
        _check(engine, at, summary, sent_before)
        for what in ("due", "missed", "replanned"):
            if summary[what]:
                event(f"a run with {what} uploads")
        try:
            send_notices(summary["notify"], alerts=summary["alerts"], **facts)
        except Exception:  # noqa: BLE001, S110 - the mail server is down in this run: the next run sends
            assert not smtp_up
        missed_keys |= {m["alert"] for m in summary["missed"]}
        at += timedelta(minutes=15 * quarters)
    # the mail server is back: the next run sends every alert that could not go out when its miss was found
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp[True]
    facts = {"dag_id": "cop_upload", "run_id": "run-last", "as_of": at, "started_at": at, "dry_run": False}
    summary = intake({}, **facts)
    send_notices(summary["notify"], alerts=summary["alerts"], **facts)
    missed_keys |= {m["alert"] for m in summary["missed"]}
    with engine.connect() as conn:
        alerts = {r.dedupe_key: r.status for r in conn.execute(select(notices).where(notices.c.kind == "cop_missed"))}
    assert alerts == dict.fromkeys(missed_keys, "sent")
    to_operator = [p for p in outbox.glob("*.eml") if any(a in p.read_text() for a in pipelines().alerts.to)]
    assert len(to_operator) == len(missed_keys)  # each missed window alerted once
