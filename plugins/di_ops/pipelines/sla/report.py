"""The manager report of an SLA audit run: one self-contained HTML page (inline CSS and SVG, no CDN).

Works offline from disk and through the reports app; links (CSV exports, GX Data Docs) are
relative to the report's folder. The page is ``templates/sla_report.html.j2`` (autoescaped:
case ids, customer ids, file names and values from the TAC exports are text, never markup);
this module passes it texts and numbers only (the charts' geometry included).
"""

from __future__ import annotations

import csv
import os
from itertools import islice
from pathlib import Path
from typing import Any

SEVERITIES = ("S1", "S2", "S3", "S4")
COLOURS = {"S1": "#b91c1c", "S2": "#c2410c", "S3": "#1d4ed8", "S4": "#047857"}
EXPORTS = ("cases.csv", "compliance.csv", "breached.csv", "about_to_breach.csv", "quarantine.csv")


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def _verdict(row: dict[str, Any]) -> tuple[str, str]:
    """The words and colour of a group's judgement (figures._judgement): one state, never two at once."""
    judgement = row.get("judgement") or _legacy_judgement(row)
    interval = f"{_pct(row['low'])} – {_pct(row['high'])}"
    texts = {
        "no cases": ("no judged cases yet", "warn"),
        "objective only": ("reported against its objective (no % standard)", "muted"),
        "too few": (f"too few cases to judge (n = {row['n']})", "warn"),
        "met": ("meets the standard", "ok"),
        "missed": ("below the standard", "bad"),
    }
    if judgement == "inconclusive":
        return f"inconclusive: the 95 % interval {interval} straddles {_pct(row['standard'], 0)}", "warn"
    return texts[judgement]


def _legacy_judgement(row: dict[str, Any]) -> str:
    """A row stored before groups carried their judgement (figures.json of an older run)."""
    if row["n"] == 0:
        return "no cases"
    if row["standard"] is None:
        return "objective only"
    if row["too_few_to_judge"]:
        return "too few"
    return "met" if row["meets_standard"] else "missed"


def _headline_line(severity: str, row: dict[str, Any], objective: str) -> str:
    """One line per severity: whether the standard is met, missed or not yet decidable, with n."""
    judgement = row.get("judgement") or _legacy_judgement(row)
    n = row["n"]
    if judgement == "objective only":
        return f"{severity}: {_pct(row['ratio'])} of {n} judged cases answered within {objective} (no % standard)"
    if judgement == "no cases":
        return f"{severity}: not yet decidable — no judged case"
    share = f"{_pct(row['ratio'])} of {n} judged cases within {objective}"
    if judgement == "met":
        return f"{severity}: standard met — {share}"
    if judgement == "missed":
        return f"{severity}: standard missed — {share}"
    why = (
        "too few cases"
        if judgement == "too few"
        else f"the 95 % interval {_pct(row['low'])} – {_pct(row['high'])} straddles {_pct(row['standard'], 0)}"
    )
    return f"{severity}: not yet decidable — {share}; {why}"


