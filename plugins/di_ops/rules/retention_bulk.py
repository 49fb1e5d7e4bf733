"""Columnar (vectorised) form of the retention plan, for millions of backups.

Source: DOMAIN.md §3 (docs/domain.md); a vectorised form, tested to agree with the scalar one.
Same rules, same reason codes and the same reason texts as
:func:`di_ops.rules.retention.plan`; the work is done with numpy over whole
columns (no per-row Python loop); reason texts are rendered lazily, per row, on
request (:meth:`ColumnarPlan.reasons`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Final

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from numpy.typing import ArrayLike, NDArray

from di_ops.core.settings import RetentionPolicy, policy
from di_ops.rules.common import require_aware
from di_ops.rules.retention import (
    BAD_OLD,
    BAD_YOUNG,
    GOOD_OLD,
    GOOD_YOUNG,
    HOLD_DUPLICATE,
    HOLD_FUTURE,
    HOLD_MASK,
    HOLD_REQUESTED,
    KEEP_MASK,
    RECENT_GOOD,
    Action,
    RetentionDecision,
    render_reasons,
)

KEEP: Final = 0
PRUNE: Final = 1
HOLD: Final = 2
ACTION_NAMES: Final[NDArray[np.object_]] = np.array(["keep", "prune", "hold"], dtype=object)
DAY_NS: Final = 86_400 * 10**9


@dataclass(frozen=True, eq=False)
class ColumnarPlan:
    """Decisions of :func:`plan_columns`, one row per input backup, in input order.

    ``action`` holds ``KEEP``/``PRUNE``/``HOLD``; ``reason`` the reason-code bit
    set of :mod:`di_ops.rules.retention`; ``top_rank`` the position (1..N) of
    each of the N most recent good backups of a series that no gate holds, 0
    for every other row (full ranks are computed per series when texts are
    rendered). Source: DOMAIN.md §3.
    """

    action: NDArray[np.int8]
    reason: NDArray[np.uint8]
    top_rank: NDArray[np.int64]
    rules: RetentionPolicy
    _ids: NDArray[Any] = field(repr=False)
    _series: NDArray[np.int64] = field(repr=False)
    _series_labels: Sequence[Hashable] = field(repr=False)
    _taken: NDArray[np.int64] = field(repr=False)
    _status: NDArray[Any] = field(repr=False)
    _intact: NDArray[np.bool_] = field(repr=False)
    _good: NDArray[np.bool_] = field(repr=False)
    _duplicate: NDArray[np.bool_] = field(repr=False)
    _as_of_ns: int = 0
    _held: Mapping[Any, str] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.action.shape[0])

    def action_names(self) -> NDArray[np.object_]:
        """The actions as strings ("keep" | "prune" | "hold"), vectorised. Source: DOMAIN.md §3."""
        return ACTION_NAMES[self.action]

    @cached_property
    def _series_index(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Rows grouped by series (built once, on the first text that needs a whole series)."""
        order = np.argsort(self._series, kind="stable")
        return order, np.searchsorted(self._series[order], np.arange(len(self._series_labels) + 1))

    def _members(self, series: int) -> NDArray[np.intp]:
        order, start = self._series_index
        return order[start[series] : start[series + 1]]

    def _rank(self, row: int) -> int:
        """Position of a good row among its series' good backups (ties: greater backup_id first)."""
        if self.top_rank[row]:
            return int(self.top_rank[row])
        members = self._members(int(self._series[row]))
        good = members[self._good[members]]
        newer = sorted(good.tolist(), key=lambda i: (int(self._taken[i]), str(self._ids[i])), reverse=True)
        return newer.index(row) + 1

    def reasons(self, row: int) -> list[str]:
        """The reason texts of one row, identical to those :func:`retention.plan` gives. Source: DOMAIN.md §3."""
        code = int(self.reason[row])
        future: list[str] = []
        duplicate: list[str] = []
        held_reason = ""
        if code & HOLD_MASK:
            series = int(self._series[row])
            members = self._members(series)
            ids = self._ids[members]
            future = [str(i) for i in ids[self._taken[members] > self._as_of_ns]]
            duplicate = [str(i) for i in ids[self._duplicate[members]]]
            held_reason = self._held.get(self._series_labels[series], "")
        return render_reasons(
            code,
            rank=self._rank(row) if code & (RECENT_GOOD | GOOD_OLD) else 0,
            age=timedelta(microseconds=(self._as_of_ns - int(self._taken[row])) // 1000),
            status=str(self._status[row]),
            intact=bool(self._intact[row]),
            rules=self.rules,
            future_ids=future,
            duplicate_ids=duplicate,
            held_reason=held_reason,
        )

    def decision(self, row: int) -> RetentionDecision:
        """The full decision of one row (rendered on demand). Source: DOMAIN.md §3."""
        action: Action = ACTION_NAMES[self.action[row]]
        return RetentionDecision(backup_id=str(self._ids[row]), action=action, reasons=self.reasons(row))

    def decisions(self) -> list[RetentionDecision]:
        """Every decision, rendered (costly for millions of rows; meant for reports and tests). Source: DOMAIN.md §3."""
        return [self.decision(row) for row in range(len(self))]


def _series_codes(series: ArrayLike | tuple[ArrayLike, ...]) -> tuple[NDArray[np.int64], list[Hashable]]:
    """Integer series codes and their labels; a tuple of columns gives tuple labels (as ``Backup.series``)."""
    if isinstance(series, tuple):
        if not series:
            raise ValueError("plan_columns: series needs at least one key column")
        columns = [pd.factorize(np.asarray(column, dtype=object)) for column in series]
        combined = np.zeros(len(columns[0][0]), dtype=np.int64)
        for column_codes, uniques in columns:
            # Re-factorised at each step so the combined code never exceeds the row count (no overflow).
            combined, _ = pd.factorize(combined * len(uniques) + column_codes)
        codes = combined
        # One label per distinct series, built from its first row: codes number series in order of
        # first appearance, so a first row is one whose code exceeds every code before it.
        first_row = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
        labels: list[Hashable] = list(
            zip(*(uniques[col_codes[first_row]] for col_codes, uniques in columns), strict=True)
        )
        return np.asarray(codes, dtype=np.int64), labels
    values = series if isinstance(series, np.ndarray) else pd.Series(list(series), dtype=object).to_numpy()  # type: ignore[arg-type]
    if values.ndim != 1:
        raise ValueError("plan_columns: series must be one column of keys or a tuple of key columns")
    codes, uniques = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64), list(uniques)


