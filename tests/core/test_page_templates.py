"""The pages of the project, rendered from their Jinja2 templates (di_ops.core.templating, autoescaped):
the managers' SLA report, the upgrade report (upgrades.html) and the SLA reports list. Golden files
with hostile values from the exports and the inventory, and the markup independent of the data
(hypothesis): a value never adds a tag or an attribute, in text, in an attribute or in the SVG charts.

Source: DOMAIN.md §2 (upgrade report), §7 (SLA audit report); the house rule that every HTML page
comes from an autoescaped template.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.markup_checks import (
    APOS,
    APOS_ESCAPED,
    IMG,
    IMG_ESCAPED,
    QUOTE,
    QUOTE_ESCAPED,
    SCRIPT,
    SCRIPT_ESCAPED,
    assert_golden,
    assert_no_markup_from_data,
    structure,
    text_of,
)

GOLDEN = Path(__file__).parent / "golden"
TEXT = st.text(min_size=1, max_size=30)
ESCAPED = {IMG: IMG_ESCAPED, SCRIPT: SCRIPT_ESCAPED, QUOTE: QUOTE_ESCAPED, APOS: APOS_ESCAPED}


def _assert_hostile_escaped(html: str) -> None:
    assert_no_markup_from_data(html)
    for value, escaped in ESCAPED.items():
        assert escaped in html, value


# --- the SLA report ----------------------------------------------------------------------------


def _row(severity: str, dimension: str = "overall", key: str = "", **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "dimension": dimension,
        "group_key": key,
        "severity": severity,
        "n": 100,
        "met": 96,
        "breached": 4,
        "pending": 0,
        "ratio": 0.96,
        "low": 0.90,
        "high": 0.98,
        "standard": 0.95 if severity in ("S3", "S4") else None,
        "meets_standard": True if severity in ("S3", "S4") else None,
        "too_few_to_judge": False,
    }
    return row | values


def _figures(customer: str = IMG, region: str = SCRIPT, month: str = QUOTE) -> dict[str, Any]:
    return {
        "run_id": SCRIPT,
        "as_of": "2026-11-27T00:00:00+00:00",
        "period": ["2025-12-01", APOS],
        "regions": [region],
        "customers": [customer],
        "snapshot_id": QUOTE,
        "source_digest": "abc",
        "cases_audited": 400,
        "left_out": {"outside_period": 3},
        "compliance": [
            _row("S1", n=3, too_few_to_judge=True),
            _row("S2"),
            _row("S3", ratio=0.91, meets_standard=False),
            _row("S4", n=0, met=0, breached=0, ratio=None, low=0.0, high=1.0, too_few_to_judge=True),
            _row("S3", "month", "2026-10"),
            _row("S3", "month", month, ratio=0.99),
            _row("S3", "region", region),
            _row("S4", "customer", customer, ratio=0.5, meets_standard=False),
        ],
        "misclassification": {
            "total": {"matching": 390, "downgraded": 7, "raised": 3},
            "by_region": {region: {"matching": 390, "downgraded": 7, "raised": 3}},
            "by_customer": {},
            "filed_vs_matrix": [{"filed": "S3", "matrix": "S2", "cases": 7}],
        },
        "breaches_by_region": {region: {"S3": 4}},
        "breaches_by_customer": {customer: {"S3": 3, "S4": 1}},
        "breached": 4,
        "at_risk": 1,
        "escalation_defects": {},
        "objectives": {"S1": "15 min", "S2": "30 min", "S3": "1 business day(s)", "S4": "3 business day(s)"},
    }


def _quality(reports: Path, value: str = SCRIPT, case_id: str = QUOTE) -> dict[str, Any]:
    return {
        "rows_total": 410,
        "rows_rejected": 10,
        "rejected_share": 10 / 410,
        "max_rejected_share": 0.05,
        "quality_passed": False,
        "missing_columns": [IMG],
        "warnings": [f"export {APOS}.csv has a header but no rows"],
        "rules": [
            {
                "rule": "region_known",
                "section": "blocking",
                "column": "region",
                "description": "region is known",
                "failed": 1,
                "pass_rate": 409 / 410,
                "success": False,
                "examples": [{"case_id": case_id, "source_file": f"{APOS}.csv", "line": 4, "value": value}],
            },
            {
                "rule": "contact_email_valid",
                "section": "escalation",
                "column": "contact_email",
                "description": "contact e-mail is an address",
                "failed": 0,
                "pass_rate": 1.0,
                "success": True,
                "examples": [],
            },
        ],
        "escalation_by_customer": {value: {"contact_email_valid": 1}},
        "docs_page": str(reports / "_gx_docs" / "validations" / f"{QUOTE}.html"),
        "docs_index": str(reports / "_gx_docs" / "index.html"),
    }


def _case_csvs(run_dir: Path, case_id: str = IMG, customer: str = SCRIPT) -> None:
    columns = ["case_id", "customer_id", "region", "severity", "severity_matrix", "month", "opened_at"]
    columns += ["first_response_at", "response_due", "status", "at_risk"]
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, count in (("breached.csv", 27), ("about_to_breach.csv", 1)):
        with (run_dir / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for i in range(count):
                writer.writerow(
                    [f"{case_id}-{i}", customer, "EMEA", "S3", "S3", "2026-10", "2026-10-01T00:00:00Z"]
                    + [APOS if i == 0 else "", "2026-10-02T00:00:00Z", "breached", "False"]
                )


HISTORY = [
    {"run_id": "a", "as_of": IMG, "S3": {"n": 90, "ratio": 0.97}, "S4": {"n": 80, "ratio": 0.93}},
    {"run_id": "b", "as_of": "2026-11-27T00:00:00+00:00", "S3": {"n": 95, "ratio": 0.96}},
]


def test_the_sla_report_escapes_hostile_export_values_golden_file(tmp_path: Path) -> None:
    from di_ops.pipelines.sla.report import render_report

    run_dir = tmp_path / "reports" / "run-1"
    _case_csvs(run_dir)
    html = render_report(_figures(), _quality(tmp_path / "reports"), HISTORY, run_dir=run_dir)
    assert_golden(GOLDEN / "sla_report_hostile.html", html)
    _assert_hostile_escaped(html)
    assert html.count("<svg") == 5  # a chart per severity and the trend
    assert f'href="../_gx_docs/validations/{QUOTE_ESCAPED}.html"' in html  # a file name in an attribute
    assert ">&lt;img src=x</text>" in html  # a history label in the SVG
    assert '<p class="muted">2 more in <a href="breached.csv">breached.csv</a></p>' in html


@settings(max_examples=25, deadline=None)
@given(customer=TEXT, region=TEXT, month=TEXT, value=TEXT, case_id=TEXT)
def test_the_sla_report_markup_does_not_depend_on_the_data(
    tmp_path_factory: Any, customer: str, region: str, month: str, value: str, case_id: str
) -> None:
    from di_ops.pipelines.sla.report import render_report

    def page(customer: str, region: str, month: str, value: str, case_id: str) -> str:
        run_dir = tmp_path_factory.mktemp("reports") / "run"
        _case_csvs(run_dir, case_id=case_id, customer=customer)
        quality = _quality(run_dir.parent, value=value, case_id=case_id)
        return render_report(_figures(customer, region, month), quality, HISTORY, run_dir=run_dir)

    assume(month != "2026-10")  # the other month of the figures: one chart point fewer
    hostile = page(customer, region, month, value, case_id)
    assert structure(hostile) == structure(page("c", "r", "2026-11", "v", "k"))
    shown = text_of(hostile)
    assert all(v in shown for v in (customer, region, month, value, case_id))


# --- the upgrade report ------------------------------------------------------------------------


def _upgrade_rows(customer: str = IMG, trigger: str = SCRIPT, note: str = APOS) -> list[dict[str, object]]:
    from di_ops.pipelines.upgrades.report import COLUMNS

    row: dict[str, object] = dict.fromkeys(COLUMNS, "")
    row |= {"customer_id": customer, "cluster_id": f"{customer}-cucm", "application": "CUCM", "region": "AUS"}
    row |= {"train": "n-2", "may_stay": False, "upgrade": True, "emergency": False, "triggers": trigger}
    row |= {"state": "notified", "window_note": note, "move_together": QUOTE, "version": "11.5"}
    return [row, {**row, "customer_id": "A1", "cluster_id": "A1-cucm", "train": "n", "region": "EMEA"}]


def _missed(reason: str = IMG) -> list[dict[str, object]]:
    return [
        {
            "customer_id": SCRIPT,
            "cluster_id": "A2-cucm",
            "upgrade_id": QUOTE,
            "window_start": "2026-06-15T19:00:00+00:00",
            "window_end": "2026-06-16T04:00:00+00:00",
            "reason": reason,
            "state": "notified",
            "new_window_start": None,
        }
    ]


AWAITING = [
    {
        "cluster_id": APOS,
        "upgrade_id": IMG,
        "window_end": "e",
        "snapshot_id": SCRIPT,
        "snapshot_taken_at": "t",
        "judged_by": "j",
    }
]


def test_the_upgrade_report_escapes_hostile_inventory_values_golden_file(tmp_path: Path) -> None:
    from di_ops.pipelines.upgrades.report import write_html

    path = tmp_path / "upgrades.html"
    write_html(path, _upgrade_rows(), title=f"Upgrades {APOS}", notes=[QUOTE], missed=_missed(), awaiting=AWAITING)
    html = path.read_bytes().decode("utf-8")
    assert_golden(GOLDEN / "upgrade_report_hostile.html", html)
    _assert_hostile_escaped(html)
    assert "<td>n-2</td><td>1</td><td>0</td><td>1</td>" in html  # train x region: AUS, EMEA, total
    assert "not re-planned yet (no contacts)" in html


@settings(max_examples=40, deadline=None)
@given(customer=TEXT, trigger=TEXT, note=TEXT, reason=TEXT)
def test_the_upgrade_report_markup_does_not_depend_on_the_data(
    tmp_path_factory: Any, customer: str, trigger: str, note: str, reason: str
) -> None:
    from di_ops.pipelines.upgrades.report import write_html

    def page(customer: str, trigger: str, note: str, reason: str) -> str:
        path = tmp_path_factory.mktemp("upgrades") / "upgrades.html"
        write_html(path, _upgrade_rows(customer, trigger, note), title="t", notes=[note], missed=_missed(reason))
        return path.read_bytes().decode("utf-8")  # as written: a CR in a value stays a CR

    hostile = page(customer, trigger, note, reason)
    assert structure(hostile) == structure(page("c", "t", "n", "r"))
    assert all(v in text_of(hostile) for v in (customer, trigger, note, reason))


# --- the SLA reports list ----------------------------------------------------------------------


def _runs(folder: str = QUOTE, run_id: str = SCRIPT) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "folder": folder,
            "as_of": "2026-11-27T00:00:00+00:00",
            "period": [IMG, APOS],
            "cases_audited": 2000,
            "headline": {"S3": {"n": 100, "ratio": 0.96}, "S4": {"n": 0, "ratio": None}},
            "quality_passed": False,
            "rejected_share": 0.01,
        },
        {"run_id": "r2", "folder": "r2", "quality_passed": True, "rejected_share": None},
    ]


def test_the_reports_list_escapes_hostile_run_ids_and_folders_golden_file() -> None:
    from di_ops.orchestration.reports_app import render_index

    html = render_index(_runs())
    assert_golden(GOLDEN / "reports_index_hostile.html", html)
    _assert_hostile_escaped(html)
    assert f'href="runs/{QUOTE_ESCAPED}/report.html">{SCRIPT_ESCAPED}</a>' in html
    assert "No audit runs yet" in render_index([])


@settings(max_examples=60, deadline=None)
@given(folder=TEXT, run_id=TEXT)
def test_the_reports_list_markup_does_not_depend_on_the_data(folder: str, run_id: str) -> None:
    from di_ops.orchestration.reports_app import render_index

    hostile = render_index(_runs(folder, run_id))
    assert structure(hostile) == structure(render_index(_runs("f", "r")))
    assert run_id in text_of(hostile)