def _cards(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline card of each severity with an overall row."""
    overall = {r["severity"]: r for r in figures["compliance"] if r["dimension"] == "overall"}
    cards = []
    for severity in SEVERITIES:
        row = overall.get(severity)
        if row is None:
            continue
        text, css = _verdict(row)
        cards.append(
            {
                "severity": severity,
                "ratio": "" if row["ratio"] is None else f"{row['ratio']:.6f}",
                "target": figures["objectives"].get(severity, ""),
                "standard": f"standard {_pct(row['standard'], 0)}" if row["standard"] is not None else "no % standard",
                "pct": _pct(row["ratio"]),
                "css": css,
                "text": text,
                "low": _pct(row["low"]),
                "high": _pct(row["high"]),
                **{k: row[k] for k in ("n", "met", "breached", "pending")},
            }
        )
    return cards


def _headline(figures: dict[str, Any]) -> list[dict[str, str]]:
    """The headline's one line per severity (with an overall row), coloured by its judgement."""
    overall = {r["severity"]: r for r in figures["compliance"] if r["dimension"] == "overall"}
    lines = []
    for severity in SEVERITIES:
        row = overall.get(severity)
        if row is not None:
            objective = figures["objectives"].get(severity, "its objective")
            lines.append({"text": _headline_line(severity, row, objective), "css": _verdict(row)[1]})
    return lines


def _line_chart(
    title: str, labels: list[str], series: dict[str, list[float | None]], standard: float | None
) -> dict[str, Any]:
    """The geometry of a small SVG line chart of ratios (0..100 %) over ``labels`` (numbers, the
    template draws it); the standard as a dashed line."""
    width, height, left, bottom, top = 520, 236, 44, 56, 24
    plot_w, plot_h = width - left - 16, height - bottom - top
    lowest = min([v for vals in series.values() for v in vals if v is not None] + [standard or 1.0, 0.8])
    floor = max(0.0, min(0.8, int(lowest * 10) / 10))

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / max(len(labels), 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - floor) / (1 - floor))

    grid = []
    for k in range(6):
        v = floor + (1 - floor) * k / 5
        grid.append({"y": f"{y(v):.1f}", "label_y": f"{y(v) + 4:.1f}", "label": f"{100 * v:.0f}%"})
    line = None
    if standard is not None:
        line = {
            "y": f"{y(standard):.1f}",
            "label_y": f"{y(standard) - 3:.1f}",
            "label": f"{100 * standard:.0f} % standard",
        }
    step = max(1, len(labels) // 12)
    ly = height - bottom + 12
    ticks = [{"x": f"{x(i):.1f}", "y": ly, "text": label} for i, label in enumerate(labels) if i % step == 0]
    lines = []
    for name, values in series.items():
        points = [(f"{x(i):.1f}", f"{y(v):.1f}") for i, v in enumerate(values) if v is not None]
        lines.append(
            {
                "colour": COLOURS.get(name, "#334155"),
                "points": " ".join(f"{px},{py}" for px, py in points) if len(points) > 1 else "",
                "dots": points,
            }
        )
    legend = [
        {"x": left + 60 * j, "colour": COLOURS.get(name, "#334155"), "name": name} for j, name in enumerate(series)
    ]
    return {
        "title": title,
        "width": width,
        "height": height,
        "left": left,
        "right": left + plot_w,
        "grid": grid,
        "standard": line,
        "labels": ticks,
        "series": lines,
        "legend": legend,
    }


def _monthly_charts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [r for r in figures["compliance"] if r["dimension"] == "month"]
    months = sorted({r["group_key"] for r in rows})
    charts = []
    for severity in SEVERITIES:
        by_month = {r["group_key"]: r for r in rows if r["severity"] == severity}
        values = [by_month[m]["ratio"] if m in by_month else None for m in months]
        standard = next((r["standard"] for r in by_month.values() if r["standard"] is not None), None)
        charts.append(
            {
                "severity": severity,
                "chart": _line_chart(f"{severity} compliance per month", months, {severity: values}, standard),
                "caption": ", ".join(f"{m}: n={by_month[m]['n']}" for m in months if m in by_month),
            }
        )
    return charts


def _trend(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    if len(history) < 2:
        return None
    labels = [h["as_of"][:10] for h in history]
    series = {s: [h.get(s, {}).get("ratio") for h in history] for s in ("S3", "S4")}
    return _line_chart("S3 and S4 compliance over audit runs", labels, series, 0.95)


def _breaches(figures: dict[str, Any], key: str) -> list[list[Any]]:
    rows = sorted(figures[key].items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return [[k, *[v.get(s, 0) for s in SEVERITIES], sum(v.values())] for k, v in rows]


def _group_rows(figures: dict[str, Any], dimension: str) -> list[dict[str, Any]]:
    rows = [r for r in figures["compliance"] if r["dimension"] == dimension and r["severity"] in ("S3", "S4")]
    out = []
    for r in sorted(rows, key=lambda r: (r["group_key"], r["severity"])):
        text, css = _verdict(r)
        out.append(
            {
                "key": r["group_key"],
                "severity": r["severity"],
                "n": r["n"],
                "pct": _pct(r["ratio"]),
                "interval": f"{_pct(r['low'])} – {_pct(r['high'])}",
                "css": css,
                "text": text,
            }
        )
    return out


def _misclassification(figures: dict[str, Any]) -> dict[str, Any]:
    m = figures["misclassification"]
    return {
        **{k: m["total"][k] for k in ("downgraded", "raised", "matching")},
        "by_region": [[k, v["downgraded"], v["raised"], v["matching"]] for k, v in sorted(m["by_region"].items())],
        "pairs": [[p["filed"], p["matrix"], p["cases"]] for p in m["filed_vs_matrix"] if p["filed"] != p["matrix"]],
    }


def _rel(target: Path | str | None, run_dir: Path) -> str | None:
    if not target:
        return None
    return Path(os.path.relpath(Path(target), run_dir)).as_posix()


def _rules(quality: dict[str, Any], section: str) -> list[dict[str, Any]]:
    rows = []
    for r in quality["rules"]:
        if r["section"] != section or (r["rule"].startswith("column_") and r["success"]):
            continue
        examples = "; ".join(
            f"{x['case_id'] or '(no id)'} ({x['source_file']}:{x['line']}): {x['value'] or '(empty)'}"
            for x in r["examples"]
        )
        rows.append(
            {
                "rule": r["rule"],
                "description": r["description"],
                "css": "ok" if r["failed"] == 0 else "bad",
                "pass_rate": _pct(r["pass_rate"], 2),
                "failed": r["failed"],
                "examples": examples,
            }
        )
    return rows


def _quality(quality: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    page, index = _rel(quality.get("docs_page"), run_dir), _rel(quality.get("docs_index"), run_dir)
    by_customer = quality.get("escalation_by_customer") or {}
    names = sorted({rule for counts in by_customer.values() for rule in counts})
    return {
        "passed": quality["quality_passed"],
        "rows_rejected": quality["rows_rejected"],
        "rows_total": quality["rows_total"],
        "rejected_share": _pct(quality["rejected_share"], 2),
        "max_rejected_share": _pct(quality["max_rejected_share"]),
        "missing_columns": ", ".join(quality.get("missing_columns") or []),
        "docs_page": page,
        "docs_index": index if page else None,
        "blocking": _rules(quality, "blocking"),
        "escalation": _rules(quality, "escalation"),
        "by_customer_names": names if by_customer else None,
        "by_customer": [[c, *[counts.get(n, 0) for n in names]] for c, counts in by_customer.items()],
    }


def _case_list(run_dir: Path, name: str, limit: int = 25) -> dict[str, Any] | None:
    """The first ``limit`` cases of a case CSV and how many more it holds; None when it is not there."""
    path = run_dir / name
    if not path.exists():
        return None
    columns = ("case_id", "severity", "region", "customer_id", "opened_at", "response_due")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        shown = [[*(r[c] for c in columns), r["first_response_at"] or "none yet"] for r in islice(reader, limit)]
        more = sum(1 for _ in reader.reader) if len(shown) == limit else 0
    return {"rows": shown, "more": more, "name": name}


def render_report(
    figures: dict[str, Any], quality: dict[str, Any], history: list[dict[str, Any]], *, run_dir: Path
) -> str:
    """The report page for one run (pure function of its inputs)."""
    from di_ops.core.templating import render

    scope = []
    if figures["regions"]:
        scope.append("regions " + ", ".join(figures["regions"]))
    if figures["customers"]:
        scope.append("customers " + ", ".join(figures["customers"]))
    return render(
        "sla_report.html.j2",
        as_of=figures["as_of"],
        period=figures["period"],
        scope="; ".join(scope),
        run_id=figures["run_id"],
        snapshot_id=figures["snapshot_id"] or "none",
        source_digest=figures["source_digest"],
        warnings=quality.get("warnings") or [],  # e.g. an export with a header but no rows: said before any figure
        cards=_cards(figures),
        headline=_headline(figures),
        cases_audited=figures["cases_audited"],
        breached=figures["breached"],
        at_risk=figures["at_risk"],
        left_out=", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in figures["left_out"].items() if v),
        months=_monthly_charts(figures),
        trend=_trend(history),
        by_region=_group_rows(figures, "region"),
        by_customer=_group_rows(figures, "customer"),
        breaches_by_region=_breaches(figures, "breaches_by_region"),
        breaches_by_customer=_breaches(figures, "breaches_by_customer"),
        misclass=_misclassification(figures),
        about_to_breach=_case_list(run_dir, "about_to_breach.csv"),
        breached_cases=_case_list(run_dir, "breached.csv"),
        proactive=figures.get("proactive_notices"),  # absent in figures of runs before incident_watch
        quality=_quality(quality, run_dir),
        exports=EXPORTS,
    )
