"""A small hand-made backup store whose expected outcome is written out by hand (DOMAIN.md §3)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from di_ops.pipelines.retention import tasks as rp
from include.demo.backups import write_backup

AS_OF = datetime.fromisoformat("2026-11-27T02:30:00+00:00")
DAG_ID = "backup_retention"


def night(n: float) -> datetime:
    return AS_OF - timedelta(days=n)


def fs_connection(root: Path) -> str:
    return json.dumps({"conn_type": "fs", "extra": {"path": str(root)}})


def build_store(root: Path) -> dict[str, set[str]]:
    """Write the store; returns series path → the backup folders that must remain after a real run."""
    expected: dict[str, set[str]] = {}

    def add(customer: str, app: str, n: float, *, keep: bool, **kwargs) -> None:  # type: ignore[no-untyped-def]
        cluster = f"{customer}-{app.lower()}"
        backup_id = kwargs.pop("backup_id", f"{cluster}-n{n:g}")
        folder = write_backup(
            root, customer, cluster, app, night(n), backup_id=backup_id, files=(("a.enc", 300), ("a.ini", 20)), **kwargs
        )
        series = f"{customer}/{cluster}/{app}"
        expected.setdefault(series, set())
        if keep:
            expected[series].add(folder.name)

    # A: 40 nightly good backups -> the ones at most 33 days old remain (33.0 exactly is kept).
    for n in range(1, 41):
        add("C001", "CUCM", n, keep=n <= 33)
    # B: 5 old good backups + failed ones -> 3 most recent good remain; failed kept while <= 3 days.
    for n in (50, 51, 52):
        add("C001", "IMP", n, keep=True)
    for n in (53, 54):
        add("C001", "IMP", n, keep=False)
    add("C001", "IMP", 1, keep=True, status="FAILED")
    add("C001", "IMP", 2.9, keep=True, status="PARTIAL")
    add("C001", "IMP", 10, keep=False, status="FAILED")
    # C: a corrupt manifest holds the whole series (its old backups are not pruned).
    add("C002", "CUCM", 1, keep=True, manifest_text="{not json")
    for n in (2, 40, 41, 42, 43):
        add("C002", "CUCM", n, keep=True)
    # D: truncated files make a backup not good; a good old one beyond the 3 most recent goes.
    add("C002", "IMP", 1, keep=True, truncate="a.enc")
    add("C002", "IMP", 2, keep=True, truncate="a.enc")
    for n in (3, 35, 36):
        add("C002", "IMP", n, keep=True)
    add("C002", "IMP", 37, keep=False)
    add("C002", "IMP", 38, keep=False, truncate="a.enc")  # not good and old
    # E: a future-dated backup holds the series.
    add("C003", "CER", -1, keep=True)
    for n in (1, 50, 60):
        add("C003", "CER", n, keep=True)
    # F: a status outside the allowed set fails the data-quality gate -> series held.
    add("C003", "IMP", 1, keep=True, status="WEIRD")
    for n in (2, 45, 46, 47):
        add("C003", "IMP", n, keep=True)
    return expected


def remaining(root: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for manifest_dir in sorted(p for p in root.glob("*/*/*/*") if p.is_dir()):
        series = "/".join(manifest_dir.relative_to(root).parts[:3])
        out.setdefault(series, set()).add(manifest_dir.name)
    return out


def plan_run(
    run_id: str,
    *,
    dry_run: bool = False,
    customers: list[str] | None = None,
    as_of: datetime = AS_OF,
    clock: Callable[[], datetime] = rp.real_clock,
) -> str:
    """Steps 0-3 as the DAG runs them, with the plain-Python quality checks in place of the GX gate;
    ``clock`` is the real clock the plan step judges the retention invariant by."""
    info = rp.prepare_run(
        dag_id=DAG_ID,
        run_id=run_id,
        as_of_param=as_of.isoformat(),
        logical_date=None,
        run_after=datetime.now(UTC),
        customers_param=customers,
        verify_checksums=False,
        dry_run=dry_run,
        started_at=datetime.now(UTC),
    )
    for batch in info["batches"]:
        rp.scan_batch(info["run_dir"], batch, False)
    records = rp.load_catalog(info["run_dir"])
    failures = rp.basic_checks(records, as_of)
    quality = {"success": not failures, "failures": failures, "held": rp.held_series(failures, records)}
    (Path(info["run_dir"]) / "quality.json").write_text(json.dumps(quality))
    rp.plan_retention(info["run_dir"], clock=clock)
    return str(info["run_dir"])


@pytest.fixture
def retention_env(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, set[str]]]]:
    """The hand-made store under ``tmp_path/backups``, its connection and a fresh ops DB."""
    from di_ops.pipelines.retention.delete import CRASH_ENV
    from di_ops.pipelines.retention.settings import retention_settings

    root = tmp_path / "backups"
    expected = build_store(root)
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(root))
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    monkeypatch.delenv(CRASH_ENV, raising=False)
    retention_settings.cache_clear()
    yield root, expected
    retention_settings.cache_clear()


def add_guarded_series(root: Path) -> None:
    """A series whose every backup failed 5-8 nights before AS_OF: the plan prunes all of it, the guard trips."""
    for n in range(5, 9):
        write_backup(root, "C004", "C004-cer", "CER", night(n), status="FAILED")