def _good_by_status(status: ArrayLike, rules: RetentionPolicy) -> tuple[NDArray[np.bool_], NDArray[np.object_]]:
    codes, uniques = pd.factorize(np.asarray(status, dtype=object))
    names = np.array([str(name).strip().upper() for name in uniques], dtype=object)
    unknown = sorted(set(names) - set(rules.statuses))
    if unknown:
        raise ValueError(f"unknown backup status {unknown}; known statuses: {', '.join(rules.statuses)}")
    good = np.isin(names, list(rules.good_statuses))
    return good[codes], names[codes]


def plan_columns(
    backup_id: ArrayLike,
    series: ArrayLike | tuple[ArrayLike, ...],
    taken_at_ns: ArrayLike,
    status: ArrayLike,
    intact: ArrayLike,
    as_of: datetime,
    *,
    held: Mapping[Any, str] | None = None,
    policy: RetentionPolicy | None = None,
) -> ColumnarPlan:
    """Vectorised :func:`di_ops.rules.retention.plan` over columns of equal length.

    ``series`` is either one column of hashable series keys or a tuple of
    columns (``customer_id, cluster_id, application``: keys are then the tuples
    ``plan`` uses, so ``held`` takes the same keys); ``taken_at_ns`` is int64
    nanoseconds since the epoch, UTC. Same rules, ties and safety gates as
    ``plan``. Source: DOMAIN.md §3.
    """
    rules = policy if policy is not None else policy_default()
    as_of_ns = int(pd.Timestamp(require_aware(as_of, "as_of")).as_unit("ns").value)
    ids = np.asarray(backup_id, dtype=object)
    taken = np.asarray(taken_at_ns, dtype=np.int64)
    intact_arr = np.asarray(intact, dtype=bool)
    series_codes, labels = _series_codes(series)
    n = ids.shape[0]
    if not (taken.shape[0] == intact_arr.shape[0] == series_codes.shape[0] == n):
        raise ValueError("plan_columns: all columns must have the same length")
    good_status, status_names = _good_by_status(status, rules)
    if status_names.shape[0] != n:
        raise ValueError("plan_columns: all columns must have the same length")
    good = good_status & intact_arr
    held = dict(held or {})
    n_series = len(labels)

    # Safety gates (DOMAIN.md §3): future-dated backup, duplicate id (across the input), held series.
    duplicate = _duplicated(ids)
    future = taken > as_of_ns
    gate = np.where(np.bincount(series_codes[future], minlength=n_series) > 0, HOLD_FUTURE, 0)
    gate |= np.where(np.bincount(series_codes[duplicate], minlength=n_series) > 0, HOLD_DUPLICATE, 0)
    if held:
        held_codes = pd.Index(labels, dtype=object, tupleize_cols=False).get_indexer(list(held))
        gate[held_codes[held_codes >= 0]] |= HOLD_REQUESTED
    row_gate = gate[series_codes]

    top_rank = _top_ranks(series_codes, good & (row_gate == 0), taken, ids, rules.keep_latest_good, n_series)

    age = as_of_ns - taken
    recent = top_rank > 0
    young_good = good & (age <= rules.keep_good_days * DAY_NS)
    code = np.where(recent, RECENT_GOOD, 0) | np.where(young_good, GOOD_YOUNG, 0)
    code = np.where(good & (code == 0), GOOD_OLD, code)
    bad_code = np.where(age <= rules.keep_bad_days * DAY_NS, BAD_YOUNG, BAD_OLD)
    code = np.where(good, code, bad_code)
    reason = np.where(row_gate != 0, row_gate, code).astype(np.uint8)
    action = np.where(reason & HOLD_MASK, HOLD, np.where(reason & KEEP_MASK, KEEP, PRUNE)).astype(np.int8)
    return ColumnarPlan(
        action=action,
        reason=reason,
        top_rank=top_rank,
        rules=rules,
        _ids=ids,
        _series=series_codes,
        _series_labels=labels,
        _taken=taken,
        _status=status_names,
        _intact=intact_arr,
        _good=good,
        _duplicate=duplicate,
        _as_of_ns=as_of_ns,
        _held=held,
    )


