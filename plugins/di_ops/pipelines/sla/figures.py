"""The SLA audit's figures from judged cases: compliance per severity/region/customer/month with
n and Wilson interval, misclassification counts both ways, breaches by a column.

Source: DOMAIN.md §7. Counted on label codes (bincount, one joint table when small), never per
row in Python; the rules come from :mod:`di_ops.rules` (``compliance``, ``normalise_severity``).
The judged frame comes from :func:`di_ops.pipelines.sla.audit.judge_cases`.
"""

from __future__ import annotations

from typing import Any, Final

from di_ops.pipelines.sla.cases import SEVERITY_LEVELS
from di_ops.pipelines.sla.labels import label_codes
from di_ops.rules.severity import normalise_severity
from di_ops.rules.sla import compliance


def _counts(judged: Any, key: str | None, *, by: str, kinds: Any, n_kinds: int) -> dict[tuple[str, str], Any]:
    """{(key name, ``by`` name): counts per kind} for the observed pairs, in sorted order (bincount on codes)."""
    import numpy as np

    if key is None:
        key_codes, key_names = np.zeros(len(judged), dtype=np.intp), [""]
    else:
        key_codes, key_names = label_codes(judged[key])
    by_codes, by_names = label_codes(judged[by])
    width = len(by_names) * n_kinds
    flat = key_codes * width + by_codes * n_kinds + np.asarray(kinds)
    valid = (key_codes >= 0) & (by_codes >= 0)  # like groupby: missing keys are left out
    if not valid.all():
        flat = flat[valid]
    table = np.bincount(flat, minlength=len(key_names) * width).reshape(len(key_names), len(by_names), n_kinds)
    return {
        (key_names[k], by_names[b]): table[k, b]
        for k in range(len(key_names))
        for b in range(len(by_names))
        if table[k, b].sum()
    }


# A joint table over every dimension is used while it stays small, also beside the rows (else a pass per dimension).
_MAX_CUBE_CELLS: Final = 1 << 22


class _Cube:
    """Row counts per combination of label columns and a per-row kind, from one pass over the rows.

    Each column is an axis of its sorted names plus a last "missing" slot; the kinds are the
    last axis. A :func:`_counts` table for any (key, by) pair of the columns is then a sum over
    the other axes (missing keys left out, like groupby) instead of another pass over the rows.
    When the joint table would be large (many customers × months …), each table is counted
    from the rows instead (:func:`_counts`); the results are the same.
    """

    def __init__(self, judged: Any, columns: tuple[str, ...], kinds: Any, n_kinds: int) -> None:
        import math

        import numpy as np

        self.judged, self.columns, self.kinds, self.n_kinds = judged, columns, kinds, n_kinds
        coded = [label_codes(judged[column]) for column in columns]
        self.names = {column: names for column, (_, names) in zip(columns, coded, strict=True)}
        shape = [len(names) + 1 for _, names in coded] + [n_kinds]
        self.table: Any = None
        if math.prod(shape) > min(_MAX_CUBE_CELLS, max(4 * len(judged), 4096)):
            return
        flat = np.array(kinds, dtype=np.intp)  # a copy: the slots are added to it in place
        stride = n_kinds
        for (codes, names), size in zip(reversed(coded), reversed(shape[:-1]), strict=True):
            flat += (np.where(codes < 0, len(names), codes) if (codes < 0).any() else codes) * stride
            stride *= size
        self.table = np.bincount(flat, minlength=math.prod(shape)).reshape(shape)

    def totals(self, keep: tuple[str, ...]) -> Any:
        """The table summed over every column not in ``keep`` (axes in the order of ``keep``, kinds last)."""
        import numpy as np

        axes = [self.columns.index(column) for column in keep]
        summed = self.table.sum(axis=tuple(i for i in range(len(self.columns)) if i not in axes))
        order = sorted(range(len(axes)), key=axes.__getitem__)  # summed keeps the columns' own order
        return np.moveaxis(summed, list(range(len(axes))), [order.index(i) for i in range(len(axes))])

    def counts(self, key: str | None, by: str) -> dict[tuple[str, str], Any]:
        """:func:`_counts` of ``key`` (None: everything) and ``by`` with this cube's kinds."""
        if self.table is None:
            return _counts(self.judged, key, by=by, kinds=self.kinds, n_kinds=self.n_kinds)
        if key is None:
            table, key_names = self.totals((by,))[None, :-1], [""]
        else:
            table, key_names = self.totals((key, by))[:-1, :-1], self.names[key]
        by_names = self.names[by]
        return {
            (key_names[k], by_names[b]): table[k, b]
            for k in range(len(key_names))
            for b in range(len(by_names))
            if table[k, b].sum()
        }


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
    judgement = _judgement(result, judged_by_standard=judged_by_standard, min_cases=min_cases, wilson=wilson)
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
        # decided only when the group is judged: never "meets" beside "too few" or "inconclusive"
        "meets_standard": (judgement == "met") if judgement in ("met", "missed") else None,
        "too_few_to_judge": judgement == "too few",
        "judgement": judgement,
    }


