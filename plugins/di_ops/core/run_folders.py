"""One run folder per DAG run, named the same way by every pipeline.

Airflow run ids may hold ``:`` and ``+`` (``manual__2026-11-27T02:30:00+00:00``) and may even be
``..``: the folder name keeps letters, digits and ``_ . + -``, turns anything else into ``_``, never
starts with a dot (no hidden folder, no ``..``) and is at most 200 characters long.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.+-]")
MAX_NAME: Final = 200


def run_folder_name(run_id: str) -> str:
    """The file-system-safe folder name of ``run_id`` (see the module docstring)."""
    name = UNSAFE.sub("_", run_id)[:MAX_NAME]
    if not name:
        return "run"
    return "_" + name[1:] if name.startswith(".") else name


def run_folder(base: Path, run_id: str) -> Path:
    """``base / run_folder_name(run_id)``: always a direct child of ``base``."""
    return base / run_folder_name(run_id)
