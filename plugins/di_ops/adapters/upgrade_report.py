"""The upgrade eligibility report: one CSV row per cluster and an HTML page for managers.

Per cluster: verdict (train, may stay), target, triggers, move-together flag, planned window
(local and UTC), the plan's state and what happened to an announced window in this run
(``window_note``). Summary: counts per train and region; a "Missed windows" section lists the
upgrades found not carried out in their window (DOMAIN.md §2) and the windows awaiting the
inventory. Deterministic: the same rows give the same bytes (no clock inside).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from di_ops.csv_safe import SafeDictWriter

COLUMNS = (
    "customer_id",
    "cluster_id",
    "application",
    "region",
    "window_region",
    "version",
    "release",
    "train",
    "may_stay",
    "target",
    "upgrade",
    "emergency",
    "triggers",
    "move_together",
    "reasons",
    "upgrade_id",
    "state",
    "window_local",
    "window_utc",
    "window_note",
)
TRAIN_ORDER = ("n", "n-1", "n-2", "unsupported", "unknown", "not assessed")


def counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts per train, per region, train x region, and how many upgrades the operator starts."""
    by_train = Counter(str(r["train"]) for r in rows)
    by_region = Counter(str(r["region"]) for r in rows)
    cross = Counter((str(r["train"]), str(r["region"])) for r in rows)
    return {
        "clusters": len(rows),
        "upgrades": sum(1 for r in rows if r["upgrade"]),
        "move_together_flags": sum(1 for r in rows if r["move_together"]),
        "by_train": {t: by_train[t] for t in TRAIN_ORDER if by_train[t]},
        "by_region": dict(sorted(by_region.items())),
        "train_region": {f"{t}/{g}": n for (t, g), n in sorted(cross.items())},
    }


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """One row per cluster; text cells neutralised against formula injection (:mod:`di_ops.csv_safe`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeDictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _table(headers: Sequence[str], body: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    lines = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"


_WINDOWS_HTML = """\
<h2>Missed windows</h2>
{% if missed %}<p>{{ missed | length }} upgrade(s) not carried out in their window: the operator was alerted and
each is re-planned with a new notice.</p>
<table><thead><tr><th>customer</th><th>cluster</th><th>upgrade</th><th>missed window (UTC)</th><th>why</th>
<th>state now</th><th>new window (UTC)</th></tr></thead><tbody>
{% for m in missed %}<tr><td>{{ m.customer_id }}</td><td>{{ m.cluster_id }}</td><td>{{ m.upgrade_id }}</td>
<td>{{ m.window_start }} - {{ m.window_end }}</td><td>{{ m.reason }}</td><td>{{ m.state }}</td>
<td>{{ m.new_window_start or "not re-planned yet (no contacts)" }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p>None in this run.</p>{% endif %}
{% if awaiting %}<p>Closed windows awaiting an inventory snapshot taken after them:</p><ul>
{% for a in awaiting %}<li>{{ a.cluster_id }} ({{ a.upgrade_id }}): window closed {{ a.window_end }}; snapshot
{{ a.snapshot_id }} taken {{ a.snapshot_taken_at }}; judged by {{ a.judged_by }}</li>
{% endfor %}</ul>{% endif %}
"""


def windows_html(missed: Sequence[Mapping[str, Any]], awaiting: Sequence[Mapping[str, Any]]) -> str:
    """The report's "Missed windows" section (Jinja2, autoescaped)."""
    from di_ops.templating import environment

    return environment().from_string(_WINDOWS_HTML).render(missed=list(missed), awaiting=list(awaiting))


def write_html(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str,
    notes: Sequence[str] = (),
    missed: Sequence[Mapping[str, Any]] = (),
    awaiting: Sequence[Mapping[str, Any]] = (),
) -> None:
    summary = counts(rows)
    regions = sorted(summary["by_region"])
    trains = [t for t in TRAIN_ORDER if t in summary["by_train"]]
    cross = [
        [t, *(summary["train_region"].get(f"{t}/{g}", 0) for g in regions), summary["by_train"][t]] for t in trains
    ]
    cross.append(["total", *(summary["by_region"][g] for g in regions), summary["clusters"]])
    detail = [
        [
            r["customer_id"],
            r["cluster_id"],
            r["application"],
            r["region"],
            r["version"],
            r["train"],
            "yes" if r["may_stay"] else "no",
            r["target"],
            r["triggers"],
            r["move_together"],
            r["state"],
            r["window_local"],
            r["window_utc"],
            r.get("window_note", ""),
        ]
        for r in rows
    ]
    html = "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title>",
            "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}</style>",
            "</head><body>",
            f"<h1>{escape(title)}</h1>",
            *(f"<p>{escape(n)}</p>" for n in notes),
            f"<p>{summary['clusters']} clusters; the operator starts {summary['upgrades']} upgrades; "
            f"{summary['move_together_flags']} clusters flagged for releases that must move together.</p>",
            "<h2>Clusters per train and region</h2>",
            _table(["train", *regions, "total"], cross),
            windows_html(missed, awaiting),
            "<h2>Clusters</h2>",
            _table(
                [
                    "customer",
                    "cluster",
                    "application",
                    "region",
                    "version",
                    "train",
                    "may stay",
                    "target",
                    "triggers",
                    "move together",
                    "state",
                    "window (local)",
                    "window (UTC)",
                    "window note",
                ],
                detail,
            ),
            "</body></html>",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(html + "\n", encoding="utf-8")
    tmp.replace(path)
