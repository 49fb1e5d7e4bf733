"""The data-quality suite of the TAC case exports: one named rule per GX expectation, and the rows each fails.

Source: DOMAIN.md §7; docs/pipelines/sla.md (Data quality). A *blocking* rule quarantines the rows
that fail it (their reasons are the rule names); an *escalation* rule (DOMAIN.md §7 escalation
requirements) is reported in its own section and the case is still audited.

GX validates the suite and reports each rule's count (:mod:`di_ops.pipelines.sla.quality`); the rows
behind the count come from :func:`failing_rows`, the same pandas operation over the same column
that GX's pandas engine applies for that expectation type. The two counts must agree (checked on
every run), so the quarantine, the examples and the per-customer counts are GX's verdict without
GX returning a row index list per expectation. pandas/numpy are imported inside functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from di_ops.pipelines.sla.cases import REQUIRED_COLUMNS
from di_ops.pipelines.sla.instants import python_whitespace

BLOCKING: Final = "blocking"
ESCALATION: Final = "escalation"
COLUMN_ARGUMENTS: Final = ("column", "column_A", "column_B")
# Python's "\S" spelled out (every character but str.isspace ones): pandas then matches it with RE2 in
# C++ instead of Python's re per row, with the same result.
NOT_WHITE_SPACE: Final = "[^" + python_whitespace() + "]"


@dataclass(frozen=True)
class Rule:
    """One named check: the expectation type, its arguments, the column it reports and what it means."""

    name: str
    section: str
    expectation: str
    kwargs: dict[str, Any]
    column: str
    description: str


def rules(
    *,
    not_after: datetime,
    future_tolerance: timedelta,
    known_customers: Iterable[str] | None,
    contract_pattern: str,
    phone_pattern: str,
    email_pattern: str,
) -> list[Rule]:
    """The suite, in report order. Source: DOMAIN.md §7 (data quality; escalation requirements),
    docs/pipelines/sla.md (Data quality).

    ``not_after``: no timestamp may be later than this instant (+ the tolerance) — the time the
    export was written, or ``as_of`` when that is later (see :func:`di_ops.pipelines.sla.tasks.start_audit`).
    """
    limit = not_after + future_tolerance
    out = [
        Rule(
            "required_columns",
            BLOCKING,
            "ExpectTableColumnsToMatchSet",
            {"column_set": list(REQUIRED_COLUMNS), "exact_match": False},
            "",
            "the export has the columns " + ", ".join(REQUIRED_COLUMNS) + " (a missing one fails every row)",
        )
    ]
    out += [
        Rule(
            "case_id_present",
            BLOCKING,
            "ExpectColumnValuesToNotBeNull",
            {"column": "case_id"},
            "case_id",
            "case_id is given",
        ),
        Rule(
            "case_id_unique",
            BLOCKING,
            "ExpectColumnValuesToBeUnique",
            {"column": "case_id"},
            "case_id",
            "case_id appears once (every row of a duplicated id is quarantined)",
        ),
        Rule(
            "customer_id_present",
            BLOCKING,
            "ExpectColumnValuesToNotBeNull",
            {"column": "customer_id"},
            "customer_id",
            "customer_id is given",
        ),
    ]
    if known_customers:
        out.append(
            Rule(
                "customer_known",
                BLOCKING,
                "ExpectColumnValuesToBeInSet",
                {"column": "customer_id", "value_set": sorted(set(known_customers))},
                "customer_id",
                "customer_id is a customer of the pinned inventory snapshot",
            )
        )
    labels = (
        ("region_known", "region_norm", "region", "region is AMER, APJC, AUS or EMEA (any case)"),
        (
            "impact_known",
            "impact_norm",
            "impact",
            "impact is a known label (English or Dutch) or affected_share in 0..1",
        ),
        ("urgency_known", "urgency_norm", "urgency", "urgency is a known label (English or Dutch)"),
        ("severity_known", "severity_filed", "severity", "severity as filed is S1..S4"),
    )
    out += [Rule(n, BLOCKING, "ExpectColumnValuesToNotBeNull", {"column": d}, c, text) for n, d, c, text in labels]
    out.append(
        Rule(
            "timestamps_valid",
            BLOCKING,
            "ExpectColumnValuesToBeInSet",
            {"column": "timestamps_format", "value_set": ["ok"]},
            "timestamps_format",
            "opened_at is an ISO-8601 instant with a zone; first_response_at and closed_at too, or empty"
            " (a failing value names the malformed columns)",
        )
    )
    for column in ("first_response_at", "closed_at"):
        out.append(
            Rule(
                f"{column}_not_before_opening",
                BLOCKING,
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": f"{column}_utc",
                    "column_B": "opened_at_utc",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                column,
                f"{column} ≥ opened_at",
            )
        )
    out.append(
        Rule(
            "no_timestamp_in_future",
            BLOCKING,
            "ExpectColumnValuesToBeBetween",
            {"column": "latest_timestamp_utc", "max_value": limit},
            "latest_timestamp_utc",
            f"no timestamp after {not_after.isoformat()} + {int(future_tolerance.total_seconds() // 60)} min"
            " (the export's writing time, or as_of if later)",
        )
    )
    out += [
        Rule(
            "contract_number_valid",
            ESCALATION,
            "ExpectColumnValuesToMatchRegex",
            {"column": "contract_number", "regex": contract_pattern},
            "contract_number",
            "a valid subscription or service-contract number",
        ),
        Rule(
            "caller_is_partner_support",
            ESCALATION,
            "ExpectColumnValuesToNotBeNull",
            {"column": "caller_account_norm"},
            "caller_account",
            "the caller is the partner's support team (partner or resold customer account)",
        ),
        Rule(
            "contact_name_present",
            ESCALATION,
            "ExpectColumnValuesToMatchRegex",
            {"column": "contact_name", "regex": NOT_WHITE_SPACE},
            "contact_name",
            "the partner representative's (or team's) name",
        ),
        Rule(
            "contact_phone_valid",
            ESCALATION,
            "ExpectColumnValuesToMatchRegex",
            {"column": "contact_phone", "regex": phone_pattern},
            "contact_phone",
            "a well-formed phone number",
        ),
        Rule(
            "contact_email_valid",
            ESCALATION,
            "ExpectColumnValuesToMatchRegex",
            {"column": "contact_email", "regex": email_pattern},
            "contact_email",
            "a well-formed e-mail address",
        ),
    ]
    return out


def columns_read(rule_list: list[Rule]) -> list[str]:
    """The frame columns the rules read, in rule order (the table check reads only the names)."""
    found = [rule.kwargs[key] for rule in rule_list for key in COLUMN_ARGUMENTS if key in rule.kwargs]
    return list(dict.fromkeys(found))


def failing_rows(rule: Rule, frame: Any) -> Any | None:
    """Per row of ``frame``: True where it fails ``rule``; None when the rule fails every row.

    Every row fails when a required column is missing from the export (the table check) or the
    rule's own column is missing (GX then raises for that expectation). Otherwise, as GX's pandas
    engine: a missing value passes every check but ``not null`` (and a pair check skips a row with
    either value missing); ``unique`` flags every row of a repeated value; ``in set`` is
    ``Series.isin``; ``between`` compares with the bounds given; ``match regex`` is
    ``Series.astype(str).str.contains``.
    """
    import numpy as np

    kwargs = rule.kwargs
    if rule.expectation == "ExpectTableColumnsToMatchSet":
        missing = set(kwargs["column_set"]) - set(frame.columns)
        return None if missing else np.zeros(len(frame), dtype=bool)
    if any(kwargs[key] not in frame.columns for key in COLUMN_ARGUMENTS if key in kwargs):
        return None
    if rule.expectation == "ExpectColumnPairValuesAToBeGreaterThanB":
        first, second = frame[kwargs["column_A"]], frame[kwargs["column_B"]]
        holds = first >= second if kwargs.get("or_equal") else first > second
        return np.asarray(first.notna() & second.notna() & ~holds, dtype=bool)
    column = frame[kwargs["column"]]
    present = np.asarray(column.notna(), dtype=bool)
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        return ~present
    if rule.expectation == "ExpectColumnValuesToBeUnique":
        return present & np.asarray(column.duplicated(keep=False), dtype=bool)
    if rule.expectation == "ExpectColumnValuesToBeInSet":
        return present & ~np.asarray(column.isin(kwargs["value_set"]), dtype=bool)
    if rule.expectation == "ExpectColumnValuesToBeBetween":
        outside = np.zeros(len(frame), dtype=bool)
        if kwargs.get("min_value") is not None:
            outside |= np.asarray(column < kwargs["min_value"], dtype=bool)
        if kwargs.get("max_value") is not None:
            outside |= np.asarray(column > kwargs["max_value"], dtype=bool)
        return present & outside
    if rule.expectation == "ExpectColumnValuesToMatchRegex":  # per distinct value: few of them (contacts)
        import pandas as pd

        codes, distinct = pd.factorize(column)
        matches = pd.Series(distinct).astype(str).str.contains(kwargs["regex"]).fillna(False)
        hits = np.append(np.asarray(matches, dtype=bool), False)  # code -1 (missing) reads the last entry
        return present & ~hits[codes]
    raise ValueError(f"rule {rule.name}: no row check for {rule.expectation}")
