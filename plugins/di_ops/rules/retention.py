"""Backup retention: which backups of a series to keep, prune or hold.

Source: DOMAIN.md §3. Numbers come from ``include/config/policy.yaml``
(``retention``): keep the ``keep_latest_good`` (3) most recent good backups
whatever their age, every good backup at most ``keep_good_days`` (33) days old,
a not-good backup while at most ``keep_bad_days`` (3) days old; prune the rest.

Interpretations (defaults chosen here, DOMAIN.md §0 and §3):

* age = ``as_of − taken_at`` in elapsed time; "≤ 33 days" includes exactly
  33 days (33 days + 1 µs is pruned); the same for "≤ 3 days".
* ties on ``taken_at`` are broken by ``backup_id`` descending (the greater id
  counts as more recent), ordering ids as Python ``str`` does.
* safety gates hold (never prune) every backup of the series concerned: a
  backup dated after ``as_of``; a ``backup_id`` that occurs more than once in the
  whole input (a duplicate across two series holds both series); a series
  named in ``held`` (series → reason, e.g. an unreadable manifest).
* a status is case-insensitive and must be one of ``retention.statuses``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from di_ops.core.settings import RetentionPolicy, policy
from di_ops.rules.common import require_aware

SeriesKey = tuple[str, str, str]
Action = Literal["keep", "prune", "hold"]
DAY: Final = timedelta(days=1)
MAX_IDS_NAMED: Final = 5

# Reason codes, shared with the columnar form (retention_bulk): a decision's
# reasons are a bit set of these, rendered to text by ``render_reasons``.
RECENT_GOOD: Final = 1  # one of the N most recent good backups
GOOD_YOUNG: Final = 2  # good and at most keep_good_days old
GOOD_OLD: Final = 4  # good, older than keep_good_days and not among the N most recent
BAD_YOUNG: Final = 8  # not good, at most keep_bad_days old
BAD_OLD: Final = 16  # not good, older than keep_bad_days
HOLD_FUTURE: Final = 32  # the series has a backup dated after as_of
HOLD_DUPLICATE: Final = 64  # the series has a backup id that occurs more than once
HOLD_REQUESTED: Final = 128  # the series is named in ``held``
HOLD_MASK: Final = HOLD_FUTURE | HOLD_DUPLICATE | HOLD_REQUESTED
KEEP_MASK: Final = RECENT_GOOD | GOOD_YOUNG | BAD_YOUNG


class Backup(BaseModel):
    """One backup of one series (customer × cluster × application). Source: DOMAIN.md §3."""

    model_config = ConfigDict(frozen=True)

    backup_id: str
    customer_id: str
    cluster_id: str
    application: str
    taken_at: datetime
    status: str
    intact: bool = True

    @field_validator("taken_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return require_aware(value, "taken_at")

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        name = value.strip().upper()
        known = policy().retention.statuses
        if name not in known:
            raise ValueError(f"unknown backup status {value!r}; known statuses: {', '.join(known)}")
        return name

    @property
    def series(self) -> SeriesKey:
        """(customer_id, cluster_id, application): the backup series. Source: DOMAIN.md §3."""
        return (self.customer_id, self.cluster_id, self.application)


class RetentionDecision(BaseModel):
    """The action for one backup and every reason behind it. Source: DOMAIN.md §3."""

    model_config = ConfigDict(frozen=True)

    backup_id: str
    action: Action
    reasons: list[str] = Field(min_length=1)


def _age_text(age: timedelta, limit_days: int) -> str:
    text = f"{age / DAY:.1f} days"
    if text == f"{limit_days:.1f} days" and age != limit_days * DAY:
        return str(age)  # rounding would hide which side of the limit it is on
    return text


def _ids_text(ids: Iterable[str]) -> str:
    names = sorted(set(ids))
    shown = ", ".join(repr(name) for name in names[:MAX_IDS_NAMED])
    more = len(names) - MAX_IDS_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def not_good_text(status: str, intact: bool) -> str:
    """Why a backup is not good, e.g. "status FAILED" or "status SUCCESS, files not intact".

    Source: DOMAIN.md §3 rule 1 (good = SUCCESS and every manifest file intact).
    """
    text = f"status {status}"
    return text if intact else f"{text}, files not intact"


def render_reasons(
    code: int,
    *,
    rank: int,
    age: timedelta,
    status: str,
    intact: bool,
    rules: RetentionPolicy,
    future_ids: Sequence[str] = (),
    duplicate_ids: Sequence[str] = (),
    held_reason: str = "",
) -> list[str]:
    """Human-readable reasons of a decision from its reason code (bit set).

    ``rank`` is the backup's position among the series' good backups (1 = most
    recent); ``future_ids``/``duplicate_ids``/``held_reason`` describe the safety
    gates of its series. Source: DOMAIN.md §3 ("every decision carries its reason").
    """
    reasons: list[str] = []
    if code & HOLD_FUTURE:
        reasons.append(f"series held (nothing deleted): backup dated after as_of: {_ids_text(future_ids)}")
    if code & HOLD_DUPLICATE:
        reasons.append(f"series held (nothing deleted): duplicate backup id: {_ids_text(duplicate_ids)}")
    if code & HOLD_REQUESTED:
        reasons.append(f"series held (nothing deleted): {held_reason or 'held by the caller'}")
    good_days, bad_days = rules.keep_good_days, rules.keep_bad_days
    if code & RECENT_GOOD:
        reasons.append(f"one of the {rules.keep_latest_good} most recent good backups (#{rank})")
    if code & GOOD_YOUNG:
        reasons.append(f"good and {_age_text(age, good_days)} old (≤ {good_days} days)")
    if code & GOOD_OLD:
        reasons.append(
            f"good but {_age_text(age, good_days)} old (> {good_days} days) and only #{rank} "
            f"of the good backups (the {rules.keep_latest_good} most recent are kept)"
        )
    if code & BAD_YOUNG:
        reasons.append(
            f"not good ({not_good_text(status, intact)}) and {_age_text(age, bad_days)} old "
            f"(≤ {bad_days} days): kept for troubleshooting, not counted as a good backup"
        )
    if code & BAD_OLD:
        reasons.append(
            f"not good ({not_good_text(status, intact)}) and {_age_text(age, bad_days)} old (> {bad_days} days)"
        )
    return reasons


def action_for(code: int) -> Action:
    """The action implied by a reason code: any gate holds; any keep rule keeps; else prune.

    Source: DOMAIN.md §3 (rules 2-5 and the safety gates).
    """
    if code & HOLD_MASK:
        return "hold"
    if code & KEEP_MASK:
        return "keep"
    return "prune"


def is_good(backup: Backup, rules: RetentionPolicy) -> bool:
    """Good = status among ``good_statuses`` and files intact. Source: DOMAIN.md §3 rule 1."""
    return backup.status in rules.good_statuses and backup.intact


def _series_codes(
    members: list[int], items: list[Backup], taken: list[datetime], as_of: datetime, rules: RetentionPolicy
) -> dict[int, tuple[int, int]]:
    """(reason code, good rank) of each backup of a series no gate holds (DOMAIN.md §3 rules 2-5)."""
    good = [i for i in members if is_good(items[i], rules)]
    good.sort(key=lambda i: (taken[i], items[i].backup_id), reverse=True)
    result: dict[int, tuple[int, int]] = {}
    for rank, i in enumerate(good, start=1):
        recent = rank <= rules.keep_latest_good
        young = as_of - taken[i] <= rules.keep_good_days * DAY
        code = (RECENT_GOOD if recent else 0) | (GOOD_YOUNG if young else 0)
        result[i] = (code or GOOD_OLD, rank)
    for i in members:
        if i not in result:
            result[i] = (BAD_YOUNG if as_of - taken[i] <= rules.keep_bad_days * DAY else BAD_OLD, 0)
    return result


def plan(
    backups: Iterable[Backup],
    as_of: datetime,
    *,
    held: Mapping[SeriesKey, str] | None = None,
    policy: RetentionPolicy | None = None,
) -> list[RetentionDecision]:
    """One keep/prune/hold decision per backup, in input order, each with its reasons.

    Series = (customer_id, cluster_id, application). A series with a backup
    dated after ``as_of``, with a backup id that occurs more than once in the
    input, or named in ``held`` is held whole. Otherwise: keep the 3 most recent
    good backups (ties on ``taken_at``: greater ``backup_id`` first), keep every
    good backup ≤ 33 days old, keep a not-good backup ≤ 3 days old (it never
    counts toward the 3), prune the rest. Ages are elapsed time (instants are
    compared in UTC). Naive datetimes raise ValueError. ``policy`` overrides the
    retention settings (tests, what-ifs).

    Source: DOMAIN.md §3.
    """
    as_of = require_aware(as_of, "as_of").astimezone(UTC)
    rules = policy if policy is not None else _default_policy()
    items = list(backups)
    # Aware datetimes sharing one tzinfo subtract as wall clocks; UTC makes every age elapsed time.
    taken = [require_aware(b.taken_at, f"taken_at of backup {b.backup_id!r}").astimezone(UTC) for b in items]
    held = held or {}

    id_counts = Counter(b.backup_id for b in items)
    members: dict[SeriesKey, list[int]] = defaultdict(list)
    for index, backup in enumerate(items):
        members[backup.series].append(index)

    coded: dict[int, tuple[int, int]] = {}
    gate_details: dict[SeriesKey, tuple[list[str], list[str], str]] = {}
    for series, indexes in members.items():
        future = [items[i].backup_id for i in indexes if taken[i] > as_of]
        duplicate = [items[i].backup_id for i in indexes if id_counts[items[i].backup_id] > 1]
        gate = (HOLD_FUTURE if future else 0) | (HOLD_DUPLICATE if duplicate else 0)
        gate |= HOLD_REQUESTED if series in held else 0
        if gate:
            gate_details[series] = (future, duplicate, held.get(series, ""))
            coded.update({i: (gate, 0) for i in indexes})
        else:
            coded.update(_series_codes(indexes, items, taken, as_of, rules))

    decisions: list[RetentionDecision] = []
    for index, backup in enumerate(items):
        code, rank = coded[index]
        future, duplicate, held_reason = gate_details.get(backup.series, ([], [], ""))
        reasons = render_reasons(
            code,
            rank=rank,
            age=as_of - taken[index],
            status=backup.status,
            intact=backup.intact,
            rules=rules,
            future_ids=future,
            duplicate_ids=duplicate,
            held_reason=held_reason,
        )
        decisions.append(RetentionDecision(backup_id=backup.backup_id, action=action_for(code), reasons=reasons))
    return decisions


def _default_policy() -> RetentionPolicy:
    return policy().retention


# --- the retention invariant at deletion time ------------------------------------------------


class DeletionVerdict(BaseModel):
    """Whether one backup may be deleted now, and why. Source: DOMAIN.md §3."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    reason: str


