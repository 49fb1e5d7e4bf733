"""The approval body of a guarded run says what the approver needs: counts, why, where the plan is
(no server path), that a long list is cut, and that as_of was moved by the Param."""

from __future__ import annotations

from pathlib import Path

import pytest

from di_ops.pipelines.retention.guard import SHOWN_SERIES, guard_text, guard_verdict


def _rows(series: int, per_series: int = 4, pruned: int = 3) -> list[dict[str, object]]:
    return [
        {"customer_id": f"C{s:03d}", "cluster_id": f"C{s:03d}-cucm", "application": "CUCM", "action": action}
        for s in range(series)
        for action in ["prune"] * pruned + ["keep"] * (per_series - pruned)
    ]


def _info(data_dir: Path, run_time: str | None = None) -> dict[str, object]:
    return {
        "run_id": "manual__2026-12-06T02:30:00+00:00",
        "store": "fs:/srv/backups",
        "as_of": "2026-12-06T02:30:00+00:00",
        "run_time": run_time,
        "run_dir": str(data_dir / "retention" / "runs" / "manual__2026-12-06T02_30_00+00_00"),
    }


@pytest.mark.parametrize(("series", "shown"), [(SHOWN_SERIES, None), (SHOWN_SERIES + 1, SHOWN_SERIES), (59, 10)])
def test_a_cut_list_says_how_much_it_shows(series: int, shown: int | None) -> None:
    (reason, *_) = guard_verdict(_rows(series))["reasons"]
    assert reason.count("(3 of 4)") == min(series, SHOWN_SERIES)
    assert (f"(showing {shown} of {series})" in reason) is (shown is not None)


def test_the_body_shows_no_server_path_and_says_when_as_of_was_moved(data_dir: Path) -> None:
    guard = guard_verdict(_rows(59))
    body = guard_text(_info(data_dir, run_time="2026-12-06T05:00:00+00:00"), {"keep": 59, "prune": 177}, guard)
    assert str(data_dir) not in body and "/srv" not in body.replace("fs:/srv/backups", "")
    assert "under `retention/runs/manual__2026-12-06T02_30_00+00_00/`" in body
    assert "[plan.csv](/di-ops/reports/files/retention/manual__2026-12-06T02_30_00%2B00_00/plan.csv)" in body
    assert "[run page](/di-ops/reports/runs/backup_retention/manual__2026-12-06T02%3A30%3A00%2B00%3A00)" in body
    assert "as_of is not the run's own time** (2026-12-06T05:00:00+00:00)" in body
    assert "(showing 10 of 59)" in body
    assert "as_of is not" not in guard_text(_info(data_dir), {"keep": 1}, guard)
