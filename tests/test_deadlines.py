"""Deadline Alerts of the DAGs (plugins/di_ops/deadlines.py): built from pipelines.yaml, registered
by the plugin, serialised and evaluated by Airflow's own core code against the metadata DB, and the
missed-deadline callback mails once through a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import email
import inspect
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from di_ops import deadlines
from di_ops.rules.deadlines import earliest_local_time, window_close
from tests.conftest import REPO


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(deadlines.ENABLE_ENV, "1")


@pytest.fixture
def bag(enabled: None) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(REPO / "dags"))
    assert dagbag.import_errors == {}
    return dagbag


def test_switched_off_means_no_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("0", "false", "OFF", " no "):
        monkeypatch.setenv(deadlines.ENABLE_ENV, value)
        assert deadlines.deadline_alerts("backup_retention") is None
    monkeypatch.delenv(deadlines.ENABLE_ENV)
    assert deadlines.deadline_alerts("backup_retention") is not None  # on unless switched off


def test_every_dag_has_one_alert_with_the_configured_rule(bag: Any) -> None:
    kinds = {}
    for dag_id, dag in bag.dags.items():
        [alert] = dag.deadline
        assert alert.callback.path == deadlines.CALLBACK_PATH
        assert alert.callback.kwargs["dag_id"] == dag_id
        assert alert.callback.kwargs["to"] == ["di-ops-oncall@localhost"]
        kinds[dag_id] = (type(alert.reference).__name__, alert.interval)
    assert kinds["backup_retention"] == ("LocalTimeDeadline", timedelta(0))
    assert kinds["ops_housekeeping"] == ("LocalTimeDeadline", timedelta(0))
    for region in ("amer", "apjc", "aus", "emea"):
        assert kinds[f"certificate_renewal_{region}"] == ("WindowCloseDeadline", timedelta(0))
        assert bag.dags[f"certificate_renewal_{region}"].deadline[0].reference.region == region.upper()
    assert kinds["inventory_sync"] == ("DagRunQueuedAtDeadline", timedelta(minutes=30))
    assert kinds["cop_upload"] == ("DagRunQueuedAtDeadline", timedelta(hours=6))
    assert kinds["certificate_sweep"] == ("DagRunQueuedAtDeadline", timedelta(hours=2))  # the default
    assert len(kinds) == 12


def test_the_callback_is_an_importable_coroutine_function_outside_the_dags_folder() -> None:
    from airflow._shared.module_loading import accepts_context, import_string

    callback = import_string(deadlines.CALLBACK_PATH)
    assert inspect.iscoroutinefunction(callback) and accepts_context(callback)
    assert not deadlines.CALLBACK_PATH.startswith(("dags", "unusual_prefix"))


def test_the_plugin_registers_both_references() -> None:
    from airflow import plugins_manager

    registered = plugins_manager.get_deadline_references_plugins()
    assert registered["di_ops.deadlines.LocalTimeDeadline"] is deadlines.LocalTimeDeadline
    assert registered["di_ops.deadlines.WindowCloseDeadline"] is deadlines.WindowCloseDeadline


def test_window_close_needs_a_region(enabled: None, config_copy: Path) -> None:
    from di_ops.settings import ConfigError, clear_caches

    text = (config_copy / "pipelines.yaml").read_text()
    (config_copy / "pipelines.yaml").write_text(
        text.replace("sla_audit: {after_queued: PT1H}", "sla_audit: {window_close: true}")
    )
    clear_caches()
    with pytest.raises(ConfigError, match="sla_audit asks for window_close but has no region"):
        deadlines.deadline_alerts("sla_audit")


@pytest.mark.parametrize(
    "entry",
    ["{}", "{after_queued: PT1H, window_close: true}", "{after_queued: PT0S}", "{window_close: true, regions: [EMEA]}"],
)
def test_a_bad_deadline_entry_names_the_file_and_field(config_copy: Path, entry: str) -> None:
    from di_ops.settings import ConfigError, clear_caches, pipelines

    text = (config_copy / "pipelines.yaml").read_text()
    (config_copy / "pipelines.yaml").write_text(text.replace("{after_queued: PT1H}", entry))
    clear_caches()
    with pytest.raises(ConfigError, match=r"pipelines.yaml: deadlines\.dags\.sla_audit"):
        pipelines()


def test_an_unknown_region_in_the_config_fails_at_parse(enabled: None, config_copy: Path) -> None:
    from di_ops.settings import clear_caches

    text = (config_copy / "pipelines.yaml").read_text()
    (config_copy / "pipelines.yaml").write_text(
        text.replace(
            'backup_retention: {local_time: "06:00"}', 'backup_retention: {local_time: "06:00", regions: [MARS]}'
        )
    )
    clear_caches()
    with pytest.raises(ValueError, match="unknown region 'MARS'"):
        deadlines.deadline_alerts("backup_retention")


def _core_alerts(bag: Any, dag_id: str) -> list[Any]:
    """The alerts as the scheduler sees them: serialised by Airflow, decoded by Airflow."""
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.serialized_objects import DagSerialization

    data = DagSerialization.to_dict(bag.dags[dag_id])
    return [decode_deadline_alert({"__type": "deadline_alert", "__var": a}) for a in data["dag"]["deadline"]]


@pytest.fixture
def run_in_db(airflow_db: Path) -> Any:
    """Insert a DagRun into the (SQLite) metadata DB, as the scheduler would have."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    made: list[tuple[str, str]] = []

    def make(dag_id: str, run_id: str, logical_date: datetime | None, run_after: datetime) -> None:
        with create_session() as session:
            session.add(
                DagRun(dag_id=dag_id, run_id=run_id, logical_date=logical_date, run_after=run_after, run_type="manual")
            )
        made.append((dag_id, run_id))

    yield make
    with create_session() as session:
        for dag_id, run_id in made:
            session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id).delete()


