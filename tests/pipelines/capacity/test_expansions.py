"""The expansions file (docs/pipelines/capacity.md): good rows read, bad rows reported and never used."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from di_ops.pipelines.capacity.expansions import read_expansions

HEADER = "customer_id,knowledge_workers,workspace_devices,approved_by,approved_at,change_reference\n"


def test_good_rows_are_read_and_bad_rows_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "expansions.csv"
    path.write_text(
        HEADER
        + "C1,,260,Board,2026-11-02T10:00:00Z,TAC-1\n"  # line 2: devices only
        + "C2,500,600,Board,2026-11-02T11:00:00+01:00,TAC-2\n"  # line 3: both
        + "C1,,300,Board,2026-11-02 10:00,TAC-3\n"  # line 4: no zone
        + "C1,,,Board,2026-11-02T10:00:00Z,TAC-4\n"  # line 5: no number
        + "C1,,-5,Board,2026-11-02T10:00:00Z,TAC-5\n"  # line 6: negative
        + "C1,,300,,2026-11-02T10:00:00Z,TAC-6\n"  # line 7: no approver
        + "C9,,300,Board,2026-11-02T10:00:00Z,TAC-7\n"  # line 8: unknown customer
        + "C1,,300,Board,2026-11-02T10:00:00Z,\n"  # line 9: no change reference
    )
    expansions, problems = read_expansions(path, ["C1", "C2"])
    assert [(e.customer_id, e.knowledge_workers, e.workspace_devices, e.change_reference) for e in expansions] == [
        ("C1", None, 260, "TAC-1"),
        ("C2", 500, 600, "TAC-2"),
    ]
    assert expansions[1].approved_at == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    reasons = {p["line"]: p["reason"] for p in problems}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9]
    assert "zone" in reasons[4]
    assert reasons[5] == "neither knowledge_workers nor workspace_devices is given"
    assert "whole number" in reasons[6]
    assert reasons[7] == "approved_by is empty"
    assert reasons[8] == "unknown customer 'C9'"
    assert reasons[9] == "change_reference is empty"


def test_a_missing_file_means_none_and_a_missing_column_is_reported(tmp_path: Path) -> None:
    assert read_expansions(tmp_path / "absent.csv", ["C1"]) == ([], [])
    path = tmp_path / "expansions.csv"
    path.write_text("customer_id,workspace_devices\nC1,300\n")
    expansions, [problem] = read_expansions(path, ["C1"])
    assert expansions == [] and "missing columns" in problem["reason"] and "approved_by" in problem["reason"]
