"""The manager report of an SLA audit run: one self-contained HTML page (inline CSS and SVG, no CDN).

Works offline from disk and through the reports app; links (CSV exports, GX Data Docs) are
relative to the report's folder. Every value is HTML-escaped.
"""

from __future__ import annotations

import csv
import os
from html import escape
from pathlib import Path
from typing import Any

SEVERITIES = ("S1", "S2", "S3", "S4")
COLOURS = {"S1": "#b91c1c", "S2": "#c2410c", "S3": "#1d4ed8", "S4": "#047857"}
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2937;background:#f8fafc}
header{background:#0f172a;color:#f8fafc;padding:16px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#cbd5e1;font-size:13px}main{padding:20px 28px;max-width:1200px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:16px 20px;margin:0 0 18px}
h2{font-size:17px;margin:0 0 12px}h3{font-size:14px;margin:14px 0 6px}
.cards{display:flex;gap:14px;flex-wrap:wrap}.card{border:1px solid #e2e8f0;border-radius:8px;padding:12px 16px;min-width:210px}
.card .big{font-size:30px;font-weight:700}.ok{color:#047857}.bad{color:#b91c1c}.warn{color:#b45309}.muted{color:#64748b}
table{border-collapse:collapse;font-size:13px;margin:4px 0}th,td{border-bottom:1px solid #e2e8f0;padding:4px 10px;text-align:left}
th{background:#f1f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}.pill{padding:1px 8px;border-radius:10px;font-size:12px}
.pill.ok{background:#d1fae5}.pill.bad{background:#fee2e2}.pill.warn{background:#fef3c7}code{font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:18px}figure{margin:0}
"""


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _verdict(row: dict[str, Any]) -> tuple[str, str]:
    if row["n"] == 0:
        return "no judged cases", "warn"
    if row["too_few_to_judge"]:
        return "too few cases to judge", "warn"
    if row["standard"] is None:
        return "reported against the objective", "muted"
    return ("meets the standard", "ok") if row["meets_standard"] else ("below the standard", "bad")


def _headline(figures: dict[str, Any]) -> str:
    overall = {r["severity"]: r for r in figures["compliance"] if r["dimension"] == "overall"}
    cards = []
    for severity in SEVERITIES:
        row = overall.get(severity)
        if row is None:
            continue
        text, css = _verdict(row)
        target = figures["objectives"].get(severity, "")
        standard = f"standard {_pct(row['standard'], 0)}" if row["standard"] is not None else "no % standard"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.6f}"
        cards.append(
            f'<div class="card" id="headline-{severity}" data-ratio="{ratio}" data-n="{row["n"]}">'
            f'<div class="muted">{severity} · response within {_e(target)} · {standard}</div>'
            f'<div class="big {css}">{_pct(row["ratio"])}</div>'
            f"<div>n = {row['n']} judged (met {row['met']}, breached {row['breached']}, pending {row['pending']})</div>"
            f'<div class="muted">95 % Wilson interval {_pct(row["low"])} – {_pct(row["high"])}</div>'
            f'<div><span class="pill {css}">{text}</span></div></div>'
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _line_chart(title: str, labels: list[str], series: dict[str, list[float | None]], standard: float | None) -> str:
    """A small SVG line chart of ratios (0..100 %) over ``labels``; the standard as a dashed line."""
    width, height, left, bottom, top = 520, 236, 44, 56, 24
    plot_w, plot_h = width - left - 16, height - bottom - top
    lowest = min([v for vals in series.values() for v in vals if v is not None] + [standard or 1.0, 0.8])
    floor = max(0.0, min(0.8, int(lowest * 10) / 10))

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / max(len(labels), 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - floor) / (1 - floor))

    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(title)}">']
    parts.append(f'<text x="{left}" y="14" font-size="13" font-weight="600">{_e(title)}</text>')
    for k in range(6):
        v = floor + (1 - floor) * k / 5
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{100 * v:.0f}%</text>')
    if standard is not None:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(standard):.1f}" y2="{y(standard):.1f}" '
            f'stroke="#b91c1c" stroke-dasharray="5,4"/><text x="{left + plot_w}" y="{y(standard) - 3:.1f}" '
            f'font-size="10" text-anchor="end" fill="#b91c1c">{100 * standard:.0f} % standard</text>'
        )
    step = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        if i % step == 0:
            lx, ly = x(i), height - bottom + 12
            parts.append(
                f'<text x="{lx:.1f}" y="{ly}" font-size="9" text-anchor="end" transform="rotate(-35 {lx:.1f} {ly})">{_e(label)}</text>'
            )
    for name, values in series.items():
        colour = COLOURS.get(name, "#334155")
        points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for px, py in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
    for j, name in enumerate(series):
        parts.append(
            f'<text x="{left + 60 * j}" y="{height - 6}" font-size="11" fill="{COLOURS.get(name, "#334155")}">■ {_e(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _monthly_charts(figures: dict[str, Any]) -> str:
    rows = [r for r in figures["compliance"] if r["dimension"] == "month"]
    months = sorted({r["group_key"] for r in rows})
    charts = []
    for severity in SEVERITIES:
        by_month = {r["group_key"]: r for r in rows if r["severity"] == severity}
        values = [by_month[m]["ratio"] if m in by_month else None for m in months]
        standard = next((r["standard"] for r in by_month.values() if r["standard"] is not None), None)
        counts = ", ".join(f"{m}: n={by_month[m]['n']}" for m in months if m in by_month)
        charts.append(
            f'<figure id="chart-{severity}">{_line_chart(f"{severity} compliance per month", months, {severity: values}, standard)}'
            f'<figcaption class="muted" style="font-size:11px;max-width:520px">{_e(counts) or "no cases"}</figcaption></figure>'
        )
    return '<div class="charts">' + "".join(charts) + "</div>"


def _trend(history: list[dict[str, Any]]) -> str:
    if len(history) < 2:
        return '<p class="muted">The trend appears from the second run on (history kept in the ops DB).</p>'
    labels = [h["as_of"][:10] for h in history]
    series = {s: [h.get(s, {}).get("ratio") for h in history] for s in ("S3", "S4")}
    return _line_chart("S3 and S4 compliance over audit runs", labels, series, 0.95)


def _table(headers: list[str], rows: list[list[Any]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i >= numeric_from else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _breaches(figures: dict[str, Any], key: str, label: str) -> str:
    data = figures[key]
    rows = sorted(data.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    body = [[_e(k), *[v.get(s, 0) for s in SEVERITIES], sum(v.values())] for k, v in rows]
    return _table([label, *SEVERITIES, "total"], body) if body else '<p class="muted">No breaches.</p>'


def _group_table(figures: dict[str, Any], dimension: str, label: str) -> str:
    rows = [r for r in figures["compliance"] if r["dimension"] == dimension and r["severity"] in ("S3", "S4")]
    body = []
    for r in sorted(rows, key=lambda r: (r["group_key"], r["severity"])):
        text, css = _verdict(r)
        body.append(
            [
                _e(r["group_key"]),
                r["severity"],
                r["n"],
                _pct(r["ratio"]),
                f"{_pct(r['low'])} – {_pct(r['high'])}",
                f'<span class="pill {css}">{text}</span>',
            ]
        )
    return _table([label, "severity", "n", "met %", "95 % interval", "verdict"], body, numeric_from=2)


def _misclassification(figures: dict[str, Any]) -> str:
    m = figures["misclassification"]
    total = m["total"]
    cards = (
        f'<div class="cards"><div class="card" id="misclass-downgraded"><div class="muted">filed less severe than the matrix '
        f'(triage downgrade, allowed)</div><div class="big">{total["downgraded"]}</div></div>'
        f'<div class="card" id="misclass-raised"><div class="muted">filed more severe than the matrix</div>'
        f'<div class="big">{total["raised"]}</div></div><div class="card"><div class="muted">matching the matrix</div>'
        f'<div class="big">{total["matching"]}</div></div></div>'
    )
    by_region = [[_e(k), v["downgraded"], v["raised"], v["matching"]] for k, v in sorted(m["by_region"].items())]
    pairs = [[p["filed"], p["matrix"], p["cases"]] for p in m["filed_vs_matrix"] if p["filed"] != p["matrix"]]
    return (
        cards
        + "<h3>By region</h3>"
        + _table(["region", "downgraded", "raised", "matching"], by_region)
        + "<h3>Filed vs impact × urgency severity (mismatches)</h3>"
        + (_table(["filed", "matrix", "cases"], pairs, numeric_from=2) if pairs else '<p class="muted">None.</p>')
    )


def _rel(target: Path | str | None, run_dir: Path) -> str | None:
    if not target:
        return None
    return Path(os.path.relpath(Path(target), run_dir)).as_posix()


def _quality(quality: dict[str, Any], run_dir: Path) -> str:
    passed = quality["quality_passed"]
    head = (
        f'<p id="quality-verdict"><span class="pill {"ok" if passed else "bad"}">{"passed" if passed else "FAILED"}</span> '
        f"{quality['rows_rejected']} of {quality['rows_total']} rows quarantined ({_pct(quality['rejected_share'], 2)}); "
        f"allowed at most {_pct(quality['max_rejected_share'])}. "
        f'The audit ran on the rest. <a href="quarantine.csv">quarantine.csv</a></p>'
    )
    if quality.get("missing_columns"):
        head += f'<p class="bad">Missing required columns: {_e(", ".join(quality["missing_columns"]))}</p>'
    page, index = _rel(quality.get("docs_page"), run_dir), _rel(quality.get("docs_index"), run_dir)
    if page:
        head += f'<p>Great Expectations Data Docs: <a id="gx-docs-link" href="{_e(page)}">this run\'s validation</a>'
        head += f' · <a href="{_e(index)}">all runs</a></p>' if index else "</p>"

    def rules_table(section: str) -> str:
        body = []
        for r in quality["rules"]:
            if r["section"] != section or (r["rule"].startswith("column_") and r["success"]):
                continue
            examples = "; ".join(
                f"{_e(x['case_id'] or '(no id)')} ({_e(x['source_file'])}:{x['line']}): {_e(x['value'] or '(empty)')}"
                for x in r["examples"]
            )
            css = "ok" if r["failed"] == 0 else "bad"
            body.append(
                [
                    f"<code>{_e(r['rule'])}</code>",
                    _e(r["description"]),
                    f'<span class="{css}">{_pct(r["pass_rate"], 2)}</span>',
                    r["failed"],
                    examples,
                ]
            )
        return _table(["rule", "checks", "pass rate", "failed rows", "failing examples"], body, numeric_from=2)

    by_customer = quality.get("escalation_by_customer") or {}
    names = sorted({rule for counts in by_customer.values() for rule in counts})
    per_customer = (
        "<h3>Incomplete escalations by customer</h3>"
        + _table(
            ["customer", *names], [[_e(c), *[counts.get(n, 0) for n in names]] for c, counts in by_customer.items()]
        )
        if by_customer
        else ""
    )
    return (
        head
        + "<h3>Blocking rules (a failing row is quarantined)</h3>"
        + rules_table("blocking")
        + '<h3 id="escalation">Escalation requirements (partner-side defects; the case is still audited)</h3>'
        + rules_table("escalation")
        + per_customer
    )


def _case_list(run_dir: Path, name: str, limit: int = 25) -> str:
    path = run_dir / name
    if not path.exists():
        return ""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return '<p class="muted">None.</p>'
    shown = [
        [
            _e(r["case_id"]),
            _e(r["severity"]),
            _e(r["region"]),
            _e(r["customer_id"]),
            _e(r["opened_at"]),
            _e(r["response_due"]),
            _e(r["first_response_at"] or "none yet"),
        ]
        for r in rows[:limit]
    ]
    more = f'<p class="muted">{len(rows) - limit} more in <a href="{name}">{name}</a></p>' if len(rows) > limit else ""
    return (
        _table(["case", "sev", "region", "customer", "opened (UTC)", "due (UTC)", "responded"], shown, numeric_from=9)
        + more
    )


def render_report(
    figures: dict[str, Any], quality: dict[str, Any], history: list[dict[str, Any]], *, run_dir: Path
) -> str:
    """The report page for one run (pure function of its inputs)."""
    scope = []
    if figures["regions"]:
        scope.append("regions " + ", ".join(figures["regions"]))
    if figures["customers"]:
        scope.append("customers " + ", ".join(figures["customers"]))
    left_out = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in figures["left_out"].items() if v)
    sections = [
        (
            "headline",
            "Headline: response compliance",
            _headline(figures)
            + f'<p class="muted">Cases audited: <b id="cases-audited">{figures["cases_audited"]}</b> · breached {figures["breached"]}'
            f" · about to breach {figures['at_risk']}" + (f" · left out ({_e(left_out)})" if left_out else "") + "</p>",
        ),
        ("months", "Compliance per month, by severity", _monthly_charts(figures)),
        ("trend", "Trend over runs", _trend(history)),
        ("regions", "S3/S4 compliance by region", _group_table(figures, "region", "region")),
        (
            "breaches",
            "Breaches by region and customer",
            "<h3>By region</h3>"
            + _breaches(figures, "breaches_by_region", "region")
            + "<h3>By customer</h3>"
            + _breaches(figures, "breaches_by_customer", "customer"),
        ),
        ("customers", "S3/S4 compliance by customer", _group_table(figures, "customer", "customer")),
        ("misclassification", "Severity misclassification", _misclassification(figures)),
        (
            "escalate",
            "For escalation",
            "<h3>About to breach (pending, due soon)</h3>"
            + _case_list(run_dir, "about_to_breach.csv")
            + "<h3>Breached</h3>"
            + _case_list(run_dir, "breached.csv"),
        ),
        ("quality", "Data quality", _quality(quality, run_dir)),
        (
            "exports",
            "CSV exports",
            " · ".join(
                f'<a href="{n}">{n}</a>'
                for n in ("cases.csv", "compliance.csv", "breached.csv", "about_to_breach.csv", "quarantine.csv")
            ),
        ),
    ]
    body = "".join(f'<section id="{sid}"><h2>{_e(title)}</h2>{content}</section>' for sid, title, content in sections)
    warnings = quality.get("warnings") or []
    if warnings:  # e.g. an export with a header but no rows: said before any figure
        lines = "".join(f'<p class="warn">Warning: {_e(w)}</p>' for w in warnings)
        body = f'<section id="warnings"><h2>Warnings</h2>{lines}</section>' + body
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>SLA audit {_e(figures['as_of'][:10])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>SLA audit — TAC case response times</h1>"
        f"<p>as of {_e(figures['as_of'])} · period {_e(figures['period'][0])} to {_e(figures['period'][1])}"
        f"{' · ' + _e('; '.join(scope)) if scope else ''}</p>"
        f"<p>run {_e(figures['run_id'])} · inventory snapshot {_e(figures['snapshot_id'] or 'none')} · exports {_e(figures['source_digest'])}</p>"
        f"</header><main>{body}</main></body></html>"
    )
