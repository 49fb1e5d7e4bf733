"""Deadline Alerts on a real scheduler and triggerer (they crash dag.test() on Airflow 3.3.2, so
they are proven here): the custom DeadlineReference registered by the plugin is evaluated by the
scheduler with the project's rule, an overrun run sends exactly one e-mail through the SMTP
provider, and a run that finishes in time sends none. Housekeeping runs on the cluster too."""

from __future__ import annotations

import email
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from di_ops.rules.deadlines import earliest_local_time
from include.demo.backups import DEFAULT_AS_OF

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def _subjects(outbox: Path) -> list[str]:
    out = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        out.append(str(make_header(decode_header(message["Subject"] or ""))))
    return out


def _deadline_mails(outbox: Path, run_id: str) -> list[str]:
    return [s for s in _subjects(outbox) if s.startswith("[di-ops] deadline missed") and run_id in s]


def _metadata(cluster: dict[str, Any]):  # type: ignore[no-untyped-def]
    return create_engine(
        f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_METADATA_DB']}"
    )


def _deadlines(cluster: dict[str, Any], dag_id: str, run_id: str) -> list[tuple[datetime, bool]]:
    engine = _metadata(cluster)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.deadline_time, d.missed FROM deadline d JOIN dag_run r ON r.id = d.dagrun_id "
                "WHERE r.dag_id = :dag_id AND r.run_id = :run_id"
            ),
            {"dag_id": dag_id, "run_id": run_id},
        ).all()
    engine.dispose()
    return [(row[0], bool(row[1])) for row in rows]


def test_an_overrun_nightly_run_alerts_once_and_a_timely_one_not_at_all(cluster: dict[str, Any]) -> None:
    api, outbox = cluster["api"], cluster["outbox"]
    # The pruning of a night two days ago: its deadline (06:00 in the earliest region after that
    # night) is long past when the run is created, so the scheduler marks it missed at once.
    night = (datetime.now(UTC) - timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)
    late = api.trigger(
        "backup_retention", {"dry_run": True, "as_of": DEFAULT_AS_OF.isoformat()}, logical_date=night.isoformat()
    )
    region, expected = earliest_local_time(night, wall_time(6, 0))
    # The scheduler evaluated the plugin's LocalTimeDeadline with the project's rule.
    deadline_rows: list[tuple[datetime, bool]] = []
    until = time.monotonic() + 120
    while time.monotonic() < until and not deadline_rows:
        deadline_rows = _deadlines(cluster, "backup_retention", late)
        time.sleep(2)
    assert [row[0] for row in deadline_rows] == [expected], f"06:00 {region} after {night}"

    until = time.monotonic() + 180
    while time.monotonic() < until and not _deadline_mails(outbox, late):
        time.sleep(2)
    [subject] = _deadline_mails(outbox, late)
    assert "backup_retention" in subject
    assert api.wait_for_run("backup_retention", late, timeout=300) == "success"
    assert _deadlines(cluster, "backup_retention", late) == [(expected, True)]

    # The same nightly DAG for tonight and the housekeeping finish long before 06:00 anywhere:
    # their deadlines are removed when they succeed and no alert goes out.
    timely = {
        "backup_retention": api.trigger("backup_retention", {"dry_run": True, "as_of": DEFAULT_AS_OF.isoformat()}),
        "ops_housekeeping": api.trigger("ops_housekeeping", {"dry_run": False}),
    }
    for dag_id, run_id in timely.items():
        assert api.wait_for_run(dag_id, run_id, timeout=300) == "success", dag_id
        assert _deadlines(cluster, dag_id, run_id) == [], dag_id
    time.sleep(10)  # a second scheduler loop and triggerer pass: still one alert, and none for the others
    assert len(_deadline_mails(outbox, late)) == 1
    for run_id in timely.values():
        assert _deadline_mails(outbox, run_id) == []
    ops = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{cluster['env']['DI_OPS_CLUSTER_OPS_DB']}")
    with ops.connect() as conn:
        notices = conn.execute(
            text("SELECT status, run_id FROM notices WHERE kind = 'deadline_missed' AND run_id IN (:a, :b, :c)"),
            {"a": late, "b": timely["backup_retention"], "c": timely["ops_housekeeping"]},
        ).all()
    ops.dispose()
    assert [(n[0], n[1]) for n in notices] == [("sent", late)]
