"""The life of one planned upgrade: its window and its state machine (pure: no Airflow, no I/O, no clock).

Source: DOMAIN.md §2 (notice, one reschedule no later than 7 days before, emergency changes
cannot be rescheduled, the new date is an available window of the region), §1 (weekday
windows; SME follows its publishing region; emergencies take the next window, weekend
included). Every rule comes from ``di_ops.rules``; which clusters need an upgrade is
``di_ops.rules.upgrade_triggers``. The state machine:

    proposed --notify--> notified --schedule--> scheduled --complete--> done
        \\                  |  \\--reschedule (once)--> scheduled      /
         \\                 \\------miss------> missed <--miss--/ --complete--> done
          \\                                  |--replan--> notified (new window, new notice)
           \\--cancel--> cancelled <--cancel-- (proposed|notified|scheduled|missed)

Choices made here: a reschedule lands in ``scheduled`` (the partner chose the
date); ``complete`` is accepted from ``notified``, ``scheduled`` or ``missed`` (the inventory
shows the target release); a window that closed without the target in the inventory is
``missed`` and is re-planned with a new notice (DOMAIN.md §2: "flagged and re-planned (with a
new notice) the moment it is known"); ``done`` and ``cancelled`` are final.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from pydantic import Field

from di_ops.rules.change import reschedule_refusal, reschedule_window, upgrade_change_window
from di_ops.rules.common import FrozenRecord, require_aware
from di_ops.rules.maintenance import Window, next_window, window_opening_on
from di_ops.rules.timestamps import parse_instant

State = Literal["proposed", "notified", "scheduled", "missed", "done", "cancelled"]
Action = Literal["propose", "notify", "schedule", "reschedule", "miss", "replan", "complete", "cancel"]
WindowState = Literal["open", "awaiting_inventory", "closed"]

OPEN_STATES: frozenset[str] = frozenset({"proposed", "notified", "scheduled", "missed"})
# states whose window was announced: once it has closed, the upgrade is done or missed
ANNOUNCED_STATES: frozenset[str] = frozenset({"notified", "scheduled"})
# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "notify": (frozenset({"proposed"}), "notified"),
    "schedule": (frozenset({"notified"}), "scheduled"),
    "reschedule": (frozenset({"notified", "scheduled"}), "scheduled"),
    "miss": (ANNOUNCED_STATES, "missed"),
    "replan": (frozenset({"missed"}), "notified"),
    "complete": (frozenset({"notified", "scheduled", "missed"}), "done"),
    "cancel": (frozenset(OPEN_STATES), "cancelled"),
}


class Plannable(Protocol):
    """What a window is planned from: a verdict of the sweep or a stored plan."""

    @property
    def window_region(self) -> str: ...

    @property
    def emergency(self) -> bool: ...


class Plan(FrozenRecord):
    """One planned upgrade as the state machine sees it."""

    upgrade_id: str
    cluster_id: str
    window_region: str
    state: State
    window_start: datetime
    window_end: datetime
    reschedules: int = Field(default=0, ge=0)
    emergency: bool = False
    sequence: int = Field(default=0, ge=0)  # the .ics SEQUENCE of the last notice


class Outcome(FrozenRecord):
    """The result of asking for one transition: accepted with the new plan, or refused with the reason."""

    action: Action
    accepted: bool
    from_state: str | None
    to_state: str | None
    reason: str
    plan: Plan | None = None


# --- planning and the state machine ---------------------------------------------------------


def plan_window(verdict: Plannable, notice_at: datetime) -> Window:
    """The window a notice sent at ``notice_at`` names: the first weekday window >= 10 business days
    after it; an emergency takes the next window of any day. Either way it opens at or after ``notice_at``.

    Called again at the moment a notice is really sent (a plan that waited in ``proposed`` or is
    re-planned after a missed window gets a new one): the notice period counts from the sending.
    Source: DOMAIN.md §2 (upgrade notice; notice period from the sending) via
    ``upgrade_change_window``; §1 (emergency changes).
    """
    if verdict.emergency:
        return next_window(verdict.window_region, notice_at, allow_weekend=True)
    return upgrade_change_window(verdict.window_region, notice_at)


def upgrade_id_for(cluster_id: str, target: str, window_start: datetime) -> str:
    """A stable id: cluster, target and the local day of the first planned window."""
    compact = target.replace(" ", "")
    return f"{cluster_id}~{compact}~{window_start:%Y%m%d}"


def window_state(window_end: datetime, as_of: datetime, inventory_at: datetime, grace: timedelta) -> WindowState:
    """Whether an announced window can be judged: ``open`` until it closes; then ``closed`` once the
    inventory is known to describe the fleet after the window, else ``awaiting_inventory``.

    The inventory describes the fleet after the window when its snapshot was taken at or after the
    window's end (a window does not contain its closing instant, DOMAIN.md §0), or when ``grace``
    has passed since the end: inventory snapshots are stored only when the exports change, so an
    untouched fleet (the upgrade not done) keeps an older snapshot; the sync runs hourly and
    ``grace`` (setting ``missed_grace_hours``) is how long it may take to show a change.
    """
    for name, value in (("window_end", window_end), ("as_of", as_of), ("inventory_at", inventory_at)):
        require_aware(value, name)
    end = window_end.astimezone(UTC)
    if as_of.astimezone(UTC) < end:
        return "open"
    if inventory_at.astimezone(UTC) >= end or as_of.astimezone(UTC) >= end + grace:
        return "closed"
    return "awaiting_inventory"


def replan(plan: Plan, window: Window, *, reason: str) -> Outcome:
    """A missed upgrade in a new window: ``notified`` again, its notice one SEQUENCE higher (same UID).

    Source: DOMAIN.md §2 (re-planned with a new notice; the window of a notice has not begun).
    """
    allowed, target = TRANSITIONS["replan"]
    if plan.state not in allowed:
        return _refuse(plan, "replan", f"cannot replan upgrade {plan.upgrade_id}: it is {plan.state}")
    new = plan.model_copy(
        update={"state": target, "window_start": window.start, "window_end": window.end, "sequence": plan.sequence + 1}
    )
    return Outcome(action="replan", accepted=True, from_state=plan.state, to_state=target, reason=reason, plan=new)


def _refuse(plan: Plan | None, action: Action, reason: str) -> Outcome:
    state = plan.state if plan else None
    return Outcome(action=action, accepted=False, from_state=state, to_state=state, reason=reason, plan=plan)


def transition(plan: Plan, action: Action, *, reason: str = "") -> Outcome:
    """Apply ``notify``, ``schedule``, ``miss``, ``complete`` or ``cancel``; an invalid transition is refused
    with the reason."""
    if action not in TRANSITIONS or action in {"reschedule", "replan"}:
        return _refuse(plan, action, f"{action!r} is not a transition handled here; use {action}() instead")
    allowed, target = TRANSITIONS[action]
    if plan.state not in allowed:
        return _refuse(
            plan,
            action,
            f"cannot {action} upgrade {plan.upgrade_id}: it is {plan.state} "
            f"(allowed from {', '.join(sorted(allowed))})",
        )
    new = plan.model_copy(update={"state": target})
    return Outcome(action=action, accepted=True, from_state=plan.state, to_state=target, reason=reason, plan=new)


def requested_window(region: str, requested: str) -> Window | None:
    """The window a reschedule asks for: a date means the window opening that local day; a date-time must
    lie inside a window. None when it names no operator window the policy allows."""
    text = requested.strip()
    if "T" not in text and " " not in text:
        day = date.fromisoformat(text)
        window = window_opening_on(region, day)
        return reschedule_window(region, window.start)
    return reschedule_window(region, parse_instant(text, what="requested window"))


def requested_at_refusal(
    requested_at: datetime,
    run_started_at: datetime,
    notified_at: datetime | None,
    *,
    max_backdate: timedelta,
    clock_skew: timedelta,
) -> str | None:
    """Why a reschedule's "requested at" instant (the ``as_of`` Param) cannot be taken, or ``None``.

    The instant decides the 7-day rule (DOMAIN.md §2), so it may not be back-dated: not before the
    notice the partner answers, not more than ``max_backdate`` before the run, not after the run
    (beyond ``clock_skew``).
    """
    for name, value in (("requested_at", requested_at), ("run_started_at", run_started_at)):
        require_aware(value, name)
    at, run = requested_at.astimezone(UTC), run_started_at.astimezone(UTC)
    if at > run + clock_skew:
        return f"as_of (Requested at) {at.isoformat()} lies after the run started ({run.isoformat()})"
    if at < run - max_backdate:
        return (
            f"as_of (Requested at) {at.isoformat()} lies more than {max_backdate} before the run "
            f"({run.isoformat()}); a request is dated when it reaches the operator"
        )
    if notified_at is not None and at < notified_at.astimezone(UTC):
        return (
            f"as_of (Requested at) {at.isoformat()} lies before the notice ({notified_at.astimezone(UTC).isoformat()})"
        )
    return None


def reschedule(plan: Plan, requested: str, requested_at: datetime, *, not_before: datetime | None = None) -> Outcome:
    """The partner's one reschedule: refused for a second one, under 7 days before, an emergency,
    a state it cannot leave, or a date that is no available window of the region, or a window that
    has begun by ``requested_at`` (or by ``not_before``, the run's start, when later).

    Source: DOMAIN.md §2 (``reschedule_refusal``, ``reschedule_window``).
    """
    require_aware(requested_at, "requested_at")
    earliest = max(requested_at.astimezone(UTC), (not_before or requested_at).astimezone(UTC))
    allowed, target = TRANSITIONS["reschedule"]
    if plan.state not in allowed:
        return _refuse(plan, "reschedule", f"cannot reschedule upgrade {plan.upgrade_id}: it is {plan.state}")
    refusal = reschedule_refusal(plan.window_start, requested_at, plan.reschedules, plan.emergency)
    if refusal is not None:
        return _refuse(plan, "reschedule", refusal)
    try:
        window = requested_window(plan.window_region, requested)
    except ValueError as exc:
        return _refuse(plan, "reschedule", f"cannot read the requested window {requested!r}: {exc}")
    if window is None:
        return _refuse(
            plan,
            "reschedule",
            f"{requested} is not an available operator window of {plan.window_region} "
            "(windows open 21:00 local and close 06:00; see DOMAIN.md §1-2)",
        )
    if window.start.astimezone(UTC) <= earliest:
        return _refuse(plan, "reschedule", f"the requested window {window.start.isoformat()} has already begun")
    if window.start.astimezone(UTC) == plan.window_start.astimezone(UTC):
        return _refuse(plan, "reschedule", "the requested window is the one already planned")
    new = plan.model_copy(
        update={
            "state": target,
            "window_start": window.start,
            "window_end": window.end,
            "reschedules": plan.reschedules + 1,
            "sequence": plan.sequence + 1,
        }
    )
    return Outcome(
        action="reschedule",
        accepted=True,
        from_state=plan.state,
        to_state=target,
        reason=f"rescheduled from {plan.window_start.isoformat()} to {window.start.isoformat()}",
        plan=new,
    )
