"""A run that ends never leaves its Deadline Alert *Pending* (docs/interfaces.md, Deadline Alerts).

Airflow 3.3.2 removes a run's pending deadlines only when the scheduler sees the run succeed
(``Deadline.prune_deadlines`` in ``DagRun.update_state``). A run that fails - a task failed for good,
a refusal, a ``dagrun_timeout``, or a run marked failed (or success) by hand - keeps its ``deadline``
row with ``missed = false``: the UI lists it as *Pending* until its time passes, and then the
scheduler fires :func:`di_ops.orchestration.deadlines.deadline_missed` hours after the run was over.

This listener (``AirflowPlugin.listeners`` of ``plugins/di_ops_plugin.py``) applies Airflow's own
``Deadline.prune_deadlines`` to every run that ends, in the session and transaction that ends it
(the scheduler's, or the api-server's for a state set by hand):

- a deadline still ahead when the run ended is removed with the run's end, exactly as for a
  successful run: there is nothing left to wait for, and the failure has its own alert (the
  tasks' ``on_failure_callback``; a refusal deliberately none), so no second e-mail;
- a deadline that had already passed when the run ended (or was already marked missed) is left
  to the scheduler, which marks it missed on its next loop and queues ``deadline_missed``: its
  one e-mail, deduplicated in the ops DB ``notices``.

So every deadline of an ended run is either gone or missed by the next scheduler loop. Like a
successful run, a failed run that is cleared and runs again has no deadline any more (Airflow
creates deadlines only when it creates the run).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)


def resolve_deadlines(dag_run: Any) -> int:
    """Remove the ended ``dag_run``'s deadlines that it ended before; return how many were removed.

    Uses the session the run is attached to (the caller's open transaction, which holds the run's
    new state and end date); a run attached to no session is left alone (nothing can be pruned
    consistently outside the transaction that ends it).
    """
    from airflow.models import DagRun
    from airflow.models.deadline import Deadline
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is None:
        log.warning("deadlines of %s %s: run not attached to a session, left alone", dag_run.dag_id, dag_run.run_id)
        return 0
    removed = Deadline.prune_deadlines(session=session, conditions={DagRun.id: dag_run.id})
    if removed:
        log.info(
            "deadlines of %s %s: %d removed, the run ended (%s) at %s before them",
            dag_run.dag_id,
            dag_run.run_id,
            removed,
            dag_run.state,
            dag_run.end_date,
        )
    return removed


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    """Scheduler (task failure, deadlock, ``dagrun_timeout``) or api-server (marked failed by hand)."""
    resolve_deadlines(dag_run)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    """A run marked success by hand: Airflow prunes only when its scheduler sees the success."""
    resolve_deadlines(dag_run)
