"""Demo part of sla_audit: a year of TAC cases for the demo fleet (with a few broken rows), audited once."""

from __future__ import annotations

from pathlib import Path

from include.demo.tac_cases import DEMO_END, write_exports


def prepare(data_dir: Path) -> None:
    write_exports(data_dir / "sla" / "exports", end=DEMO_END)


# as_of pinned to the end of the generated year, so the demo report is the same on every machine.
DEMO_RUNS: list[tuple[str, dict[str, object]]] = [("sla_audit", {"as_of": DEMO_END.isoformat()})]
