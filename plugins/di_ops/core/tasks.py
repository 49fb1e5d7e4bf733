"""Glue shared by every DAG: default args, the run's ``as_of``, the change-freeze gate.

Light to import (DAG files import it at parse time): settings only, no I/O.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from di_ops.core.refusals import Refusal, is_refusal
from di_ops.core.request import check_request, record_refusal
from di_ops.core.settings import pipelines
from di_ops.rules.timestamps import parse_instant

CHANGE_FREEZE_TASK_ID = "change_freeze_gate"
DRY_RUN_PARAM = "dry_run"
AS_OF_PARAM = "as_of"


class ChangeFrozen(RuntimeError):
    """The change freeze is on; nothing outside the ops DB may change."""


ALERT_SUBJECT = "[di-ops] {{ ti.dag_id }}.{{ ti.task_id }} failed"
# Rendered by the SmtpNotifier with the DAG's Jinja environment, which does not autoescape: every
# inserted value is escaped with ``| e`` (an exception text can carry a folder or file name).
ALERT_HTML = (
    "<p>Task <b>{{ ti.task_id | e }}</b> of DAG <b>{{ ti.dag_id | e }}</b> failed"
    " (try {{ ti.try_number | e }}).</p>"
    "<p>Run: {{ run_id | e }}</p>"
    "<p>Error: {{ exception | e }}</p>"
    '<p>Log: <a href="{{ ti.log_url | e }}">{{ ti.log_url | e }}</a></p>'
)


def refused(message: str, *, param: str | None = None) -> Refusal:
    """A task failure that is a decision, not a fault (bad input, the change freeze, a refused
    reschedule): a :class:`~di_ops.core.refusals.Refusal` — no retries and no on-call alert; the
    reason shows in the task log."""
    return Refusal(message, param=param)


def last_try(context: Any) -> bool:
    """True on a task's last try (no retry left): a transient error is then reported, not retried."""
    ti = context["ti"]
    return bool(ti.try_number > ti.max_tries)


RUN_NOTE_KEY = "run_note"  # read by di_ops.orchestration.run_notes when the run ends
RUN_NOTE_MAX = 1000  # characters: Airflow's DagRunNote.content is String(1000)


def push_run_note(context: Any, note: str) -> None:
    """Give the run a one-line note (set as its DAG-run note when it ends, unless it has one). Never raises."""
    try:
        context["ti"].xcom_push(key=RUN_NOTE_KEY, value=note[:RUN_NOTE_MAX])
    except Exception:  # a note is a courtesy: it must not turn a task's outcome into another one
        logging.getLogger(__name__).exception("could not record the run note %r", note)


def notify_failure(context: Any) -> None:
    """``on_failure_callback`` of every task: one e-mail through Airflow's SMTP provider when a task
    has failed for good, unless the failure is a refusal (see :func:`refused`).

    Recipients and connection come from ``pipelines.yaml: alerts``; the connection is only read
    here, when the callback runs in the worker.
    """
    if is_refusal(context.get("exception")):
        record_refusal(context, context["exception"])
        push_run_note(context, f"refused: {context['exception']}")
        return
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    cfg = pipelines().alerts
    SmtpNotifier(to=list(cfg.to), smtp_conn_id=cfg.smtp_conn_id, subject=ALERT_SUBJECT, html_content=ALERT_HTML)(
        context
    )


def default_args(retries: int | None = None) -> dict[str, Any]:
    """Owner, retries with exponential backoff (30 s doubling to 10 min), an execution timeout
    (``pipelines.yaml: default_task_timeout_minutes``), the failure alert, and the request check
    (:func:`di_ops.core.request.check_request`) before every task."""
    cfg = pipelines()
    return {
        "owner": cfg.owner,
        "retries": cfg.default_retries if retries is None else retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=cfg.default_task_timeout_minutes),
        "on_failure_callback": [notify_failure],
        # every task first checks the run's request (unknown conf keys, a future as_of on a real run)
        "pre_execute": check_request,
    }


def resolve_as_of(param_value: str | None, logical_date: datetime | None, run_after: datetime | None) -> datetime:
    """The instant a run decides for: the ``as_of`` Param, else the logical date, else ``run_after``.

    Manual runs in Airflow 3 may have no logical date, so ``run_after`` is the fallback.
    A Param that is not a date-time with a zone (:func:`di_ops.rules.timestamps.parse_instant`) is a
    :class:`~di_ops.core.refusals.Refusal` naming ``as_of``, never a guess.
    """
    if param_value:
        try:
            return parse_instant(str(param_value), what="Param as_of")
        except ValueError as exc:  # the operator's input: a refusal (no retries, no alert), in every pipeline
            raise Refusal(str(exc), param="as_of") from None
    for candidate in (logical_date, run_after):
        if candidate is not None:
            return candidate
    raise ValueError("the run has neither a logical date nor run_after; pass as_of")


def change_freeze_reason(variable_value: str | None) -> str | None:
    """The freeze reason when the Variable is set to anything but empty/false/off/0."""
    if variable_value is None:
        return None
    value = variable_value.strip()
    if value.lower() in {"", "false", "off", "0", "no"}:
        return None
    return value


def check_change_freeze(dry_run: bool) -> str:
    """Raise ChangeFrozen when the freeze Variable is on and the run would change anything.

    Reads the Airflow Variable inside the task (never at parse time). A dry run goes on.
    """
    from airflow.sdk import Variable

    name = pipelines().change_freeze_variable
    reason = change_freeze_reason(Variable.get(name, default=None))
    if reason is None:
        return "no change freeze"
    if dry_run:
        return f"change freeze on ({reason}); dry run goes on"
    raise ChangeFrozen(
        f"change freeze is on (Variable {name}={reason!r}); nothing was changed. "
        f"Clear the Variable or trigger with dry_run=true."
    )


def change_freeze_gate():  # type: ignore[no-untyped-def]
    """The first task of every DAG that changes anything outside the ops DB (wire it upstream of all)."""
    from airflow.sdk import get_current_context, task

    @task(task_id=CHANGE_FREEZE_TASK_ID)
    def gate() -> str:
        params = get_current_context()["params"]
        try:
            return check_change_freeze(bool(params.get(DRY_RUN_PARAM, False)))
        except ChangeFrozen as exc:  # a freeze is a decision, not a fault: no retries, no alert
            raise refused(str(exc)) from exc

    return gate()
