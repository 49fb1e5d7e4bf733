"""The manager report: self-contained, escaped, verdicts and relative links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from di_ops.pipelines.sla.report import render_report


def _row(severity: str, dimension: str = "overall", key: str = "", **kw: object) -> dict[str, object]:
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
    return row | kw


def _figures() -> dict[str, object]:
    return {
        "run_id": "manual__<script>",
        "as_of": "2026-11-27T00:00:00+00:00",
        "period": ["2025-12-01", "2026-11-27"],
        "regions": [],
        "customers": ["C<1>"],
        "snapshot_id": None,
        "source_digest": "abc",
        "cases_audited": 400,
        "left_out": {"outside_period": 3},
        "compliance": [
            _row("S1", n=3, too_few_to_judge=True),
            _row("S2"),
            _row("S3", ratio=0.91, meets_standard=False),
            _row("S4", n=0, met=0, breached=0, ratio=None, low=0.0, high=1.0, too_few_to_judge=True),
            _row("S3", "month", "2026-10"),
            _row("S3", "month", "2026-11", ratio=0.99),
            _row("S3", "customer", "C<1>"),
            _row(
                "S4",
                "customer",
                "C<1>",
                n=12,
                met=12,
                breached=0,
                ratio=1.0,
                meets_standard=None,
                too_few_to_judge=True,
                judgement="too few",
            ),
            _row(
                "S3",
                "region",
                "EMEA",
                n=245,
                met=236,
                breached=9,
                ratio=0.963,
                low=0.932,
                high=0.981,
                meets_standard=None,
                judgement="inconclusive",
            ),
        ],
        "misclassification": {
            "total": {"matching": 390, "downgraded": 7, "raised": 3},
            "by_region": {"EMEA": {"matching": 390, "downgraded": 7, "raised": 3}},
            "by_customer": {},
            "filed_vs_matrix": [{"filed": "S3", "matrix": "S2", "cases": 7}],
        },
        "breaches_by_region": {"EMEA": {"S3": 4}},
        "breaches_by_customer": {"C<1>": {"S3": 4}},
        "breached": 4,
        "at_risk": 0,
        "escalation_defects": {},
        "objectives": {"S1": "15 min", "S2": "30 min", "S3": "1 business day(s)", "S4": "3 business day(s)"},
    }


def _quality(tmp_path: Path) -> dict[str, object]:
    return {
        "rows_total": 410,
        "rows_rejected": 10,
        "rejected_share": 10 / 410,
        "max_rejected_share": 0.05,
        "quality_passed": True,
        "missing_columns": [],
        "rules": [
            {
                "rule": "region_known",
                "section": "blocking",
                "column": "region",
                "description": "region is known",
                "failed": 1,
                "pass_rate": 409 / 410,
                "success": False,
                "examples": [{"case_id": "B<3>", "source_file": "x.csv", "line": 4, "value": "<Mars>"}],
            }
        ],
        "docs_page": str(tmp_path / "reports" / "_gx_docs" / "validations" / "v.html"),
        "docs_index": str(tmp_path / "reports" / "_gx_docs" / "index.html"),
    }


def test_the_report_is_self_contained_escaped_and_links_relatively(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "run-1"
    html = render_report(_figures(), _quality(tmp_path), [], run_dir=run_dir)
    assert not re.search(r"<script|<link|(src|href)=\"(https?:)?//", html)
    assert "<Mars>" not in html and "&lt;Mars&gt;" in html and "manual__&lt;script&gt;" in html
    assert 'href="../_gx_docs/validations/v.html"' in html
    assert 'id="headline-S3" data-ratio="0.910000" data-n="100"' in html
    assert "below the standard" in html and "too few cases to judge (n = 12)" in html and "no judged cases" in html
    # a group of 245 whose interval straddles 95 % is inconclusive, not "too few", and never also "meets"
    assert "inconclusive: the 95 % interval 93.2 % – 98.1 % straddles 95 %" in html
    lines = re.findall(r'<li class="\w+">([^<]*)</li>', html.split('id="headline-lines"')[1].split("</ul>")[0])
    assert lines == [
        "S1: 96.0 % of 3 judged cases answered within 15 min (no % standard)",
        "S2: 96.0 % of 100 judged cases answered within 30 min (no % standard)",
        "S3: standard missed — 91.0 % of 100 judged cases within 1 business day(s)",
        "S4: not yet decidable — no judged case",
    ]
    assert re.search(r'id="misclass-downgraded".*?<div class="big">7<', html)
    assert re.search(r'id="misclass-raised".*?<div class="big">3<', html)
    assert html.count("<svg") == 4  # one chart per severity; the trend needs two runs


def test_the_trend_chart_appears_with_history(tmp_path: Path) -> None:
    history = [
        {
            "run_id": "a",
            "as_of": "2026-11-26T00:00:00+00:00",
            "S3": {"n": 90, "ratio": 0.97},
            "S4": {"n": 80, "ratio": 0.93},
        },
        {"run_id": "b", "as_of": "2026-11-27T00:00:00+00:00", "S3": {"n": 95, "ratio": 0.96}},
    ]
    html = render_report(_figures(), _quality(tmp_path), history, run_dir=tmp_path / "reports" / "b")
    assert "S3 and S4 compliance over audit runs" in html and html.count("<svg") == 5


@pytest.mark.parametrize(
    ("met", "breached", "severity", "wilson", "expected"),
    [
        (0, 0, "S3", True, "no cases"),
        (19, 0, "S3", True, "too few"),  # one below audit.min_cases_to_judge (20)
        (20, 0, "S3", True, "inconclusive"),  # 20 of 20, but the interval 83.9-100 % straddles 95 %
        (236, 9, "S3", True, "inconclusive"),  # n = 245, 96.3 %, interval 93.2-98.1 %
        (236, 9, "S3", False, "met"),  # judged by the share alone
        (990, 10, "S4", True, "met"),  # interval 98.2-99.5 % above 95 %
        (900, 100, "S4", True, "missed"),
        (3, 0, "S1", True, "objective only"),
    ],
)
def test_a_group_has_one_judgement(met: int, breached: int, severity: str, wilson: bool, expected: str) -> None:
    from di_ops.pipelines.sla.figures import _group_row

    row = _group_row("overall", "", severity, met, breached, 0, 0.95, 20, wilson)
    assert row["judgement"] == expected
    # "meets the standard" only when judged; "too few" only for a small sample
    assert row["meets_standard"] is {"met": True, "missed": False}.get(expected)
    assert row["too_few_to_judge"] is (expected == "too few")
