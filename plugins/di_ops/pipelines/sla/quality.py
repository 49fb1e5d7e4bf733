"""Data quality of TAC case exports with Great Expectations (GX Core 1.x, called directly).

The GX Airflow provider does not support Airflow 3, so tasks call GX here. The file Data
Context lives in ``{data_dir}/gx``; its Data Docs site is written beside the SLA reports
(``{reports_dir}/_gx_docs``) so a report links to its validation page with a relative link
that works offline and through the reports app. ``great_expectations`` is imported only
inside functions (it takes seconds to import).

Each check is one GX expectation with a rule name; a *blocking* rule quarantines the rows
that fail it (their reasons are the rule names), an *escalation* rule (DOMAIN.md §7
escalation requirements) is reported in its own section and the case is still audited.
"""

from __future__ import annotations

import copy
import html
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from di_ops.pipelines.sla.cases import REQUIRED_COLUMNS

SUITE_NAME: Final = "tac_cases"
DATASOURCE: Final = "tac_exports"
ASSET: Final = "cases"
BATCH: Final = "whole_export"
SITE_NAME: Final = "sla_reports"
BLOCKING: Final = "blocking"
ESCALATION: Final = "escalation"


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
    """The suite, in report order. Source: issue 8 step 1 and DOMAIN.md §7 (escalation requirements).

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
            {"column": "contact_name", "regex": r"\S"},
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


def _quiet_gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # never phone home from a task
    import great_expectations as gx

    return gx


def build_suite(gx: Any, rule_list: list[Rule]) -> Any:
    suite = gx.ExpectationSuite(name=SUITE_NAME)
    for rule in rule_list:
        cls = getattr(gx.expectations, rule.expectation)
        suite.add_expectation(cls(**rule.kwargs, meta={"rule": rule.name, "section": rule.section}))
    return suite


# Label columns GX sees as Categoricals (the canonical names); every other text column it sees as objects.
_GX_CATEGORICALS: Final = ("region_norm", "severity_filed", "severity_matrix")


def gx_frame(prepared: Any) -> Any:
    """The frame GX validates: text as object columns (missing → None; the exports are read as Arrow
    text and dictionary-encoded labels, see :mod:`di_ops.pipelines.sla.exports`), the canonical
    severity/region labels as Categoricals; escalation texts with missing → "" (a regex then fails).
    """
    import pandas as pd

    from di_ops.pipelines.sla.cases import ESCALATION_COLUMNS

    frame = prepared.copy()
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.StringDtype) or (
            isinstance(dtype, pd.CategoricalDtype) and column not in _GX_CATEGORICALS
        ):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    for column in ESCALATION_COLUMNS:
        frame[column] = frame[column].fillna("")
    return frame


def file_context(gx_root: Path, docs_dir: Path) -> Any:
    """The file Data Context ``{gx_root}/gx`` with one Data Docs site written to ``docs_dir``."""
    gx = _quiet_gx()
    context = gx.get_context(mode="file", project_root_dir=str(gx_root))
    sites = context.get_config().data_docs_sites or {}
    wanted = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    if sites.get(SITE_NAME, {}).get("store_backend", {}).get("base_directory") != str(docs_dir):
        if SITE_NAME in sites:
            context.delete_data_docs_site(SITE_NAME)
        context.add_data_docs_site(site_name=SITE_NAME, site_config=wanted)
    for other in [name for name in sites if name != SITE_NAME]:
        context.delete_data_docs_site(other)
    context.variables.progress_bars = {"globally": False}
    return context


def display_escaped(value: Any) -> Any:
    """``value`` with every string in it (nested lists, tuples and dict values) HTML-escaped."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {key: display_escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [display_escaped(item) for item in value]
    return value


