"""A run that ends carries the one line an operator needs, as its DAG-run note (docs/interfaces.md).

Tasks cannot write a run's note (the Task SDK has no call for it), so a task pushes the line as an
XCom with key :data:`RUN_NOTE_KEY` (``core.tasks.push_run_note``): "rejected by alice: nothing
deleted" after a Reject of the retention approval, "refused: ..." for a refused request. When the
run ends, this listener (``AirflowPlugin.listeners``) copies the newest such line to the run's note
in the session that ends the run (the scheduler's), unless someone already wrote a note.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

from di_ops.core.tasks import RUN_NOTE_KEY, RUN_NOTE_MAX

log = logging.getLogger(__name__)


def pushed_note(dag_run: Any, session: Any) -> str | None:
    """The newest ``run_note`` XCom of the run's tasks, or None."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    rows = session.execute(
        select(XComModel.value)
        .where(
            XComModel.dag_id == dag_run.dag_id,
            XComModel.run_id == dag_run.run_id,
            XComModel.key == RUN_NOTE_KEY,
        )
        .order_by(XComModel.timestamp.desc())
        .limit(1)
    ).all()
    if not rows:
        return None
    value = XComModel.deserialize_value(rows[0])
    return str(value)[:RUN_NOTE_MAX] if value else None


def apply_run_note(dag_run: Any) -> str | None:
    """Set the ended run's note from its tasks' ``run_note`` (an existing note is kept); never raises."""
    from sqlalchemy.orm import object_session

    try:
        session = object_session(dag_run)
        if session is None or dag_run.note:
            return None
        note = pushed_note(dag_run, session)
        if note:
            dag_run.note = note
            log.info("note of %s %s: %s", dag_run.dag_id, dag_run.run_id, note)
        return note
    except Exception:  # a note must never stop the scheduler from ending a run
        log.exception("could not set the note of %s %s", dag_run.dag_id, dag_run.run_id)
        return None


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    apply_run_note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    apply_run_note(dag_run)
