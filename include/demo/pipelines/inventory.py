"""Demo part of inventory_sync: the demo fleet's exports, loaded once."""

from __future__ import annotations

from pathlib import Path

from include.demo.fleet import write_fleet


def prepare(data_dir: Path) -> None:
    write_fleet(data_dir / "inventory")


DEMO_RUNS: list[tuple[str, dict[str, object]]] = [("inventory_sync", {})]