def _as_of_text(as_of: datetime | None, now: datetime) -> str:
    """ "; as_of … lies N days after the run" when ``as_of`` is a day or more away from the clock."""
    if as_of is None:
        return ""
    as_of = require_aware(as_of, "as_of").astimezone(UTC)
    gap = as_of - now
    if abs(gap) < DAY:
        return ""
    side = "after" if gap > timedelta(0) else "before"
    return f"; as_of {as_of.isoformat()} lies {abs(gap) // DAY} days {side} the run"


def deletion_allowed(
    *,
    taken_at: datetime,
    now: datetime,
    good: bool,
    good_rank: int,
    as_of: datetime | None = None,
    when: str = "at deletion",
    policy: RetentionPolicy | None = None,
) -> DeletionVerdict:
    """The retention invariant no plan, ``as_of`` or approval can override.

    A backup may be deleted only when (a) it is not one of the ``keep_latest_good`` (3) most
    recent good backups of its series (``good_rank`` 1 = most recent good; 0 for a backup that is
    not good) and (b) its age by the real clock ``now`` (not the run's ``as_of``) is beyond the
    retention period: more than ``keep_good_days`` (33) days for a good backup, more than
    ``keep_bad_days`` (3) days for a not-good one. A backup dated after ``now`` is never deleted.
    ``as_of`` only enriches the reason; ``when`` names the moment ``now`` was read. Pure: the
    caller reads the clock. Naive datetimes raise ValueError.

    Source: DOMAIN.md §3 rules 2-4 (the limits and "every decision carries its reason").
    """
    rules = policy if policy is not None else _default_policy()
    now = require_aware(now, "now").astimezone(UTC)
    age = now - require_aware(taken_at, "taken_at").astimezone(UTC)
    context = _as_of_text(as_of, now)
    if good and 1 <= good_rank <= rules.keep_latest_good:
        return DeletionVerdict(
            allowed=False,
            reason=f"kept: one of the {rules.keep_latest_good} most recent good backups of its series "
            f"(#{good_rank} by the plan's scan){context}",
        )
    limit_days = rules.keep_good_days if good else rules.keep_bad_days
    kept_for = f"good backups {limit_days} days" if good else f"a not-good backup {limit_days} days"
    if age < timedelta(0):
        return DeletionVerdict(
            allowed=False,
            reason=f"kept: dated {-age} after the clock {when} (a backup from the future is never deleted){context}",
        )
    if age <= limit_days * DAY:
        return DeletionVerdict(
            allowed=False,
            reason=f"kept: {_age_text(age, limit_days)} old by the clock {when} (retention keeps {kept_for}){context}",
        )
    return DeletionVerdict(
        allowed=True,
        reason=f"may be deleted: {_age_text(age, limit_days)} old by the clock {when} "
        f"(retention keeps {kept_for})" + (f", not among the {rules.keep_latest_good} most recent" if good else ""),
    )
