"""Data quality of TAC case exports with Great Expectations: validate the suite, name the failing rows.

Source: DOMAIN.md §7; docs/pipelines/sla.md (Data quality). GX is set up by
:mod:`di_ops.integrations.gx`. The file Data Context lives in ``{data_dir}/gx``; its Data Docs site
is written beside the SLA reports (``{reports_dir}/_gx_docs``) so a report links to its validation
page with a relative link that works offline and through the reports app.

GX sees only the columns the suite reads (and the required exported columns, which the table check
names), as they are in the prepared frame — Arrow-backed text and Categoricals, no Python string per
row — and returns counts and a few example values per expectation (result format ``BASIC``: no row
index list). The rows behind each count are :func:`di_ops.pipelines.sla.suite.failing_rows`; a count
that differs from GX's fails the task. ``great_expectations`` is imported only inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from di_ops.integrations.gx import (
    DocsSite,
    Names,
    build_escaped_docs,
    checkpoint,
    docs_page,
    ephemeral_context,
    file_context,
    import_gx,
)
from di_ops.pipelines.sla.cases import ESCALATION_COLUMNS, REQUIRED_COLUMNS
from di_ops.pipelines.sla.suite import Rule, columns_read, failing_rows

SUITE_NAME: Final = "tac_cases"
NAMES: Final = Names(
    datasource="tac_exports",
    asset="cases",
    batch="whole_export",
    suite=SUITE_NAME,
    checkpoint=f"{SUITE_NAME}_checkpoint",
    validation=f"{SUITE_NAME}_whole_export",
)
SITE_NAME: Final = "sla_reports"
# Counts and up to 20 example values per expectation; no row index list (the rows come from suite.failing_rows).
RESULT_FORMAT: Final = {"result_format": "BASIC", "partial_unexpected_count": 20}


def gx_frame(prepared: Any, rule_list: list[Rule]) -> Any:
    """The frame GX validates: the columns the rules read and the required exported columns present.

    Text stays Arrow-backed, labels stay Categoricals; a missing escalation text is "" (its regular
    expression then fails), as its check means.
    """
    import pandas as pd

    wanted = [*columns_read(rule_list), *REQUIRED_COLUMNS]
    frame = prepared[[c for c in dict.fromkeys(wanted) if c in prepared.columns]].copy(deep=False)
    for column in ESCALATION_COLUMNS:
        if column not in frame.columns:
            continue
        text = frame[column]
        if isinstance(text.dtype, pd.CategoricalDtype):  # as read: few distinct values, kept as codes
            if "" not in text.cat.categories:
                text = text.cat.add_categories([""])
            frame[column] = text.fillna("")
        elif isinstance(text.dtype, pd.StringDtype):
            frame[column] = text.fillna("")
        else:
            frame[column] = text.astype(object).where(text.notna(), "")
    return frame


@dataclass
class QualityResult:
    """Per-rule outcomes, the failing rows of each rule, and the Data Docs page."""

    rules: list[dict[str, Any]]
    masks: dict[str, Any]  # rule name -> per-row bool array of the failing rows (None = every row)
    index: Any  # the frame's index: row labels of the masks
    docs_page: Path | None
    success: bool

    @property
    def failing(self) -> dict[str, list[Any] | None]:
        """Rule name -> index labels of the failing rows (None = every row)."""
        return {name: None if mask is None else list(self.index[mask]) for name, mask in self.masks.items()}


class CountMismatch(RuntimeError):
    """GX's count of a rule differs from the rows :func:`failing_rows` names."""


def _outcomes(results: Any, rule_list: list[Rule], frame: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    by_name = {r.name: r for r in rule_list}
    n_rows = len(frame)
    outcomes, masks = [], {}
    for result in results:
        name = result.expectation_config.meta["rule"]
        rule = by_name[name]
        mask = failing_rows(rule, frame)
        if _raised(result.exception_info):
            mask, unexpected = None, n_rows  # the check could not run (e.g. its column is missing)
        elif rule.expectation == "ExpectTableColumnsToMatchSet":
            if (mask is not None) != bool(result.success):
                raise CountMismatch(f"rule {name}: GX success={result.success}, the row check {mask is not None}")
            unexpected = n_rows if mask is None else 0
        else:
            unexpected = int((result.result or {}).get("unexpected_count") or 0)
            counted = n_rows if mask is None else int(mask.sum())
            if counted != unexpected:
                raise CountMismatch(f"rule {name}: GX counts {unexpected} failing rows, the row check {counted}")
        masks[name] = mask
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
    return outcomes, masks


def _raised(info: Any) -> bool:
    """True when GX could not run an expectation: its ``exception_info`` says so at the top or per metric."""
    if not isinstance(info, dict):
        return False
    return bool(info.get("raised_exception")) or any(
        isinstance(item, dict) and item.get("raised_exception") for item in info.values()
    )


def build_suite(rule_list: list[Rule]) -> list[Any]:
    """One GX expectation per rule, its rule name and section in ``meta``."""
    gx = import_gx()
    return [
        getattr(gx.expectations, rule.expectation)(**rule.kwargs, meta={"rule": rule.name, "section": rule.section})
        for rule in rule_list
    ]


def validate(
    frame: Any,
    rule_list: list[Rule],
    *,
    run_name: str,
    run_time: datetime,
    gx_root: Path | None = None,
    docs_dir: Path | None = None,
) -> QualityResult:
    """Run the suite over ``frame`` (from :func:`gx_frame`; index labels identify rows).

    With ``gx_root``/``docs_dir``: the file Data Context, a checkpoint run named ``run_name``
    (a retry overwrites the same validation result) and the Data Docs site rebuilt. Without:
    an ephemeral context (benchmarks, unit tests), no Data Docs. Raises :class:`CountMismatch`
    when GX and :func:`failing_rows` disagree on a rule.
    """
    import_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    with_docs = gx_root is not None and docs_dir is not None
    if with_docs:
        context = file_context(gx_root, DocsSite(SITE_NAME, docs_dir))  # type: ignore[arg-type]
    else:
        context = ephemeral_context()
    run = checkpoint(context, NAMES, build_suite(rule_list), RESULT_FORMAT).run(
        batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name, run_time=run_time)
    )
    (identifier, validation), *_ = run.run_results.items()
    outcomes, masks = _outcomes(validation.results, rule_list, frame)
    page = None
    if with_docs:
        build_escaped_docs(context, identifier, validation, site_names=[SITE_NAME])
        page = docs_page(context, identifier, SITE_NAME)
    return QualityResult(rules=outcomes, masks=masks, index=frame.index, docs_page=page, success=bool(run.success))
