"""Demo part of backup_retention: a generated backup store (fs) with 42 nights of backups.

The store holds FAILED and PARTIAL backups, a truncated archive, a corrupt manifest and a
future-dated backup (include/demo/backups.py); the demo run plans, deletes and verifies once.
"""

from __future__ import annotations

from pathlib import Path

from include.demo.backups import DEFAULT_AS_OF, write_backup_store

ENV: dict[str, str] = {
    "AIRFLOW_CONN_DI_BACKUP_STORE": '{"conn_type": "fs", "extra": {"path": "{data_dir}/backups"}}',
}


def prepare(data_dir: Path) -> None:
    root = data_dir / "backups"
    if not root.exists():  # a second `make demo` keeps what the first run pruned
        write_backup_store(root, as_of=DEFAULT_AS_OF, nights=42)


# backup_health checks the same store for the same night (its anomalies: a missed night, an overdue series, a
# Unity Connection backup without voicemail, a corrupt archive); a run at 11:00 UTC would see AMER a night late
DEMO_RUNS: list[tuple[str, dict[str, object]]] = [
    ("backup_retention", {"as_of": DEFAULT_AS_OF.isoformat()}),
    ("backup_health", {"as_of": DEFAULT_AS_OF.isoformat()}),
]
