"""What every task checks about the run's request before it works, and how a refusal is recorded.

``check_request`` runs as every task's ``pre_execute`` (``core.tasks.default_args``), so the first
task of a run refuses a bad request before anything is read or changed:

* a key of the run's conf that is not a Param of the DAG (a misspelled ``regoins`` would otherwise
  be ignored and a full run done): refused, naming the key and the closest declared Param;
* an ``as_of`` after the run's start (plus ``pipelines.yaml: as_of_clock_skew_minutes``) on a run
  that changes anything (``dry_run`` off): a future ``as_of`` would judge today's backups,
  certificates and windows by a later day's rules. A dry run may look at any instant.

Each refusal is a :class:`~di_ops.core.refusals.Refusal`: no retries, no on-call alert, and one
``request.refused`` row in the audit log (``record_refusal``, called by the failure callback).
Source: docs/pipelines/*.md "Refusals"; DOMAIN.md §0 (instants).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from di_ops.core.refusals import Refusal
from di_ops.core.settings import pipelines
from di_ops.rules.timestamps import parse_instant

log = logging.getLogger(__name__)

AUDIT_REFUSED = "request.refused"


def unknown_keys(conf: Mapping[str, Any], declared: Iterable[str]) -> list[tuple[str, str | None]]:
    """(key, closest declared Param or None) for every conf key that is not a declared Param."""
    names = sorted(declared)
    return [
        (key, next(iter(difflib.get_close_matches(key, names, n=1, cutoff=0.6)), None))
        for key in sorted(conf)
        if key not in names
    ]


def unknown_keys_refusal(dag_id: str, conf: Mapping[str, Any], declared: Iterable[str]) -> Refusal | None:
    """The refusal of a conf holding keys that are not Params of ``dag_id``, else None."""
    declared = sorted(declared)
    unknown = unknown_keys(conf, declared)
    if not unknown:
        return None
    parts = [f"{key!r}" + (f" (did you mean {close!r}?)" if close else "") for key, close in unknown]
    return Refusal(
        f"{dag_id} has no Param {', '.join(parts)}; its Params are {', '.join(declared)}",
        param=unknown[0][0],
    )


def as_of_ahead(as_of_text: Any, run_start: datetime, skew: timedelta) -> datetime | None:
    """The ``as_of`` Param when it lies after the run's start plus ``skew``, else None (also when
    empty); ``ValueError`` when it is not a timestamp (:func:`di_ops.rules.timestamps.parse_instant`)."""
    if not as_of_text:
        return None
    as_of = parse_instant(str(as_of_text), what="Param as_of")
    return as_of if as_of > run_start + skew else None


def future_as_of_refusal(as_of_text: Any, run_start: datetime, *, dry_run: bool, skew: timedelta) -> Refusal | None:
    """The refusal of an ``as_of`` later than the run's start (+ ``skew``) on a run that changes anything."""
    if dry_run:
        return None
    try:
        as_of = as_of_ahead(as_of_text, run_start, skew)
    except ValueError as exc:
        return Refusal(str(exc), param="as_of")
    if as_of is None:
        return None
    return Refusal(
        f"Param as_of {as_of.astimezone(UTC).isoformat()} lies after the run's start "
        f"{run_start.astimezone(UTC).isoformat()} (+{skew}): a run that changes anything decides for now "
        "or the past only; use dry_run to look at a future instant",
        param="as_of",
    )


def check_request(context: Mapping[str, Any]) -> None:
    """``pre_execute`` of every task: raise the run's :class:`Refusal`, if it has one."""
    dag_run, dag = context["dag_run"], context["dag"]
    conf = dict(dag_run.conf or {})
    declared = list(dag.params.keys())
    refusal = unknown_keys_refusal(dag.dag_id, conf, declared)
    if refusal is None and "dry_run" in declared and "as_of" in declared:
        params = context["params"]
        skew = timedelta(minutes=pipelines().as_of_clock_skew_minutes)
        start = dag_run.run_after or datetime.now(UTC)
        dry_run = bool(params.get("dry_run"))
        refusal = future_as_of_refusal(params.get("as_of"), start, dry_run=dry_run, skew=skew)
        note = look_ahead_note(params.get("as_of"), start, dry_run=dry_run, skew=skew)
        if refusal is None and note and context["ti"].task_id == _first_task_id(context):
            from di_ops.core.tasks import push_run_note

            push_run_note(context, note)
    if refusal is not None:
        raise refusal


def _first_task_id(context: Mapping[str, Any]) -> str | None:
    """The task that starts the run (no upstream), by id order; it carries the run's look-ahead note."""
    roots = sorted(t.task_id for t in context["dag"].tasks if not t.upstream_task_ids)
    return roots[0] if roots else None


def look_ahead_note(as_of_text: Any, run_start: datetime, *, dry_run: bool, skew: timedelta) -> str | None:
    """A dry run deciding for an instant after its start says so (its note): nothing was changed."""
    if not dry_run:
        return None
    try:
        as_of = as_of_ahead(as_of_text, run_start, skew)
    except ValueError:  # refused by resolve_as_of in the task that reads it
        return None
    if as_of is None:
        return None
    ahead = as_of - run_start
    return (
        f"dry run as of {as_of.astimezone(UTC).isoformat()}, {ahead.days} days {ahead.seconds // 3600} h after the "
        "run's start: decided for that instant, nothing changed"
    )


def record_refusal(context: Mapping[str, Any], refusal: BaseException) -> None:
    """One audit row per refused task: who asked what, and why it was refused. Never raises."""
    try:
        from di_ops.integrations.opsdb import ops_engine, write_audit

        dag_run, ti = context["dag_run"], context["ti"]
        write_audit(
            ops_engine(),
            [
                {
                    "at": datetime.now(UTC),
                    "dag_id": dag_run.dag_id,
                    "run_id": dag_run.run_id,
                    "entity": ti.task_id,
                    "action": AUDIT_REFUSED,
                    "detail": {
                        "param": getattr(refusal, "param", None),
                        "reason": str(refusal),
                        "conf": {k: str(v)[:200] for k, v in (dag_run.conf or {}).items()},
                    },
                    "actor": None,
                }
            ],
        )
    except Exception:  # the refusal itself must still be what the run shows
        log.exception("could not record the refusal in the audit log")


def unknown_customers_refusal(requested: Iterable[str] | None, known: Iterable[str], where: str) -> Refusal | None:
    """The refusal of customer ids in the ``customers`` Param that ``where`` (e.g. "the inventory
    snapshot S12") does not know, naming each with its closest known id; None when all are known."""
    names = sorted(set(known))
    unknown = sorted(set(requested or []) - set(names))
    if not unknown:
        return None
    parts = []
    for customer in unknown[:20]:
        close = difflib.get_close_matches(customer, names, n=1, cutoff=0.6)
        parts.append(f"{customer!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
    return Refusal(f"Param customers: {', '.join(parts)}{more} not in {where}", param="customers")