def _duplicated(ids: NDArray[Any]) -> NDArray[np.bool_]:
    """Rows whose backup_id occurs more than once in the input.

    Hashes the ids (64-bit, vectorised) and sorts the hashes; only rows whose
    hash repeats are compared exactly, so a hash collision never counts as a
    duplicate. Cheaper than a hash table of a million Python strings.
    """
    hashes = pd.util.hash_array(ids, categorize=False)
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    duplicate = np.zeros(ids.shape[0], dtype=bool)
    if repeated.size:
        candidates = np.flatnonzero(np.isin(hashes, repeated))
        codes, _ = pd.factorize(ids[candidates])
        duplicate[candidates] = np.bincount(codes)[codes] > 1
    return duplicate


def _top_ranks(
    series: NDArray[np.int64],
    good: NDArray[np.bool_],
    taken: NDArray[np.int64],
    ids: NDArray[Any],
    keep: int,
    n_series: int,
) -> NDArray[np.int64]:
    """Rank 1..keep of the ``keep`` most recent good rows of each series, 0 elsewhere.

    ``keep`` linear passes (newest remaining good row per series) instead of a
    sort. Rows tied on taken_at in a series are resolved by backup_id
    descending; only those few rows have their ids compared.
    """
    rank = np.zeros(series.shape[0], dtype=np.int64)
    remaining = good.copy()
    for position in range(1, keep + 1):
        if not remaining.any():
            break
        newest = np.full(n_series, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(newest, series[remaining], taken[remaining])
        hit = remaining & (taken == newest[series])
        tied_series = np.bincount(series[hit], minlength=n_series) > 1
        if tied_series.any():
            tied = np.flatnonzero(hit & tied_series[series])
            id_rank, _ = pd.factorize(ids[tied], sort=True)
            greatest = np.full(n_series, -1, dtype=np.int64)
            np.maximum.at(greatest, series[tied], id_rank)
            hit[tied[id_rank != greatest[series[tied]]]] = False
        rank[hit] = position
        remaining &= ~hit
    return rank


def policy_default() -> RetentionPolicy:
    """The retention settings of ``include/config/policy.yaml``. Source: DOMAIN.md §3."""
    return policy().retention
