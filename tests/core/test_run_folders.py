"""core.run_folders: every pipeline names a run's folder the same safe way."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from di_ops.core.run_folders import MAX_NAME, run_folder, run_folder_name


@pytest.mark.parametrize(
    ("run_id", "name"),
    [
        ("manual__2026-11-27T02:30:00+00:00", "manual__2026-11-27T02_30_00+00_00"),
        ("scheduled__2026-11-27T02:30:00+00:00", "scheduled__2026-11-27T02_30_00+00_00"),
        ("..", "_."),
        (".hidden", "_hidden"),
        ("a/../../etc", "a_.._.._etc"),
        ("", "run"),
        ("ünïcode run", "_n_code_run"),
    ],
)
def test_names(run_id: str, name: str) -> None:
    assert run_folder_name(run_id) == name


@given(st.text(max_size=300))
def test_always_one_plain_child_of_the_base(run_id: str) -> None:
    base = Path("/data/runs")
    folder = run_folder(base, run_id)
    assert folder.parent == base and folder.name not in {"", ".", ".."}
    assert not folder.name.startswith(".") and len(folder.name) <= MAX_NAME
