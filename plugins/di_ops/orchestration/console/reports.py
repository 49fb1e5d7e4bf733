"""The reports hub: every pipeline's run reports in one list, and one page per DAG run.

Where each pipeline keeps its run outputs is the pipeline's own setting (read here, in the
orchestration layer, which may import every pipeline): a folder per run named by
``core.run_folders`` (retention, SLA, upgrades, housekeeping, incident watch) or one JSON file per
run (COP). Certificate runs write no file: their page is drawn from the ops DB (plans and window
reports). Light at import: the pipelines' settings are read inside the functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

# files of a run folder that are working copies, never shown (the SLA audit's hand-off)
WORKING_SUFFIXES = frozenset({".parquet", ".pkl", ".tmp", ".part"})
WORKING_DIRS = frozenset({"catalog"})  # the retention scan's batches
# files a run's page shows first, in this order, when present
MAIN_FILES = ("report.html", "upgrades.html", "summary.json", "plan.csv", "assessment.json", "run.json")
MAX_FILES = 200


@dataclass(frozen=True)
class Source:
    pipeline: str
    dag_ids: tuple[str, ...]  # whose read permission shows these reports; the first is the default
    base: Callable[[], Path]
    per_run: str  # "folder" | "file"
    not_runs: frozenset[str] = frozenset()  # entries of the folder that are not a run's


def _retention() -> Path:
    from di_ops.core.settings import under_data_dir
    from di_ops.pipelines.retention.settings import retention_settings

    return under_data_dir(retention_settings().reports_folder)


def _sla() -> Path:
    from di_ops.pipelines.sla.settings import reports_dir

    return reports_dir()


def _upgrades() -> Path:
    from di_ops.pipelines.upgrades.settings import upgrade_settings

    return upgrade_settings().path("reports_folder")


def _cop() -> Path:
    from di_ops.pipelines.cop.settings import cop_settings

    settings = cop_settings()
    return settings.folder(settings.reports)


def _incident_watch() -> Path:
    from di_ops.pipelines.sla.settings import watch_reports_dir

    return watch_reports_dir()


def _capacity() -> Path:
    from di_ops.pipelines.capacity.settings import capacity_settings

    return capacity_settings().path("reports_folder")


def _inventory() -> Path:
    from di_ops.pipelines.inventory.settings import inventory_settings

    return inventory_settings().path("reports_folder")


def _backup_health() -> Path:
    from di_ops.core.settings import under_data_dir
    from di_ops.pipelines.backup_health.settings import backup_health_settings

    return under_data_dir(backup_health_settings().reports_folder)


def _housekeeping() -> Path:
    from di_ops.pipelines.housekeeping.settings import housekeeping_settings

    return housekeeping_settings().reports_dir()


SOURCES: tuple[Source, ...] = (
    Source("retention", ("backup_retention",), _retention, "folder"),
    Source("backup_health", ("backup_health",), _backup_health, "folder"),
    Source("sla", ("sla_audit",), _sla, "folder"),
    Source("incidents", ("incident_watch",), _incident_watch, "folder"),
    Source("upgrades", ("upgrade_eligibility", "upgrade_emergency_check"), _upgrades, "folder"),
    Source("cop", ("cop_upload",), _cop, "file"),
    Source("housekeeping", ("ops_housekeeping",), _housekeeping, "folder"),
    Source("capacity", ("capacity_audit",), _capacity, "folder"),
    Source("inventory", ("inventory_sync",), _inventory, "folder", frozenset({"snapshots"})),
)
CERTIFICATE_DAGS = ("certificate_sweep",)  # plus certificate_renewal_<region>
PIPELINES = tuple(s.pipeline for s in SOURCES) + ("certificates",)


def source(pipeline: str) -> Source | None:
    return next((s for s in SOURCES if s.pipeline == pipeline), None)


def source_of_dag(dag_id: str) -> Source | None:
    return next((s for s in SOURCES if dag_id in s.dag_ids), None)


@dataclass(frozen=True)
class Report:
    pipeline: str
    dag_id: str
    run_id: str
    folder: str  # the run folder's name (per_run "file": the file's name)
    when: datetime  # the run's as_of when its files say, else the newest file's time
    main: str | None  # the file shown first (a path inside the folder)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        if path.is_file() and path.stat().st_size <= 4 * 1024 * 1024:
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        pass
    return {}


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _folder_report(src: Source, folder: Path) -> Report:
    meta: dict[str, Any] = {}
    for name in ("summary.json", "run.json", "assessment.json"):
        meta = _read_json(folder / name)
        if meta.get("run_id"):
            break
    main = next((name for name in MAIN_FILES if (folder / name).is_file()), None)
    when = _instant(meta.get("as_of")) or datetime.fromtimestamp(folder.stat().st_mtime, UTC)
    return Report(
        pipeline=src.pipeline,
        dag_id=str(meta.get("dag_id") or src.dag_ids[0]),
        run_id=str(meta.get("run_id") or folder.name),
        folder=folder.name,
        when=when,
        main=main,
    )


def _file_report(src: Source, file: Path) -> Report:
    meta = _read_json(file)
    when = _instant(meta.get("as_of")) or datetime.fromtimestamp(file.stat().st_mtime, UTC)
    return Report(
        pipeline=src.pipeline,
        dag_id=str(meta.get("dag_id") or src.dag_ids[0]),
        run_id=str(meta.get("run_id") or file.stem),
        folder=file.name,
        when=when,
        main=None,
    )


def file_reports(src: Source) -> list[Report]:
    """Every run report of ``src`` on disk (hidden entries and anything but folders/JSON files skipped)."""
    base = src.base()
    if not base.is_dir():
        return []
    found = []
    for entry in base.iterdir():
        if entry.name.startswith((".", "_")) or entry.name in src.not_runs or entry.is_symlink():
            continue
        if src.per_run == "folder" and entry.is_dir():
            found.append(_folder_report(src, entry))
        elif src.per_run == "file" and entry.is_file() and entry.suffix == ".json":
            found.append(_file_report(src, entry))
    return found


def certificate_reports(engine: Any) -> list[Report]:
    """One entry per certificate sweep (observations) and per renewal window run (window report)."""
    from sqlalchemy import func, select

    from di_ops.db import schema
    from di_ops.db.tables_certificates import certificate_observations as obs
    from di_ops.orchestration.console.changes import aware

    audit = schema.audit_log
    with engine.connect() as conn:
        sweeps = conn.execute(
            select(obs.c.dag_id, obs.c.run_id, func.max(obs.c.observed_at)).group_by(obs.c.dag_id, obs.c.run_id)
        ).all()
        windows = conn.execute(
            select(audit.c.dag_id, audit.c.run_id, func.max(audit.c.at))
            .where(audit.c.action == "certificates.window_report")
            .group_by(audit.c.dag_id, audit.c.run_id)
        ).all()
    return [
        Report("certificates", dag_id, run_id, "", aware(when) or datetime.min.replace(tzinfo=UTC), None)
        for dag_id, run_id, when in [*sweeps, *windows]
    ]


def select_reports(
    reports: Iterable[Report],
    *,
    readable: Callable[[str], bool],
    pipeline: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[Report]:
    """The reports the user may read, of ``pipeline`` (all when None), whose day (UTC) is in
    [since, until], newest first."""
    kept = [
        r
        for r in reports
        if readable(r.dag_id)
        and (pipeline is None or r.pipeline == pipeline)
        and (since is None or r.when.astimezone(UTC).date() >= since)
        and (until is None or r.when.astimezone(UTC).date() <= until)
    ]
    return sorted(kept, key=lambda r: (r.when, r.run_id), reverse=True)


def run_files(src: Source, folder: str) -> list[str]:
    """The files of one run folder a reader may open (relative paths, main ones first)."""
    root = src.base() / folder
    if src.per_run == "file" or not root.is_dir():
        return []
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (
            path.is_symlink()
            or not path.is_file()
            or path.suffix.lower() in WORKING_SUFFIXES
            or any(part.startswith(".") or part in WORKING_DIRS for part in rel.parts)
        ):
            continue
        files.append(rel.as_posix())
        if len(files) >= MAX_FILES:
            break
    first = [name for name in MAIN_FILES if name in files]
    return first + [f for f in files if f not in first]


def find_run(dag_id: str, run_id: str) -> tuple[Source, str] | None:
    """The run folder (or file) of ``run_id`` of ``dag_id``, when its pipeline wrote one."""
    from di_ops.core.run_folders import run_folder_name

    src = source_of_dag(dag_id)
    if src is None:
        return None
    name = run_folder_name(run_id) + (".json" if src.per_run == "file" else "")
    path = src.base() / name
    exists = path.is_file() if src.per_run == "file" else path.is_dir()
    return (src, name) if exists and not path.is_symlink() else None


def report_file(src: Source, rest: str) -> Path | None:
    """The file ``rest`` names under ``src``'s folder when a reader may open it: inside the folder,
    no link or hidden part on the way, not a working file; None otherwise."""
    base = src.base().resolve()
    parts = Path(rest).parts
    if not parts or any(p in {"", ".", ".."} or p.startswith(".") or p in WORKING_DIRS for p in parts):
        return None
    if len(parts) != 1 if src.per_run == "file" else len(parts) < 2:  # a run's file, never one beside the runs
        return None
    path = base
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    if not path.is_file() or path.suffix.lower() in WORKING_SUFFIXES or not path.resolve().is_relative_to(base):
        return None
    return path


def summary_of(src: Source, name: str) -> dict[str, Any]:
    """The run's summary: ``summary.json`` of its folder, or the per-run JSON file itself."""
    path = src.base() / name
    return _read_json(path if src.per_run == "file" else path / "summary.json")