JUDGEMENTS = ("met", "missed", "inconclusive", "too few", "no cases", "objective only")


def _judgement(result: Any, *, judged_by_standard: bool, min_cases: int, wilson: bool) -> str:
    """What a group's figures say about the standard (DOMAIN.md §7), one of :data:`JUDGEMENTS`:

    - ``no cases``: nothing judged yet; ``objective only``: S1/S2, no % standard applies;
    - ``too few``: fewer judged cases than ``audit.min_cases_to_judge`` (a small sample);
    - ``inconclusive``: enough cases, but the 95 % Wilson interval straddles the standard, so the
      sample cannot say on which side the true share lies (with ``judge_by_wilson_interval``);
    - ``met`` / ``missed``: the share is at or above / below the standard.
    """
    if result.n == 0:
        return "no cases"
    if not judged_by_standard:
        return "objective only"
    if result.n < min_cases:
        return "too few"
    if wilson and result.too_few_to_judge:  # the rule's flag: low < standard < high
        return "inconclusive"
    return "met" if result.meets_standard else "missed"


def _standard_severities() -> tuple[str, ...]:
    from di_ops.core.settings import policy

    return tuple(normalise_severity(s) for s in policy().sla.standard_severities)


def compliance_table(judged: Any, *, min_cases: int, judge_by_wilson: bool) -> list[dict[str, Any]]:
    """Compliance per severity overall and per region, customer and month (DOMAIN.md §7).

    S3 and S4 (``policy.sla.standard_severities``) are judged against the standard with n,
    the 95 % Wilson interval and the "too few cases to judge" flag; S1/S2 are reported with
    their ratio against their own objective (no standard applies to them).
    """
    import numpy as np

    from di_ops.core.settings import policy

    standard = policy().sla.standard
    rows: list[dict[str, Any]] = []
    dimensions = (("overall", None), ("region", "region"), ("customer", "customer_id"), ("month", "month"))
    status = judged["status"].array.codes if len(judged) else np.zeros(0, dtype=np.int8)
    cube = _Cube(judged, ("region", "customer_id", "month", "severity"), status, 3)
    for dimension, column in dimensions:
        counts = cube.counts(column, "severity")
        for (key, severity), (met, breached, pending) in counts.items():
            rows.append(
                _group_row(
                    dimension,
                    key,
                    severity,
                    int(met),
                    int(breached),
                    int(pending),
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
    """Filed severity against the impact × urgency matrix: downgraded (allowed triage) and raised, apart.

    Counted once per (region, customer, filed, matrix) combination; the direction is a property of
    the (filed, matrix) pair, so it is decided per pair, not per row.
    """
    import numpy as np

    cube = _Cube(judged, ("region", "customer_id", "severity", "severity_matrix"), np.zeros(len(judged)), 1)
    names = ("matching", "downgraded", "raised")
    if cube.table is None:  # too many combinations for one table: the direction per row
        return _misclassification_by_rows(judged)
    filed = _known_levels(cube.names["severity"], cube.totals(("severity",))[:, 0])
    matrix = _known_levels(cube.names["severity_matrix"], cube.totals(("severity_matrix",))[:, 0])
    # 0 matching, 1 downgraded (filed less severe = a larger number), 2 raised
    direction = np.where(filed[:, None] > matrix[None, :], 1, np.where(filed[:, None] < matrix[None, :], 2, 0))

    def by_direction(pairs: Any) -> list[int]:
        """Counts per direction of a (…, filed, matrix) table summed over its leading axes."""
        flat = pairs.reshape(-1, *direction.shape).sum(axis=0)  # the missing slots hold none (checked above)
        return [int(flat[direction == i].sum()) for i in range(3)]

    def counts(by: str) -> dict[str, Any]:
        table = cube.totals((by, "severity", "severity_matrix"))[..., 0]
        return {
            key: dict(zip(names, by_direction(table[k]), strict=True))
            for k, key in enumerate(cube.names[by])
            if table[k].sum()
        }

    pairs = cube.counts("severity", "severity_matrix")
    return {
        "total": dict(zip(names, by_direction(cube.totals(("severity", "severity_matrix"))[..., 0]), strict=True)),
        "by_region": counts("region"),
        "by_customer": counts("customer_id"),
        "filed_vs_matrix": [{"filed": f, "matrix": m, "cases": int(n[0])} for (f, m), n in pairs.items()],
    }


def _known_levels(names: list[str], counts: Any) -> Any:
    """S1..S4 → 1..4 per name (and 0 for the missing slot); a used missing or unknown severity raises."""
    import numpy as np

    levels = np.array([SEVERITY_LEVELS.index(n) + 1 if n in SEVERITY_LEVELS else 0 for n in names] + [0])
    if (counts[levels == 0] > 0).any():
        raise ValueError("every judged case needs a known severity and matrix severity (S1..S4)")
    return levels


def _misclassification_by_rows(judged: Any) -> dict[str, Any]:
    """:func:`misclassification` with the direction computed per row (for very many combinations)."""
    import numpy as np

    filed = _level_codes(judged["severity"])
    matrix = _level_codes(judged["severity_matrix"])
    # 0 matching, 1 downgraded (filed less severe = a larger number), 2 raised
    direction = np.where(filed > matrix, 1, np.where(filed < matrix, 2, 0))
    names = ("matching", "downgraded", "raised")

    def counts(by: str | None) -> dict[str, Any]:
        if by is None:
            totals = np.bincount(direction, minlength=3)
            return {name: int(totals[i]) for i, name in enumerate(names)}
        found = _counts(judged, by, by="severity", kinds=direction, n_kinds=3)
        out: dict[str, dict[str, int]] = {}
        for (key, _), table in found.items():
            row = out.setdefault(key, dict.fromkeys(names, 0))
            for i, name in enumerate(names):
                row[name] += int(table[i])
        return out

    pairs = _counts(judged, "severity", by="severity_matrix", kinds=np.zeros(len(judged), dtype=np.intp), n_kinds=1)
    return {
        "total": counts(None),
        "by_region": counts("region"),
        "by_customer": counts("customer_id"),
        "filed_vs_matrix": [{"filed": f, "matrix": m, "cases": int(n[0])} for (f, m), n in pairs.items()],
    }


def _level_codes(values: Any) -> Any:
    """S1..S4 → 1..4 per row; a missing or unknown severity raises ValueError."""
    import numpy as np

    codes, names = label_codes(values)
    table = np.array([SEVERITY_LEVELS.index(n) + 1 if n in SEVERITY_LEVELS else 0 for n in names] + [0])
    levels = table[codes]
    if (levels == 0).any():
        raise ValueError("every judged case needs a known severity and matrix severity (S1..S4)")
    return levels


def breaches_by(judged: Any, column: str) -> dict[str, dict[str, int]]:
    """Breached cases per value of ``column`` and severity."""
    import numpy as np

    status = judged["status"].array.codes if len(judged) else np.zeros(0, dtype=np.int8)
    found = {
        pair: int(table[1])  # status 1 = breached
        for pair, table in _Cube(judged, (column, "severity"), status, 3).counts(column, "severity").items()
        if table[1]
    }
    severities = sorted({severity for _, severity in found})
    out: dict[str, dict[str, int]] = {}
    for key, severity in found:
        out.setdefault(key, dict.fromkeys(severities, 0))[severity] = found[(key, severity)]
    return out
