"""TAC cases as a frame: typed columns for the quality checks, and the SLA audit of the accepted cases.

Source: DOMAIN.md §7. Everything is vectorised (per column, or per *distinct* label, never
per row) so a year of a large fleet's cases is audited in seconds; the rules themselves
come from :mod:`di_ops.rules` (severity matrix, response due/status, Wilson interval,
compliance), applied in their bulk forms. pandas/numpy are imported inside functions.

Interpretations (defaults chosen here, documented in docs/pipelines/sla.md):

* A timestamp is valid when it is ISO-8601 with a zone (``Z`` or ``±hh:mm``) and names a
  real instant; a naive one is refused rather than guessed.
* ``impact`` may be a label (English or Dutch) or, when empty, ``affected_share`` (0–1).
* Misclassification compares the severity as filed with the impact × urgency matrix:
  *downgraded* = filed less severe than the matrix (a triage downgrade, allowed), *raised* =
  filed more severe; both are reported, separately.
* The audit covers cases opened at or before ``as_of`` whose opening day (in the region's
  zone) lies in the period; a case's month is its opening month in the region's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any, Final

from di_ops.rules.common import normalise_region, region_zone
from di_ops.rules.severity import (
    impact_for_share,
    normalise_impact,
    normalise_severity,
    normalise_urgency,
    severity_for,
)
from di_ops.rules.sla import compliance

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


class _Distinct:
    """A text column factorised once: row codes and its distinct values, stripped (blank → None).

    Labels, customer ids and contact fields have few distinct values, so every conversion is
    done once per distinct value and taken back to the rows by code.
    """

    def __init__(self, values: Any) -> None:
        import pandas as pd

        self.index = values.index
        self.codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        self.values = [str(u).strip() or None for u in uniques]

    def text(self) -> Any:
        return self.map(lambda v: v)

    def map(self, convert: Callable[[Any], Any]) -> Any:
        """``convert`` per distinct non-blank value (None when it raises ValueError/KeyError/TypeError)."""
        import numpy as np
        import pandas as pd

        mapped: list[Any] = []
        for value in self.values:
            try:
                mapped.append(None if value is None else convert(value))
            except (ValueError, TypeError, KeyError):
                mapped.append(None)
        table = np.array([*mapped, None], dtype=object)  # code -1 (missing) → the trailing None
        return pd.Series(table[self.codes], index=self.index, dtype=object)


def _map_distinct(values: Any, convert: Callable[[Any], Any]) -> Any:
    """Apply ``convert`` once per distinct value (None when it raises): an object Series."""
    return _Distinct(values).map(convert)


def _stripped_text(values: Any) -> Any:
    """A column with one value per case, stripped with numpy's string ufuncs (C loops): a ``str`` array."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values)
    absent = pd.isna(series).to_numpy()
    return np.strings.strip(np.asarray(np.where(absent, "", series.to_numpy(dtype=object)), dtype=str))


def _as_objects(text: Any, index: Any) -> Any:
    import pandas as pd

    out = text.astype(object)
    out[text == ""] = None
    return pd.Series(out, index=index, dtype=object)


def _has_zone(u: Any) -> Any:
    """Per value of a ``str`` array: ``YYYY-MM-DD?hh:mm…`` ending in ``Z``, ``±hh:mm`` or ``±hhmm``."""
    import numpy as np

    part = np.strings.slice

    def sign(at: int) -> Any:
        char = part(u, at, at + 1 if at != -1 else None)
        return (char == "+") | (char == "-")

    dated = (np.strings.str_len(u) >= 16) & (part(u, 4, 5) == "-") & np.isin(part(u, 10, 11), ["T", " "])
    zulu = np.isin(part(u, -1, None), ["Z", "z"])
    colon = sign(-6) & (part(u, -3, -2) == ":") & np.strings.isdigit(part(u, -2, None))
    compact = sign(-5) & np.strings.isdigit(part(u, -4, None))
    return dated & (zulu | colon | compact)


