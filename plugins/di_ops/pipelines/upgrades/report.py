"""The upgrade eligibility report: one CSV row per cluster and an HTML page for managers.

Per cluster: verdict (train, may stay), target, triggers, move-together flag, planned window
(local and UTC), the plan's state and what happened to an announced window in this run
(``window_note``). Summary: counts per train and region; a "Missed windows" section lists the
upgrades found not carried out in their window (DOMAIN.md §2) and the windows awaiting the
inventory. Deterministic: the same rows give the same bytes (no clock inside). The page is
``templates/upgrade_report.html.j2`` (autoescaped: inventory names and reasons are text, never markup).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from di_ops.core.csv_safe import SafeDictWriter
from di_ops.core.templating import render

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
    """One row per cluster; text cells neutralised against formula injection (:mod:`di_ops.core.csv_safe`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeDictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def write_html(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str,
    notes: Sequence[str] = (),
    missed: Sequence[Mapping[str, Any]] = (),
    awaiting: Sequence[Mapping[str, Any]] = (),
) -> None:
    """``upgrades.html``: written whole (a ``.part`` file renamed), never half a page."""
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
    html = render(
        "upgrade_report.html.j2",
        title=title,
        notes=list(notes),
        clusters=summary["clusters"],
        upgrades=summary["upgrades"],
        move_together_flags=summary["move_together_flags"],
        regions=regions,
        cross=cross,
        missed=list(missed),
        awaiting=list(awaiting),
        detail=detail,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
