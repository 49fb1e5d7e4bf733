"""TAC cases as a frame: the exported columns typed and normalised for the quality checks and the audit.

Source: DOMAIN.md §7. Everything is vectorised (per column, or per *distinct* label, never
per row) so a year of a large fleet's cases is prepared in a fraction of a second; the rules
themselves come from :mod:`di_ops.rules` (severity matrix, timestamps), applied in bulk. The audit
of the accepted cases is :mod:`di_ops.pipelines.sla.audit`. pandas/numpy are imported inside functions.

Interpretations (defaults chosen here, documented in docs/pipelines/sla.md):

* A timestamp is valid when :func:`di_ops.rules.timestamps.parse_instant` accepts it once stripped
  (RFC 3339 date and time with a zone, naming a real instant; read in bulk by
  :mod:`di_ops.pipelines.sla.instants`); a naive one is refused rather than guessed.
* ``impact`` may be a label (English or Dutch) or, when empty, ``affected_share`` (0–1).
* Misclassification compares the severity as filed with the impact × urgency matrix:
  *downgraded* = filed less severe than the matrix (a triage downgrade, allowed), *raised* =
  filed more severe; both are reported, separately.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from di_ops.pipelines.sla.instants import NAT, STATE_NAMES, read_instants, utc_series
from di_ops.pipelines.sla.labels import Distinct, case_ids, decoded
from di_ops.rules.common import known_regions, normalise_region
from di_ops.rules.severity import (
    IMPACTS,
    URGENCIES,
    impact_for_share,
    normalise_impact,
    normalise_severity,
    normalise_urgency,
    severity_for,
)

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "case_id",
    "customer_id",
    "region",
    "opened_at",
    "first_response_at",
    "impact",
    "urgency",
    "severity",
    "closed_at",
)
ESCALATION_COLUMNS: Final[tuple[str, ...]] = (
    "contract_number",
    "caller_account",
    "contact_name",
    "contact_phone",
    "contact_email",
)
TIMESTAMP_COLUMNS: Final[tuple[str, ...]] = ("opened_at", "first_response_at", "closed_at")
SEVERITY_LEVELS: Final[tuple[str, ...]] = ("S1", "S2", "S3", "S4")
# DOMAIN.md §7: the caller must be the partner's support team (partner or resold customer account);
# Dutch "klant" = customer.
_CALLER_ACCOUNTS: Final[dict[str, str]] = {
    "partner": "partner",
    "customer": "customer",
    "resold customer": "customer",
    "klant": "customer",
}


def _impact_from_share(value: Any) -> str:
    return impact_for_share(float(value))


# Per row: which timestamps are malformed (bit 1 opened_at, 2 first_response_at, 4 closed_at) → the label GX sees.
_TIMESTAMP_PROBLEMS: Final[tuple[str, ...]] = tuple(
    "ok" if code == 0 else " + ".join(c for bit, c in zip((1, 2, 4), TIMESTAMP_COLUMNS, strict=True) if code & bit)
    for code in range(8)
)


def prepare_cases(raw: Any) -> tuple[Any, list[str]]:
    """Typed and normalised columns beside the exported ones; returns (frame, missing required columns).

    Added columns: ``<ts>_utc`` and ``<ts>_format`` for the three timestamps, ``timestamps_format``
    ("ok" or the malformed columns) and ``latest_timestamp_utc``; ``region_norm``,
    ``impact_norm``, ``urgency_norm``, ``severity_filed`` (canonical names or missing);
    ``severity_matrix`` (impact × urgency, DOMAIN.md §7); ``caller_account_norm``.
    The added label columns (``…_norm``, ``severity_filed``, ``severity_matrix``, the ``…_format``
    columns) are pandas Categoricals (their values are the canonical names; the audit groups by
    their codes; missing is NaN); so are
    the exported label texts when the reader dictionary-encoded them (``region``, ``impact`` …,
    not ``customer_id``, which stays plain text for the per-customer counts of the quality step).
    A column read with Arrow (:mod:`di_ops.pipelines.sla.exports`) is read in C++: timestamps by
    :func:`di_ops.pipelines.sla.instants.read_instants`, labels through their dictionary codes; the
    result is the same as for the same strings given as Python objects.
    """
    import numpy as np
    import pandas as pd

    columns = set(raw.columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    absent = pd.Series(None, index=raw.index, dtype=object)
    no_labels = pd.Series(pd.Categorical.from_codes(np.full(len(raw), -1, dtype=np.int8), []), index=raw.index)
    labels = {
        c: Distinct(raw[c] if c in columns else no_labels)
        for c in ("customer_id", "region", "impact", "affected_share", "urgency", "severity", *ESCALATION_COLUMNS)
    }
    # Columns are collected first and the frame built once (inserting ~30 columns one by one costs more).
    frame: dict[str, Any] = {}
    if "case_id" in columns:  # a missing required column stays missing: its check fails every row
        frame["case_id"] = case_ids(raw["case_id"])
    for column in ("customer_id", "region", "impact", "urgency", "severity"):
        if column in columns:
            frame[column] = labels[column].text()
    if "customer_id" in frame:  # counted per customer by the quality report: plain text, not a Categorical
        frame["customer_id"] = decoded(frame["customer_id"])
    for column in ESCALATION_COLUMNS:  # optional in the export; an absent one fails its escalation check
        frame[column] = labels[column].text()
    for column in raw.columns:
        if column.startswith("_"):
            frame[column] = raw[column]
    problems = np.zeros(len(raw), dtype=np.int8)
    latest = np.full(len(raw), NAT, dtype=np.int64)
    for bit, column in zip((1, 2, 4), TIMESTAMP_COLUMNS, strict=True):
        ns, state = read_instants(raw[column] if column in columns else absent)
        if column in columns:
            frame[column] = raw[column]
        frame[f"{column}_utc"] = utc_series(ns, raw.index)
        frame[f"{column}_format"] = _named_codes(state, STATE_NAMES, raw.index)
        bad = state == 2 if column != "opened_at" else state != 0
        problems |= bad.astype(np.int8) * np.int8(bit)
        np.maximum(latest, ns, out=latest)  # NaT is the smallest int64, so missing timestamps are skipped
    frame["timestamps_format"] = _named_codes(problems, _TIMESTAMP_PROBLEMS, raw.index)
    frame["latest_timestamp_utc"] = utc_series(latest, raw.index)
    region_levels = known_regions()
    region = labels["region"].level_codes(normalise_region, region_levels)
    frame["region_norm"] = _categorical(region, region_levels, raw.index)
    # impact: the label when there is one (an unknown label stays unknown), else the affected share
    impact = np.where(
        labels["impact"].present(),
        labels["impact"].level_codes(normalise_impact, IMPACTS),
        labels["affected_share"].level_codes(_impact_from_share, IMPACTS),
    )
    urgency = labels["urgency"].level_codes(normalise_urgency, URGENCIES)
    frame["impact_norm"] = _categorical(impact, IMPACTS, raw.index)
    frame["urgency_norm"] = _categorical(urgency, URGENCIES, raw.index)
    severity = labels["severity"].level_codes(normalise_severity, SEVERITY_LEVELS)
    frame["severity_filed"] = _categorical(severity, SEVERITY_LEVELS, raw.index)
    matrix = _matrix_codes().ravel()[impact * np.int8(len(URGENCIES) + 1) + urgency]  # one lookup per row
    frame["severity_matrix"] = _categorical(matrix, SEVERITY_LEVELS, raw.index)
    frame["caller_account_norm"] = labels["caller_account"].categorical(
        labels["caller_account"].convert(lambda v: _CALLER_ACCOUNTS[str(v).lower()])
    )
    return pd.DataFrame(frame, index=raw.index, copy=False), missing


def _named_codes(codes: Any, names: tuple[str, ...], index: Any) -> Any:
    """Row codes into ``names`` (all valid) as a Categorical Series: the names without a string per row."""
    import pandas as pd

    return pd.Series(pd.Categorical.from_codes(codes, categories=list(names)), index=index, copy=False)


def _categorical(codes: Any, levels: tuple[str, ...], index: Any) -> Any:
    """Row codes into ``levels`` (``len(levels)`` = missing) as a Categorical Series."""
    import numpy as np
    import pandas as pd

    codes = np.where(codes >= len(levels), -1, codes).astype(np.int8)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(levels)), index=index)


@cache
def _matrix_codes() -> Any:
    """``severity_for`` per (impact, urgency) code pair; the last row/column (missing) stays missing."""
    import numpy as np

    table = np.full((len(IMPACTS) + 1, len(URGENCIES) + 1), len(SEVERITY_LEVELS), dtype=np.int8)
    for i, impact in enumerate(IMPACTS):
        for u, urgency in enumerate(URGENCIES):
            table[i, u] = SEVERITY_LEVELS.index(severity_for(impact, urgency))
    return table
