"""The blast-radius guard of ``backup_retention`` and the approval text it asks for.

The guard trips when a series would lose more than ``guard.max_prune_share_per_series`` of its
backups or a run would prune more than ``guard.max_prune_total`` (defaults chosen here; the source
gives no number: ``include/config/retention.yaml``). The approval body says what the approver needs:
counts, why, a link to the plan (never a server path), a cut list's size, and when ``as_of`` is not
the run's own time. Source: docs/pipelines/retention.md ("Two guarantees").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from di_ops.pipelines.retention.settings import retention_settings

SHOWN_SERIES = 10  # series named in the guard's reason; the count says when the list is cut


def _data_relative(folder: str) -> str:
    """``folder`` relative to the data folder (the approval shows no server path)."""
    from di_ops.core.settings import data_dir

    path = Path(folder)
    try:
        return path.relative_to(data_dir()).as_posix()
    except ValueError:
        return path.name


def _plan_url(folder: str) -> str:
    """The Airflow UI path of the run's plan.csv (the console's reports hub serves retention run files)."""
    from di_ops.orchestration.console.app import file_url

    return file_url("retention", Path(folder).name, "plan.csv")


def _run_url(run_id: str) -> str:
    """The console's page of this run: every report file and what the run left in the ops DB."""
    from di_ops.orchestration.console.app import report_url

    return report_url("backup_retention", run_id)


def guard_text(info: Mapping[str, Any], counts: Mapping[str, int], guard: Mapping[str, Any]) -> str:
    """Markdown body of the approval: counts and why the guard tripped."""
    lines = [
        f"**Backup retention run** `{info['run_id']}` on `{info['store']}` (as_of {info['as_of']}).",
        "",
        *(
            [f"**as_of is not the run's own time** ({info['run_time']}): ages are measured from the Param.", ""]
            if info.get("run_time")
            else []
        ),
        f"Plan: keep {counts.get('keep', 0)}, prune {counts.get('prune', 0)}, hold {counts.get('hold', 0)}.",
        "",
        "The blast-radius guard stopped the run:",
        *[f"- {reason}" for reason in guard.get("reasons", [])],
        "",
        f"Full plan: [plan.csv]({_plan_url(info['run_dir'])}) (in the data folder under "
        f"`{_data_relative(info['run_dir'])}/`); all of this run's reports: [run page]({_run_url(info['run_id'])}). "
        "Approve to delete after a fresh re-scan; Reject (also the default on timeout) deletes nothing.",
    ]
    return "\n".join(lines)


def guard_verdict(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Blast-radius guard: trips when a series would lose more than the configured share, or the total is too high."""
    settings = retention_settings().guard
    total: Counter[str] = Counter()
    pruned: Counter[str] = Counter()
    for row in rows:
        series = f"{row['customer_id']}/{row['cluster_id']}/{row['application']}"
        total[series] += 1
        pruned[series] += row["action"] == "prune"
    over_share = sorted(
        (s for s in pruned if pruned[s] / total[s] > settings.max_prune_share_per_series),
        key=lambda s: (-pruned[s] / total[s], s),
    )
    prune_total = sum(pruned.values())
    reasons = []
    if over_share:
        reasons.append(
            f"{len(over_share)} series would lose more than {settings.max_prune_share_per_series:.0%} of their backups"
            + (f" (showing {SHOWN_SERIES} of {len(over_share)})" if len(over_share) > SHOWN_SERIES else "")
            + ": "
            + ", ".join(f"{s} ({pruned[s]} of {total[s]})" for s in over_share[:SHOWN_SERIES])
        )
    if prune_total > settings.max_prune_total:
        reasons.append(f"{prune_total} backups would be pruned (more than {settings.max_prune_total})")
    return {
        "tripped": bool(reasons),
        "reasons": reasons,
        "prune_total": prune_total,
        "series_over_share": over_share,
        "max_prune_share_per_series": settings.max_prune_share_per_series,
        "max_prune_total": settings.max_prune_total,
    }