def build_escaped_docs(context: Any, identifier: Any, validation: Any, *, site_names: list[str] | None) -> None:
    """Rebuild the Data Docs page of one validation from a copy whose observed values are HTML-escaped.

    GX 1.x puts observed and unexpected values into its table cells unescaped (its ``.j2``
    templates are outside Jinja's ``select_autoescape(["html", "xml"])``; only string-template
    params are escaped), so a quarantined ``<script>`` value would run in the page. The checks
    have already run on the raw values; only the stored copy the page is rendered from is
    escaped (the ``result`` and ``exception_info`` of each expectation, i.e. the data's values),
    so the page shows each value literally. The suite's own arguments are params: GX escapes those.
    GX's result store keeps this display copy; the raw values are in the run's own files.
    """
    shown = copy.deepcopy(validation)
    for item in shown.results:
        item.result = display_escaped(item.result or {})
        item.exception_info = display_escaped(item.exception_info or {})
    context.validation_results_store.set(identifier, shown)
    context.build_data_docs(site_names=site_names, resource_identifiers=[identifier])


def _batch_definition(context: Any) -> Any:
    try:
        source = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas(name=DATASOURCE)
    try:
        asset = source.get_asset(ASSET)
    except (KeyError, ValueError, LookupError):
        asset = source.add_dataframe_asset(name=ASSET)
    try:
        return asset.get_batch_definition(BATCH)
    except (KeyError, ValueError, LookupError):
        return asset.add_batch_definition_whole_dataframe(name=BATCH)


@dataclass
class QualityResult:
    """Per-rule outcomes, the failing row positions of each rule, and the Data Docs page."""

    rules: list[dict[str, Any]]
    failing: dict[str, list[Any]]  # rule name -> frame index labels of failing rows (None = every row)
    docs_page: Path | None
    success: bool


def _outcomes(
    results: Iterable[Any], rule_list: list[Rule], n_rows: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    by_name = {r.name: r for r in rule_list}
    outcomes, failing = [], {}
    for result in results:
        name = result.expectation_config.meta["rule"]
        rule = by_name[name]
        info = result.result or {}
        if rule.expectation == "ExpectTableColumnsToMatchSet":
            bad = None if not result.success else []
            unexpected = 0 if result.success else n_rows
        elif result.exception_info and result.exception_info.get("raised_exception"):
            bad, unexpected = None, n_rows  # the check could not run (e.g. its column is missing)
        else:
            bad = list(info.get("unexpected_index_list") or [])
            unexpected = int(info.get("unexpected_count") or 0)
        failing[name] = bad
        outcomes.append(
            {
                "rule": name,
                "section": rule.section,
                "column": rule.column,
                "description": rule.description,
                "expectation": result.expectation_config.type,
                "checked": n_rows,
                "failed": unexpected,
                "pass_rate": 1.0 if n_rows == 0 else (n_rows - unexpected) / n_rows,
                "success": bool(result.success),
            }
        )
    return outcomes, failing


def validate(
    frame: Any,
    rule_list: list[Rule],
    *,
    run_name: str,
    run_time: datetime,
    gx_root: Path | None = None,
    docs_dir: Path | None = None,
) -> QualityResult:
    """Run the suite over ``frame`` (index labels identify rows).

    With ``gx_root``/``docs_dir``: the file Data Context, a checkpoint run named ``run_name``
    (a retry overwrites the same validation result) and the Data Docs site rebuilt. Without:
    an ephemeral context (benchmarks, unit tests), no Data Docs.
    """
    gx = _quiet_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    if gx_root is not None and docs_dir is not None:
        context = file_context(gx_root, docs_dir)
    else:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = {"globally": False}
    batch = _batch_definition(context)
    suite = context.suites.add_or_update(build_suite(gx, rule_list))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{SUITE_NAME}_whole_export", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{SUITE_NAME}_checkpoint",
            validation_definitions=[definition],
            actions=[],  # Data Docs are built below, from the display-escaped copy (build_escaped_docs)
            result_format={"result_format": "COMPLETE", "partial_unexpected_count": 5},
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name, run_time=run_time)
    )
    (identifier, validation), *_ = result.run_results.items()
    outcomes, failing = _outcomes(validation.results, rule_list, len(frame))
    page = None
    if docs_dir is not None and gx_root is not None:
        build_escaped_docs(context, identifier, validation, site_names=[SITE_NAME])
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE_NAME)
        if urls and urls[0].get("site_url"):
            page = Path(urls[0]["site_url"].removeprefix("file://"))
    return QualityResult(rules=outcomes, failing=failing, docs_page=page, success=bool(result.success))