@pytest.mark.parametrize(
    ("logical_date", "run_after"),
    [
        (datetime(2026, 11, 26, 2, 30, tzinfo=UTC), datetime(2026, 11, 26, 2, 30, tzinfo=UTC)),
        # a manual run without logical date: run_after counts
        (None, datetime(2026, 11, 26, 18, 0, tzinfo=UTC)),
        (None, datetime(2026, 11, 26, 19, 0, 1, tzinfo=UTC)),
    ],
)
def test_core_evaluates_the_local_time_reference_with_the_rule(
    bag: Any, run_in_db: Any, logical_date: datetime | None, run_after: datetime
) -> None:
    from airflow.serialization.definitions.deadline import SerializedReferenceModels
    from airflow.utils.session import create_session

    [alert] = _core_alerts(bag, "backup_retention")
    assert isinstance(alert.reference, SerializedReferenceModels.SerializedCustomReference)
    assert isinstance(alert.reference, SerializedReferenceModels.TYPES.DAGRUN)  # created with the run
    run_id = f"manual__{run_after.isoformat()}"
    run_in_db("backup_retention", run_id, logical_date, run_after)
    with create_session() as session:
        got = alert.reference.evaluate_with(
            session=session, interval=alert.interval, dag_id="backup_retention", run_id=run_id
        )
    assert got == earliest_local_time(logical_date or run_after, time(6, 0))[1]
    assert got > (logical_date or run_after)


def test_core_evaluates_the_window_close_reference(bag: Any, run_in_db: Any) -> None:
    from airflow.utils.session import create_session

    [alert] = _core_alerts(bag, "certificate_renewal_aus")
    start = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Sydney's Friday window opens (21:00 AEDT)
    run_in_db("certificate_renewal_aus", "scheduled__x", start, start)
    with create_session() as session:
        got = alert.reference.evaluate_with(
            session=session, interval=alert.interval, dag_id="certificate_renewal_aus", run_id="scheduled__x"
        )
    assert got == window_close("AUS", start) == datetime(2026, 11, 27, 19, 0, tzinfo=UTC)


def test_no_run_no_deadline(bag: Any, airflow_db: Path) -> None:
    from airflow.utils.session import create_session

    [alert] = _core_alerts(bag, "ops_housekeeping")
    with create_session() as session:
        assert alert.reference.evaluate_with(session=session, interval=alert.interval, dag_id="x", run_id="y") is None


def _context(run_id: str, deadline_id: str) -> dict[str, Any]:
    return {
        "dag_run": {"dag_run_id": run_id, "dag_id": "backup_retention", "state": "running"},
        "deadline": {"id": deadline_id, "deadline_time": datetime(2026, 11, 26, 19, 0, tzinfo=UTC)},
    }


def test_the_callback_mails_once_per_deadline(smtp_sink: Path, data_dir: Path) -> None:
    kwargs = {
        "dag_id": "backup_retention",
        "rule": "finished by 06:00 local time in the earliest of all regions",
        "to": ["oncall@localhost"],
        "smtp_conn_id": "smtp_default",
    }
    first = asyncio.run(deadlines.deadline_missed(**kwargs, context=_context("scheduled__1", "d-1")))
    again = asyncio.run(deadlines.deadline_missed(**kwargs, context=_context("scheduled__1", "d-1")))
    other = asyncio.run(deadlines.deadline_missed(**kwargs, context=_context("scheduled__2", "d-2")))
    assert (first, again, other) == ("sent", "already_sent", "sent")
    mails = [email.message_from_bytes(p.read_bytes()) for p in sorted(smtp_sink.glob("*.eml"))]
    assert len(mails) == 2
    subject = mails[0]["Subject"]
    assert "deadline missed: backup_retention scheduled__1 not finished by 2026-11-26T19:00:00+00:00" in subject
    body = mails[0].get_payload(decode=True) if not mails[0].is_multipart() else None
    text = (
        body.decode()
        if body
        else "".join(
            part.get_payload(decode=True).decode() for part in mails[0].walk() if part.get_content_type() == "text/html"
        )
    )
    assert "finished by 06:00 local time" in text and "running" in text
