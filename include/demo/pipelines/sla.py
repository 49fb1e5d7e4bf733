"""Demo part of the TAC-case pipeline: a year of TAC cases for the demo fleet (with a few broken rows),
audited once by sla_audit; and a feed that drops a few new cases (some S1/S2) into the export folder
every 2 minutes, so incident_watch (every 5 minutes) sends its proactive notices to .data/outbox/."""

from __future__ import annotations

from pathlib import Path

from include.demo.tac_cases import DEMO_END, write_exports


def prepare(data_dir: Path) -> None:
    write_exports(data_dir / "sla" / "exports", end=DEMO_END)


SERVICES: list[list[str]] = [
    ["python", "-m", "include.demo.case_feed", "--dir", "{data_dir}/sla/exports", "--interval", "120", "--count", "3"],
]

# as_of pinned to the end of the generated year, so the demo report is the same on every machine.
DEMO_RUNS: list[tuple[str, dict[str, object]]] = [("sla_audit", {"as_of": DEMO_END.isoformat()})]
