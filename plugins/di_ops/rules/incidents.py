"""Incidents and escalation: which TAC case is due a proactive notice, which is an escalation candidate,
and which was raised through the wrong channel.

Source: DOMAIN.md §7 (objectives, escalation requirements, S1/S2 by phone, S3/S4 through the case
manager) and §7a (proactive e-mail for S1/S2, status and action plan, escalation candidates).
Pure: every instant is passed in (``as_of``); the objectives come from ``policy.yaml`` through
:mod:`di_ops.rules.sla`.

Interpretations (defaults chosen here, documented in docs/pipelines/incident_watch.md):

* A proactive notice is due for an S1/S2 case once per severity: a case already told at S2 and
  raised to S1 is due a new one; one already told at S1 and downgraded to S2 is not (the partner
  already knows the worse news). It is due by ``opened_at`` + the severity's objective (§7a).
* Cases opened more than ``lookback`` before ``as_of`` are not announced (a first run over a year of
  history tells no partner about last year's incidents); neither are cases opened after ``as_of``.
* Escalation candidate (§7a): an open case with no first response known at ``as_of`` once past its
  response due time (*no_first_response*); an open case whose latest status (first response or
  ``last_update_at``) is more than one objective interval old (*no_status_update*) — judged only
  when the export carries ``last_update_at``. A closed case is never a candidate. "More than" is
  strict: exactly one interval after the last update is not yet a candidate.
* The next update a notice promises is one objective interval after the latest status, or, when
  that is already past, one interval after ``as_of``.
* Channel (§7a): ``phone`` and ``case manager`` labels (English or Dutch); an S1/S2 raised through
  the case manager or an S3/S4 by phone is a process deviation, reported, not judged. An unknown or
  empty channel is not judged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

from di_ops.core.settings import SlaPolicy
from di_ops.rules.common import FrozenRecord, require_aware
from di_ops.rules.severity import normalise_severity
from di_ops.rules.sla import response_due

PROACTIVE_SEVERITIES: Final[tuple[str, ...]] = ("S1", "S2")
CandidateState = Literal["none", "no_first_response", "no_status_update"]
Channel = Literal["phone", "case_manager"]
_CHANNELS: Final[dict[str, Channel]] = {
    "phone": "phone",
    "telephone": "phone",
    "telefoon": "phone",
    "call": "phone",
    "case manager": "case_manager",
    "case_manager": "case_manager",
    "casemanager": "case_manager",
    "case-manager": "case_manager",
    "web": "case_manager",
    "portal": "case_manager",
}


def _utc(value: datetime, name: str) -> datetime:
    return require_aware(value, name).astimezone(UTC)


def _rank(severity: str) -> int:
    """1 for S1 (most severe) .. 4 for S4."""
    return int(normalise_severity(severity)[1])


def notice_due_at(severity: str, opened_at: datetime, region: str, *, policy: SlaPolicy | None = None) -> datetime:
    """When the proactive notice of an S1/S2 case is due: ``opened_at`` + the severity's objective (§7a)."""
    return response_due(severity, _utc(opened_at, "opened_at"), region, policy=policy)


def needs_proactive_notice(
    severity: str,
    opened_at: datetime,
    as_of: datetime,
    *,
    notified: frozenset[str],
    lookback: timedelta,
) -> bool:
    """True when the case (at ``severity`` now) is due a proactive e-mail to its partner contacts.

    S1/S2 only; never twice for the same severity, nor for a severity no worse than one already
    told; only for cases opened in ``[as_of - lookback, as_of]``. Source: DOMAIN.md §7a.
    """
    level = normalise_severity(severity)
    opened, now = _utc(opened_at, "opened_at"), _utc(as_of, "as_of")
    if level not in PROACTIVE_SEVERITIES or not now - lookback <= opened <= now:
        return False
    return all(_rank(level) < _rank(told) for told in notified)


class Candidate(FrozenRecord):
    """The escalation state of one case at ``as_of``: ``since`` is the instant a candidate state is counted
    from (opening or the latest status); ``due_at`` when the response or next status is (or was) due —
    for a case that is not a candidate yet, the instant it becomes one without news (None: never)."""

    state: CandidateState
    since: datetime | None = None
    due_at: datetime | None = None


def _known(value: datetime | None, now: datetime, name: str) -> datetime | None:
    """``value`` in UTC when it is known at ``now`` (not after it), else None."""
    if value is None:
        return None
    instant = _utc(value, name)
    return instant if instant <= now else None


def escalation_state(
    severity: str,
    region: str,
    opened_at: datetime,
    first_response_at: datetime | None,
    last_update_at: datetime | None,
    closed_at: datetime | None,
    as_of: datetime,
    *,
    tracks_updates: bool,
    policy: SlaPolicy | None = None,
) -> Candidate:
    """Escalation candidate state of one case at ``as_of``. Source: DOMAIN.md §7a (see the module)."""
    now = _utc(as_of, "as_of")
    opened = _utc(opened_at, "opened_at")
    if opened > now or _known(closed_at, now, "closed_at") is not None:
        return Candidate(state="none")
    responded = _known(first_response_at, now, "first_response_at")
    if responded is None:
        due = response_due(severity, opened, region, policy=policy)
        state: CandidateState = "no_first_response" if now > due else "none"
        return Candidate(state=state, since=opened if state != "none" else None, due_at=due)
    if not tracks_updates:
        return Candidate(state="none")
    updated = _known(last_update_at, now, "last_update_at")
    latest = max(responded, updated) if updated is not None else responded
    due = response_due(severity, latest, region, policy=policy)
    if now > due:
        return Candidate(state="no_status_update", since=latest, due_at=due)
    return Candidate(state="none", due_at=due)


def next_update_at(
    severity: str,
    region: str,
    latest_status: datetime,
    as_of: datetime,
    *,
    policy: SlaPolicy | None = None,
) -> datetime:
    """The next status update a notice promises: one objective interval after the latest status
    (opening, first response or update), or one interval after ``as_of`` when that is past (§7a)."""
    now = _utc(as_of, "as_of")
    due = response_due(severity, _utc(latest_status, "latest_status"), region, policy=policy)
    return due if due > now else response_due(severity, now, region, policy=policy)


def normalise_channel(channel: str | None) -> Channel | None:
    """``phone`` or ``case_manager`` for a known channel label (case-insensitive), else None."""
    if channel is None:
        return None
    return _CHANNELS.get(" ".join(str(channel).strip().lower().split()))


def channel_deviation(severity: str, channel: str | None) -> str | None:
    """Why the channel deviates from §7a (S1/S2 by phone, S3/S4 through the case manager), or None.

    An unknown or missing channel is not judged (None)."""
    level = normalise_severity(severity)
    found = normalise_channel(channel)
    if found is None:
        return None
    expected: Channel = "phone" if level in PROACTIVE_SEVERITIES else "case_manager"
    if found == expected:
        return None
    return (
        f"{level} raised through the {found.replace('_', ' ')}; DOMAIN.md §7a expects the {expected.replace('_', ' ')}"
    )


def digest_day(as_of: datetime, hour_utc: int) -> date | None:
    """The day whose S3/S4 digest is due at ``as_of``: today (UTC) from ``hour_utc`` on, else None."""
    now = _utc(as_of, "as_of")
    return now.date() if now.hour >= hour_utc else None


def sent_within_objective(sent_at: datetime | None, due_at: datetime) -> bool:
    """A notice sent at or before its due time is within the objective (like a response, §7)."""
    return sent_at is not None and _utc(sent_at, "sent_at") <= _utc(due_at, "due_at")