def parse_instants(values: Any) -> tuple[Any, Any]:
    """(UTC timestamps, format) of a text column; format is "iso8601", "empty" or "invalid" per row.

    Valid: ISO-8601 date and time with a zone (``Z``, ``±hh:mm`` or ``±hhmm``) naming a real
    instant; a naive timestamp is invalid (refused rather than guessed).
    """
    import numpy as np
    import pandas as pd

    index = pd.Series(values).index
    u = _stripped_text(values)
    candidates = u.astype(object)
    candidates[~_has_zone(u)] = None
    parsed = pd.to_datetime(pd.Series(candidates, index=index), utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.astype("datetime64[ns, UTC]")
    fmt = np.where(u == "", "empty", np.where(parsed.notna().to_numpy(), "iso8601", "invalid"))
    return parsed, pd.Series(fmt, index=index, dtype=object)


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
    """
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(index=raw.index)
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    absent = pd.Series(None, index=raw.index, dtype=object)
    labels = {
        c: _Distinct(raw[c] if c in raw.columns else absent)
        for c in ("customer_id", "region", "impact", "affected_share", "urgency", "severity", *ESCALATION_COLUMNS)
    }
    if "case_id" in raw.columns:  # a missing required column stays missing: its check fails every row
        frame["case_id"] = _as_objects(_stripped_text(raw["case_id"]), raw.index)
    for column in ("customer_id", "region", "impact", "urgency", "severity"):
        if column in raw.columns:
            frame[column] = labels[column].text()
    for column in ESCALATION_COLUMNS:  # optional in the export; an absent one fails its escalation check
        frame[column] = labels[column].text()
    for column in raw.columns:
        if column.startswith("_"):
            frame[column] = raw[column]
    problems = np.zeros(len(raw), dtype=np.int64)
    for bit, column in zip((1, 2, 4), TIMESTAMP_COLUMNS, strict=True):
        parsed, fmt = parse_instants(raw[column] if column in raw.columns else absent)
        if column in raw.columns:
            frame[column] = raw[column]
        frame[f"{column}_utc"], frame[f"{column}_format"] = parsed, fmt
        bad = fmt.to_numpy() == "invalid" if column != "opened_at" else fmt.to_numpy() != "iso8601"
        problems |= bad.astype(np.int64) * bit
    frame["timestamps_format"] = pd.Series(np.array(_TIMESTAMP_PROBLEMS, dtype=object)[problems], index=raw.index)
    # NaT is the smallest int64, so the row maximum skips missing timestamps
    stacked = np.stack([frame[f"{c}_utc"].to_numpy(dtype="datetime64[ns]").view(np.int64) for c in TIMESTAMP_COLUMNS])
    latest = pd.Series(stacked.max(axis=0).view("datetime64[ns]"), index=raw.index)
    frame["latest_timestamp_utc"] = latest.dt.tz_localize("UTC")
    frame["region_norm"] = labels["region"].map(normalise_region)
    by_label = labels["impact"].map(normalise_impact)
    by_share = labels["affected_share"].map(_impact_from_share)
    frame["impact_norm"] = by_label.where(labels["impact"].text().notna(), by_share)
    frame["urgency_norm"] = labels["urgency"].map(normalise_urgency)
    frame["severity_filed"] = labels["severity"].map(normalise_severity)
    frame["severity_matrix"] = _matrix_severity(frame["impact_norm"], frame["urgency_norm"])
    frame["caller_account_norm"] = labels["caller_account"].map(lambda v: _CALLER_ACCOUNTS[str(v).lower()])
    return frame, missing


def _matrix_severity(impact: Any, urgency: Any) -> Any:
    """``severity_for`` per distinct (impact, urgency) pair, taken back to the rows by code."""
    import numpy as np
    import pandas as pd

    impact_codes, impacts = pd.factorize(impact)
    urgency_codes, urgencies = pd.factorize(urgency)
    width = len(urgencies) + 1
    table = np.full((len(impacts) + 1) * width, None, dtype=object)
    for i, name in enumerate(impacts):
        for u, level in enumerate(urgencies):
            table[i * width + u] = severity_for(name, level)
    # code -1 (missing) lands on the last row/column of the table, which stays None
    pair = np.where(impact_codes < 0, len(impacts), impact_codes) * width + np.where(
        urgency_codes < 0, width - 1, urgency_codes
    )
    return pd.Series(table[pair], index=impact.index, dtype=object)


# --- the audit --------------------------------------------------------------------------------


def default_period(as_of: datetime, months: int) -> tuple[date, date]:
    """The ``months`` calendar months up to and including the month of ``as_of`` (UTC date)."""
    end = as_of.date()
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1), end


def _local_opening(cases: Any) -> tuple[Any, Any]:
    """(opening day as naive datetime64 in the region's zone, month "YYYY-MM") per case, per region."""
    import pandas as pd

    day = pd.Series(pd.NaT, index=cases.index, dtype="datetime64[ns]")
    month = pd.Series("", index=cases.index, dtype=object)
    for region, rows in cases.groupby("region", sort=True).groups.items():
        local = cases.loc[rows, "opened_at"].dt.tz_convert(region_zone(str(region))).dt.tz_localize(None)
        day.loc[rows] = local.dt.normalize().to_numpy()
        codes = (local.dt.year * 100 + local.dt.month).to_numpy()
        month.loc[rows] = _map_distinct(
            pd.Series(codes, index=rows), lambda c: f"{int(c) // 100:04d}-{int(c) % 100:02d}"
        )
    return day, month


def select_cases(
    prepared: Any,
    as_of: datetime,
    period: tuple[date, date],
    regions: Iterable[str] | None = None,
    customers: Iterable[str] | None = None,
) -> tuple[Any, dict[str, int]]:
    """The accepted cases in scope, in the rules' column names, plus the counts left out and why."""
    import pandas as pd

    cases = pd.DataFrame(
        {
            "case_id": prepared["case_id"].astype(object),
            "customer_id": prepared["customer_id"].astype(object),
            "region": prepared["region_norm"],
            "severity": prepared["severity_filed"],
            "severity_matrix": prepared["severity_matrix"],
            "opened_at": prepared["opened_at_utc"],
            "first_response_at": prepared["first_response_at_utc"],
            "closed_at": prepared["closed_at_utc"],
        }
    )
    left_out: dict[str, int] = {}
    opened_later = cases["opened_at"] > pd.Timestamp(as_of)
    left_out["opened_after_as_of"] = int(opened_later.sum())
    cases = cases[~opened_later]
    if regions:
        wanted = {normalise_region(r) for r in regions}
        keep = cases["region"].isin(wanted)
        left_out["other_regions"] = int((~keep).sum())
        cases = cases[keep]
    if customers:
        keep = cases["customer_id"].isin(set(customers))
        left_out["other_customers"] = int((~keep).sum())
        cases = cases[keep]
    day, month = _local_opening(cases)
    inside = (day >= pd.Timestamp(period[0])) & (day <= pd.Timestamp(period[1]))
    left_out["outside_period"] = int((~inside).sum())
    cases = cases[inside].copy()
    cases["month"] = month[inside]
    return cases, left_out


def judge_cases(cases: Any, as_of: datetime, horizon: timedelta) -> Any:
    """Add ``response_due``, ``status`` (met/breached/pending) and ``at_risk`` (pending, due within horizon)."""
    import pandas as pd

    from di_ops.rules.sla_bulk import response_due_bulk, response_status_bulk

    judged = cases.copy()
    if judged.empty:
        judged["response_due"] = pd.Series(dtype="datetime64[ns, UTC]")
        judged["status"] = pd.Series(dtype=object)
        judged["at_risk"] = pd.Series(dtype=bool)
        return judged
    judged["response_due"] = response_due_bulk(judged)
    judged["status"] = response_status_bulk(judged, as_of)
    limit = pd.Timestamp(as_of) + horizon
    judged["at_risk"] = (judged["status"] == "pending") & (judged["response_due"] <= limit)
    return judged


def _group_row(
    dimension: str,
    key: str,
    severity: str,
    met: int,
    breached: int,
    pending: int,
    standard: float,
    min_cases: int,
    wilson: bool,
) -> dict[str, Any]:
    result = compliance(met, breached, standard)
    judged_by_standard = severity in _standard_severities()
    too_few = result.n < min_cases or (judged_by_standard and wilson and result.too_few_to_judge)
    return {
        "dimension": dimension,
        "group_key": key,
        "severity": severity,
        "n": result.n,
        "met": met,
        "breached": breached,
        "pending": pending,
        "ratio": result.ratio,
        "low": result.low,
        "high": result.high,
        "standard": standard if judged_by_standard else None,
        "meets_standard": result.meets_standard if judged_by_standard else None,
        "too_few_to_judge": bool(too_few),
    }


def _standard_severities() -> tuple[str, ...]:
    from di_ops.settings import policy

    return tuple(normalise_severity(s) for s in policy().sla.standard_severities)


def compliance_table(judged: Any, *, min_cases: int, judge_by_wilson: bool) -> list[dict[str, Any]]:
    """Compliance per severity overall and per region, customer and month (DOMAIN.md §7).

    S3 and S4 (``policy.sla.standard_severities``) are judged against the standard with n,
    the 95 % Wilson interval and the "too few cases to judge" flag; S1/S2 are reported with
    their ratio against their own objective (no standard applies to them).
    """
    import pandas as pd

    from di_ops.settings import policy

    standard = policy().sla.standard
    rows: list[dict[str, Any]] = []
    dimensions = (("overall", None), ("region", "region"), ("customer", "customer_id"), ("month", "month"))
    for dimension, column in dimensions:
        keys = [judged[column]] if column else [pd.Series("", index=judged.index)]
        counts = judged.groupby([*keys, judged["severity"], judged["status"]]).size().unstack(fill_value=0)
        for status in ("met", "breached", "pending"):
            if status not in counts.columns:
                counts[status] = 0
        for (key, severity), row in counts.sort_index().iterrows():
            rows.append(
                _group_row(
                    dimension,
                    str(key),
                    str(severity),
                    int(row["met"]),
                    int(row["breached"]),
                    int(row["pending"]),
                    standard,
                    min_cases,
                    judge_by_wilson,
                )
            )
    present = {(r["severity"]) for r in rows if r["dimension"] == "overall"}
    for severity in SEVERITY_LEVELS:  # the headline always shows every severity, even with no cases
        if severity not in present:
            rows.append(_group_row("overall", "", severity, 0, 0, 0, standard, min_cases, judge_by_wilson))
    return rows


def misclassification(judged: Any) -> dict[str, Any]:
    """Filed severity against the impact × urgency matrix: downgraded (allowed triage) and raised, apart."""
    import numpy as np

    level = {name: number for number, name in enumerate(SEVERITY_LEVELS, start=1)}
    filed = _map_distinct(judged["severity"], level.__getitem__).to_numpy(dtype=np.int64)
    matrix = _map_distinct(judged["severity_matrix"], level.__getitem__).to_numpy(dtype=np.int64)
    direction = np.where(filed > matrix, "downgraded", np.where(filed < matrix, "raised", "matching"))
    frame = judged.assign(direction=direction)

    def counts(by: str | None) -> dict[str, Any]:
        if by is None:
            table = frame["direction"].value_counts()
            return {k: int(table.get(k, 0)) for k in ("matching", "downgraded", "raised")}
        grouped = frame.groupby([by, "direction"]).size().unstack(fill_value=0)
        return {
            str(key): {k: int(row.get(k, 0)) for k in ("matching", "downgraded", "raised")}
            for key, row in grouped.iterrows()
        }

    pairs = frame.groupby(["severity", "severity_matrix"]).size()
    return {
        "total": counts(None),
        "by_region": counts("region"),
        "by_customer": counts("customer_id"),
        "filed_vs_matrix": [{"filed": str(f), "matrix": str(m), "cases": int(n)} for (f, m), n in pairs.items()],
    }


def breaches_by(judged: Any, column: str) -> dict[str, dict[str, int]]:
    """Breached cases per value of ``column`` and severity."""
    breached = judged[judged["status"] == "breached"]
    table = breached.groupby([column, "severity"]).size().unstack(fill_value=0)
    return {str(key): {str(s): int(n) for s, n in row.items()} for key, row in table.iterrows()}
