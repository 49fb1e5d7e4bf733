"""Deadline Alerts of the DAGs (plugins/di_ops/orchestration/deadlines.py): built from pipelines.yaml, registered
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
from hypothesis import given, settings
from hypothesis import strategies as st

from di_ops.orchestration import deadlines
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
    assert kinds["upgrade_emergency_check"] == ("DagRunQueuedAtDeadline", timedelta(hours=2))  # the default
    assert kinds["backup_health"] == ("DagRunQueuedAtDeadline", timedelta(hours=2))  # the default
    # one DAG per file in dags/, but certificate_renewal.py makes one per region (4): robust to new DAG files
    assert len(kinds) == len(list((REPO / "dags").glob("*.py"))) - 1 + 4


def test_the_callback_is_an_importable_coroutine_function_outside_the_dags_folder() -> None:
    from airflow._shared.module_loading import accepts_context, import_string

    callback = import_string(deadlines.CALLBACK_PATH)
    assert inspect.iscoroutinefunction(callback) and accepts_context(callback)
    assert not deadlines.CALLBACK_PATH.startswith(("dags", "unusual_prefix"))


def test_the_plugin_registers_both_references() -> None:
    from airflow import plugins_manager

    registered = plugins_manager.get_deadline_references_plugins()
    assert registered["di_ops.orchestration.deadlines.LocalTimeDeadline"] is deadlines.LocalTimeDeadline
    assert registered["di_ops.orchestration.deadlines.WindowCloseDeadline"] is deadlines.WindowCloseDeadline


def test_window_close_needs_a_region(enabled: None, config_copy: Path) -> None:
    from di_ops.core.settings import ConfigError, clear_caches

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
    from di_ops.core.settings import ConfigError, clear_caches, pipelines

    text = (config_copy / "pipelines.yaml").read_text()
    (config_copy / "pipelines.yaml").write_text(text.replace("{after_queued: PT1H}", entry))
    clear_caches()
    with pytest.raises(ConfigError, match=r"pipelines.yaml: deadlines\.dags\.sla_audit"):
        pipelines()


def test_an_unknown_region_in_the_config_fails_at_parse(enabled: None, config_copy: Path) -> None:
    from di_ops.core.settings import clear_caches

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


# --- an ended run never leaves its deadline Pending (plugins/di_ops/orchestration/deadline_listener.py) ---------

NOW = datetime.now(UTC).replace(microsecond=0)
_RUNS = iter(range(10**9))


def _ended_run(session: Any, hook: str, end: datetime | None, rows: list[tuple[datetime, bool]]) -> Any:
    """A run of ``backup_retention`` ended (``hook``: failed/success) at ``end`` with the given
    ``(deadline_time, missed)`` rows, as Airflow's core writes them (each with its callback row)."""
    from airflow.models import DagRun
    from airflow.models.deadline import Deadline
    from airflow.sdk import AsyncCallback

    run = DagRun(dag_id="backup_retention", run_id=f"manual__ended_{next(_RUNS)}", run_after=NOW, run_type="manual")
    session.add(run)
    session.flush()
    callback = AsyncCallback(deadlines.CALLBACK_PATH, kwargs={"dag_id": "backup_retention", "rule": "r"})
    for deadline_time, missed in rows:
        row = Deadline(deadline_time, callback, run.id, None, dag_id="backup_retention")
        row.missed = missed
        session.add(row)
    run.state = hook  # DagRun.set_state: stamps end_date = now
    run.end_date = end
    session.flush()
    return run


def _left(run_id: str) -> list[tuple[datetime, bool]]:
    from airflow.models import DagRun
    from airflow.models.deadline import Deadline
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(Deadline.deadline_time, Deadline.missed).join(DagRun).where(DagRun.run_id == run_id)
        ).all()
    return sorted((t.replace(tzinfo=UTC) if t.tzinfo is None else t, bool(m)) for t, m in rows)


def _end_run(hook: str, end: datetime | None, rows: list[tuple[datetime, bool]]) -> str:
    """End a run with ``rows`` and call the listener the way the scheduler does: through Airflow's
    listener manager (the plugin's registration), in the session that ends the run."""
    from airflow.listeners.listener import get_listener_manager
    from airflow.utils.session import create_session

    with create_session() as session:
        run = _ended_run(session, hook, end, rows)
        getattr(get_listener_manager().hook, f"on_dag_run_{hook}")(dag_run=run, msg="test")
        return str(run.run_id)


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("hook", "end", "rows", "left"),
    [
        # ended before its deadline: removed with the run, as Airflow does for a success
        ("failed", NOW - H, [(NOW + H, False)], []),
        ("failed", NOW - 2 * H, [(NOW - H, False)], []),  # ended before a deadline that has passed since
        ("failed", NOW - H, [(NOW - H, False)], []),  # ended exactly at it
        ("success", NOW - H, [(NOW + H, False)], []),  # a run marked success by hand
        # ended after its deadline: left to the scheduler (past, so its next loop marks it missed)
        ("failed", NOW - H + timedelta(seconds=1), [(NOW - H, False)], [(NOW - H, False)]),
        ("failed", NOW, [(NOW - H, True)], [(NOW - H, True)]),  # already missed: its mail is queued
        ("failed", NOW - 2 * H, [(NOW - H, True)], [(NOW - H, True)]),  # missed wins over the end date
        # not ended (a pending teardown keeps the run's end open): nothing to resolve yet
        ("failed", None, [(NOW + H, False)], [(NOW + H, False)]),
        ("failed", NOW - H, [(NOW + H, False), (NOW - 2 * H, False)], [(NOW - 2 * H, False)]),
    ],
)
def test_an_ended_run_resolves_its_deadlines(
    airflow_db: Path, hook: str, end: datetime | None, rows: list[tuple[datetime, bool]], left: list[Any]
) -> None:
    other = _end_run("failed", None, [(NOW + H, False)])  # an unfinished run next to it keeps its deadline
    assert _left(_end_run(hook, end, rows)) == left
    assert _left(other) == [(NOW + H, False)]


@settings(max_examples=60, deadline=None)
@given(
    hook=st.sampled_from(["failed", "success"]),
    ended_ago=st.integers(min_value=0, max_value=3 * 86400),
    rows=st.lists(
        st.tuples(st.integers(min_value=-2 * 86400, max_value=2 * 86400), st.booleans()), min_size=1, max_size=4
    ),
)
def test_no_deadline_of_an_ended_run_is_left_pending(
    airflow_db: Path, hook: str, ended_ago: int, rows: list[tuple[int, bool]]
) -> None:
    """Every deadline of an ended run is gone, or missed, or already due - then the scheduler's
    next loop (``deadline_time < now and not missed``) marks it missed and queues its one e-mail."""
    end = NOW - timedelta(seconds=ended_ago)
    given_rows = sorted((end + timedelta(seconds=offset), missed) for offset, missed in rows)
    left = _left(_end_run(hook, end, given_rows))
    assert left == [(t, missed) for t, missed in given_rows if missed or t < end]
    assert all(missed or t < datetime.now(UTC) for t, missed in left)
