"""Vectorised response objectives over a frame of TAC cases (bulk form of :mod:`di_ops.rules.sla`).

Source: DOMAIN.md §7 (docs/domain.md); a vectorised form, tested to agree with the scalar one.
The frame has the columns ``severity``, ``opened_at``, ``first_response_at``
(nullable) and ``region``; timestamps are timezone-aware (``datetime64[…, tz]``;
naive columns raise ValueError, like the scalar form). Work is done per
distinct region and severity label, never per row; results agree exactly with
:func:`di_ops.rules.sla.response_due` and :func:`di_ops.rules.sla.response_status`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from numpy.typing import NDArray

from di_ops.core import settings
from di_ops.core.settings import SlaPolicy
from di_ops.rules.calendar import add_business_days_ns
from di_ops.rules.common import normalise_region, require_aware
from di_ops.rules.severity import normalise_severity

STATUS_NAMES: Final[NDArray[np.object_]] = np.array(["met", "breached", "pending"], dtype=object)
_MINUTE_NS: Final = 60 * 10**9
_NAT: Final = np.iinfo(np.int64).min


def _utc_ns(values: Any, column: str) -> NDArray[np.int64]:
    """int64 nanoseconds since the epoch (UTC) of an aware column; NaT as int64 min."""
    series = pd.Series(values)
    if series.dtype == object:
        for value in series.dropna():
            require_aware(value, f"{column}[...]")
        series = pd.to_datetime(series, utc=True) if series.notna().any() else series.astype("datetime64[ns, UTC]")
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"{column} must be timezone-aware datetimes, got dtype {series.dtype}")
    # Dropping the zone gives the UTC wall clock: its int64 view is the instants, without a copy.
    utc = series.dt.tz_convert(None).dt.as_unit("ns").to_numpy()
    return np.asarray(utc.view(np.int64), dtype=np.int64)


def _label_codes(values: Any, normalise: Any) -> tuple[NDArray[np.intp], list[str]]:
    """Normalise a label column once per distinct value (not per row): row codes into canonical names.

    A Categorical column is read through its codes (only the categories in use are normalised).
    """
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.array.codes, dtype=np.intp)
        categories = list(series.array.categories)
        used = np.bincount(codes[codes >= 0], minlength=len(categories)) > 0
        uniques: list[Any] = [c if used[i] else None for i, c in enumerate(categories)]
        if (codes < 0).any():
            uniques.append(np.nan)
            codes = np.where(codes < 0, len(categories), codes)
        canonical = [None if u is None and i < len(categories) else normalise(u) for i, u in enumerate(uniques)]
    else:
        codes, found = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
        canonical = [normalise(value) for value in found]
    names = sorted({name for name in canonical if name is not None})
    lookup = np.array([names.index(name) if name is not None else -1 for name in canonical], dtype=np.intp)
    return lookup[codes], names


def _due_ns(frame: Any, policy: SlaPolicy | None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    rules = policy if policy is not None else settings.policy().sla
    opened = _utc_ns(frame["opened_at"], "opened_at")
    missing = opened == _NAT
    if missing.any():
        raise ValueError(f"opened_at is missing in row {frame.index[int(np.argmax(missing))]!r}")
    severity, severities = _label_codes(frame["severity"], normalise_severity)
    region, regions = _label_codes(frame["region"], normalise_region)
    # Per distinct severity: elapsed minutes or business days (integer codes, no per-row work).
    minutes = np.array([rules.objectives[level].minutes or 0 for level in severities], dtype=np.int64)  # type: ignore[index]
    days = np.array([rules.objectives[level].business_days or 0 for level in severities], dtype=np.int64)  # type: ignore[index]
    due = opened + minutes[severity] * _MINUTE_NS if severities else opened.copy()
    business_days = days[severity] if severities else np.zeros(0, dtype=np.int64)
    counted = business_days > 0
    for code, name in enumerate(regions):  # one pass per region, on int64 instants
        rows = np.flatnonzero(counted & (region == code))
        if rows.size:
            due[rows] = add_business_days_ns(name, opened[rows], business_days[rows])
    return due, opened


def response_due_bulk(frame: Any, *, policy: SlaPolicy | None = None) -> Any:
    """Due time of each case's first response: a Series ``datetime64[ns, UTC]`` on the frame's index.

    Vectorised :func:`di_ops.rules.sla.response_due` (same instants). Source: DOMAIN.md §7.
    """
    due, _ = _due_ns(frame, policy)
    return pd.Series(due.view("datetime64[ns]"), index=frame.index, name="response_due").dt.tz_localize("UTC")


def response_due_and_status_ns(
    frame: Any, as_of: datetime, *, policy: SlaPolicy | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Due times (int64 ns, UTC) and status codes (0 met, 1 breached, 2 pending; :data:`STATUS_NAMES`) at once.

    The due times are computed once for both; same rules and errors as
    :func:`response_due_bulk` and :func:`response_status_bulk` (which agree exactly with
    :func:`di_ops.rules.sla.response_due` and :func:`di_ops.rules.sla.response_status`).
    Source: DOMAIN.md §7.
    """
    as_of_ns = int(pd.Timestamp(require_aware(as_of, "as_of")).as_unit("ns").value)
    due, opened = _due_ns(frame, policy)
    responded = _utc_ns(frame["first_response_at"], "first_response_at")
    has_response = responded != _NAT
    early = has_response & (responded < opened)
    if early.any():
        row = frame.index[int(np.argmax(early))]
        raise ValueError(f"first_response_at is before opened_at in row {row!r}")
    known = has_response & (responded <= as_of_ns)
    met = known & (responded <= due)
    breached = (known & (responded > due)) | (~known & (as_of_ns > due))
    code = np.where(met, 0, np.where(breached, 1, 2)).astype(np.int8)
    return due, code


def response_status_bulk(frame: Any, as_of: datetime, *, policy: SlaPolicy | None = None) -> Any:
    """The status of each case at ``as_of`` ("met", "breached", "pending"): a Series on the frame's index.

    Vectorised :func:`di_ops.rules.sla.response_status`, same rules: met at
    exactly the due time; a response dated after ``as_of`` is not known yet; a
    response before ``opened_at`` raises ValueError naming the row.
    Source: DOMAIN.md §7.
    """
    _, code = response_due_and_status_ns(frame, as_of, policy=policy)
    return pd.Series(STATUS_NAMES[code], index=frame.index, name="response_status", dtype=object)
