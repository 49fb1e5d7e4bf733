"""Airflow Deadline Alerts of every DAG: a run still unfinished at its deadline sends one e-mail.

Settings: ``include/config/pipelines.yaml: deadlines`` (per DAG, per DAG family, or the default),
recipients and SMTP connection from ``alerts``. Three kinds of deadline:

- ``local_time``: :class:`LocalTimeDeadline`, a custom DeadlineReference registered by the
  project's plugin (``plugins/di_ops_plugin.py``): the run must be finished by that wall-clock
  time in the earliest region after the instant the run is for (its logical date, else
  ``run_after``) - e.g. the nightly pruning by 06:00 in whichever region wakes up first;
- ``window_close``: :class:`WindowCloseDeadline` (also registered): the run must be finished
  before the maintenance window of its region closes (the renewal DAGs);
- ``after_queued``: Airflow's ``DAGRUN_QUEUED_AT`` plus a duration.

The times themselves come from the pure rules in :mod:`di_ops.rules.deadlines`. The scheduler
evaluates the references when it creates a run (``_evaluate_with`` runs there, with its own
database session); when a deadline passes it queues :func:`deadline_missed`, which runs in the
triggerer and must therefore live in this importable plugins module, not in a DAG file.

The alert is sent once per deadline (dedupe key ``deadline:<id>`` in the ops DB's ``notices``).

``DI_OPS_DEADLINE_ALERTS=0`` builds the DAGs without deadlines: on Airflow 3.3.2 a DeadlineAlert
crashes ``dag.test()`` once all tasks succeed (verified), so the tests'
``dag.test()`` runs switch them off; the cluster test proves them on a real scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference
from airflow.sdk.definitions.deadline import REFERENCE_TYPE_FIELD, BaseDeadlineReference

from di_ops.core.settings import ConfigError, pipelines
from di_ops.rules.common import normalise_region
from di_ops.rules.deadlines import earliest_local_time, window_close

log = logging.getLogger(__name__)

ENABLE_ENV = "DI_OPS_DEADLINE_ALERTS"
CALLBACK_PATH = "di_ops.orchestration.deadlines.deadline_missed"
NOTICE_KIND = "deadline_missed"


def deadlines_enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "1").strip().lower() not in {"0", "false", "off", "no"}


def _run_start(session: Any, dag_id: str, run_id: str) -> datetime | None:
    """The instant a run is for: its logical date, else ``run_after`` (manual runs may have no logical date)."""
    from airflow.models import DagRun
    from sqlalchemy import select

    row = session.execute(
        select(DagRun.logical_date, DagRun.run_after).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    ).one_or_none()
    if row is None:
        log.warning("deadline: no run %s of %s", run_id, dag_id)
        return None
    start = row[0] or row[1]
    return start if start is None or start.tzinfo is not None else start.replace(tzinfo=UTC)


@dataclass(eq=False)
class LocalTimeDeadline(BaseDeadlineReference):
    """Finished by wall-clock ``at`` (``HH:MM[:SS]``) in the earliest of ``regions`` (empty: all)."""

    at: str = "06:00"
    regions: tuple[str, ...] = ()
    required_kwargs = frozenset({"dag_id", "run_id"})

    def serialize_reference(self) -> dict[str, Any]:
        return {REFERENCE_TYPE_FIELD: self.reference_name, "at": self.at, "regions": list(self.regions)}

    @classmethod
    def deserialize_reference(cls, reference_data: dict[str, Any]) -> LocalTimeDeadline:
        return cls(at=str(reference_data.get("at", "06:00")), regions=tuple(reference_data.get("regions") or ()))

    def _evaluate_with(self, *, session: Any, dag_id: str, run_id: str) -> datetime | None:
        start = _run_start(session, dag_id, run_id)
        if start is None:
            return None
        region, instant = earliest_local_time(start, time.fromisoformat(self.at), self.regions)
        log.info("deadline of %s %s: %s local in %s = %s", dag_id, run_id, self.at, region, instant.isoformat())
        return instant


@dataclass(eq=False)
class WindowCloseDeadline(BaseDeadlineReference):
    """Finished before the maintenance window of ``region`` that holds the run (or the next) closes."""

    region: str = "EMEA"
    required_kwargs = frozenset({"dag_id", "run_id"})

    def serialize_reference(self) -> dict[str, Any]:
        return {REFERENCE_TYPE_FIELD: self.reference_name, "region": self.region}

    @classmethod
    def deserialize_reference(cls, reference_data: dict[str, Any]) -> WindowCloseDeadline:
        return cls(region=str(reference_data.get("region", "EMEA")))

    def _evaluate_with(self, *, session: Any, dag_id: str, run_id: str) -> datetime | None:
        start = _run_start(session, dag_id, run_id)
        return None if start is None else window_close(self.region, start)


REFERENCES = (LocalTimeDeadline, WindowCloseDeadline)


def deadline_alerts(dag_id: str, *, family: str | None = None, region: str | None = None) -> list[DeadlineAlert] | None:
    """The ``deadline=`` of a DAG from ``pipelines.yaml: deadlines`` (None when switched off).

    ``family``: the DAG file's name when one file makes several DAGs; ``region``: the DAG's region
    (needed by ``window_close``). Reads only the project's config: safe at parse time.
    """
    if not deadlines_enabled():
        return None
    cfg = pipelines()
    spec = cfg.deadlines.for_dag(dag_id, family)
    reference: Any
    interval = timedelta(0)
    if spec.local_time is not None:
        at = spec.local_time.isoformat(timespec="seconds" if spec.local_time.second else "minutes")
        regions = tuple(normalise_region(r) for r in spec.regions)
        reference = LocalTimeDeadline(at=at, regions=regions)
        rule = f"finished by {at} local time in the earliest of {', '.join(regions) or 'all regions'}"
    elif spec.window_close:
        if region is None:
            raise ConfigError(f"pipelines.yaml deadlines: {dag_id} asks for window_close but has no region")
        reference = WindowCloseDeadline(region=normalise_region(region))
        rule = f"finished before the {reference.region} maintenance window closes"
    else:
        assert spec.after_queued is not None  # the settings model allows exactly one kind
        reference, interval = DeadlineReference.DAGRUN_QUEUED_AT, spec.after_queued
        rule = f"finished within {interval} of being queued"
    callback = AsyncCallback(
        CALLBACK_PATH,
        kwargs={"dag_id": dag_id, "rule": rule, "to": list(cfg.alerts.to), "smtp_conn_id": cfg.alerts.smtp_conn_id},
    )
    return [DeadlineAlert(reference=reference, interval=interval, callback=callback, name=f"{dag_id}: {rule}")]


def deadline_notice(*, dag_id: str, rule: str, to: list[str], context: dict[str, Any]) -> Any:
    """The e-mail for a missed deadline (one per deadline id): ``templates/deadline_missed.html.j2``
    (autoescaped) and its plain-text twin ``deadline_missed.txt.j2``, the subject one header line."""
    from di_ops.core.notices import Notice
    from di_ops.core.templating import one_line, render

    run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    run_id = str(run.get("dag_run_id") or run.get("run_id") or "?")
    when = deadline.get("deadline_time")
    when_text = when.isoformat() if isinstance(when, datetime) else str(when)
    state = run.get("state", "?")
    base = ""
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="").rstrip("/")
    except Exception:  # noqa: BLE001 - a link is a courtesy; the alert must go out without it
        base = ""
    shown = {"run_id": run_id, "dag_id": dag_id, "when": when_text, "rule": rule, "state": state, "base_url": base}
    return Notice(
        dedupe_key=f"deadline:{deadline.get('id') or dag_id + '/' + run_id}"[:250],
        kind=NOTICE_KIND,
        entity=f"{dag_id}/{run_id}"[:250],
        to=tuple(to),
        subject=one_line(f"[di-ops] deadline missed: {dag_id} {run_id} not finished by {when_text}"),
        html=render("deadline_missed.html.j2", **shown),
        text=render("deadline_missed.txt.j2", **shown),
    )


def send_deadline_notice(*, dag_id: str, rule: str, to: list[str], smtp_conn_id: str, context: dict[str, Any]) -> str:
    from di_ops.integrations.mail import send_notice
    from di_ops.integrations.opsdb import ops_engine

    notice = deadline_notice(dag_id=dag_id, rule=rule, to=to, context=context)
    run_id = notice.entity.split("/", 1)[1]
    result = send_notice(
        ops_engine(), notice, dag_id=dag_id, run_id=run_id, now=datetime.now(UTC), dry_run=False, conn_id=smtp_conn_id
    )
    log.warning("%s: %s", notice.subject, result)
    return result


async def deadline_missed(
    *, dag_id: str, rule: str, to: list[str], smtp_conn_id: str, context: dict[str, Any] | None = None
) -> str:
    """The Deadline Alert callback (runs in the triggerer): mail the on-call list once."""
    return await asyncio.to_thread(
        send_deadline_notice, dag_id=dag_id, rule=rule, to=to, smtp_conn_id=smtp_conn_id, context=context or {}
    )
