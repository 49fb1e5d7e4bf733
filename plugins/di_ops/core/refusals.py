"""Two kinds of task failure that must not be retried, told apart by type.

* :class:`Refusal` — an operator's request the platform declines (bad input, the change freeze, a
  refused reschedule): the run fails without retries and **without** an on-call alert; the reason
  shows in the task log (and, where a pipeline keeps one, in the audit log).
* :class:`PermanentFailure` — a fault a retry cannot fix (a missing input file, a failed
  verification): no retries, and on-call **is** alerted by ``notify_failure``.

Both subclass Airflow's ``AirflowFailException``, which fails a task without using its retries.
Light to import (DAG files import :mod:`di_ops.core.tasks`).
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class Refusal(AirflowFailException):
    """A request refused by a rule, not a fault of the platform: no retries, no on-call alert.

    ``param`` names the Param (or setting) the refusal is about, when there is one.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class PermanentFailure(AirflowFailException):
    """A fault a retry cannot fix: the task fails at once and on-call is alerted."""


def is_refusal(exc: BaseException | None) -> bool:
    """True when ``exc`` is a :class:`Refusal` (the failure callback stays silent for those)."""
    return isinstance(exc, Refusal)


def permanent_failure(message: str, cause: BaseException | None = None) -> PermanentFailure:
    """A :class:`PermanentFailure` carrying ``message``, chained to ``cause`` when given."""
    err = PermanentFailure(message)
    if cause is not None:
        err.__cause__ = cause
    return err
