"""The tool's own per-run outputs and GX results aged out (``include/config/housekeeping.yaml``).

An entry's age is the age of its newest file (or folder) — a run that still writes into its folder
keeps it young — and nothing touched within ``active_guard_hours`` of the real clock is ever
deleted, whatever ``as_of`` says. Deletion renames the entry into the trash folder, then removes it;
a crash in between leaves it in the trash, which the next real run empties. Every decision goes to
``audit_log`` and to the run's ``decisions.json`` (docs/pipelines/housekeeping.md).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from di_ops.core.run_folders import run_folder
from di_ops.core.settings import under_data_dir
from di_ops.pipelines.housekeeping.audit import AUDIT_DELETE, AUDIT_KEEP, _audit, write_audit_once
from di_ops.pipelines.housekeeping.settings import HousekeepingSettings, housekeeping_settings

log = logging.getLogger(__name__)

DAG_ID = "ops_housekeeping"
DECISIONS = "decisions.json"
SUMMARY = "summary.json"


# --- ages -------------------------------------------------------------------------------------


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def newest_mtime(path: Path) -> tuple[datetime, int]:
    """The newest modification time under ``path`` (folders count too: creating a file touches its
    folder) and the bytes of its regular files. Symlinks are not followed."""
    st = path.lstat()
    newest, size = st.st_mtime, (st.st_size if path.is_file() and not path.is_symlink() else 0)
    if path.is_dir() and not path.is_symlink():
        stack = [str(path)]
        while stack:
            try:
                with os.scandir(stack.pop()) as it:
                    for item in it:
                        try:
                            info = item.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        newest = max(newest, info.st_mtime)
                        if item.is_dir(follow_symlinks=False):
                            stack.append(item.path)
                        elif item.is_file(follow_symlinks=False):
                            size += info.st_size
            except FileNotFoundError:
                continue
    return _utc(newest), size


@dataclass
class Decision:
    """What housekeeping decided about one entry (a run folder, a run file or a GX validation result)."""

    category: str
    path: str
    newest: str
    bytes: int
    action: str  # delete | keep
    reason: str
    companions: list[str] = field(default_factory=list)  # deleted with it (the GX Data Docs page)


def decide(
    *, newest: datetime, as_of: datetime, now: datetime, keep_days: int, active_guard_hours: float
) -> tuple[str, str]:
    """Delete only when the newest file is ``keep_days`` old at ``as_of`` AND idle for the guard on the real clock."""
    idle = now - newest
    if idle < timedelta(hours=active_guard_hours):
        hours = max(idle.total_seconds(), 0) / 3600
        return "keep", f"active: written {hours:.1f} h ago (guard {active_guard_hours:g} h)"
    age = as_of - newest
    if age < timedelta(days=keep_days):
        return "keep", f"younger than {keep_days} days ({age.total_seconds() / 86400:.1f} days)"
    return "delete", f"newest file {age.total_seconds() / 86400:.1f} days old (limit {keep_days} days)"


def _entries(folder: Path, entries: str, pattern: str, keep: Sequence[str]) -> Iterable[Path]:
    if not folder.is_dir():
        return
    for item in sorted(folder.glob(pattern)):
        if item.name.startswith(".") or item.name in keep or item.is_symlink():
            continue
        if (entries == "folders" and item.is_dir()) or (entries == "files" and item.is_file()):
            yield item


def _gx_units(validations: Path) -> Iterable[Path]:
    """``<suite>/<run name>/<run time>`` folders of a GX validations store (dot-files such as
    ``.ge_store_backend_id`` are GX's own and never touched)."""
    if not validations.is_dir():
        return
    for suite in sorted(p for p in validations.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for run_name in sorted(p for p in suite.iterdir() if p.is_dir() and not p.name.startswith(".")):
            yield from sorted(p for p in run_name.iterdir() if p.is_dir() and not p.name.startswith("."))


def plan_outputs(settings: HousekeepingSettings, *, as_of: datetime, now: datetime) -> list[Decision]:
    """Every per-run output and GX validation result with its decision (nothing is changed)."""
    guard = settings.active_guard_hours
    out: list[Decision] = []
    for category, rule in settings.folders.items():
        for item in _entries(under_data_dir(rule.path), rule.entries, rule.pattern, rule.keep):
            newest, size = newest_mtime(item)
            action, reason = decide(
                newest=newest, as_of=as_of, now=now, keep_days=rule.keep_days, active_guard_hours=guard
            )
            out.append(Decision(category, str(item), newest.isoformat(), size, action, reason))
    for name, store in settings.gx_stores.items():
        validations = under_data_dir(store.validations)
        site = under_data_dir(store.site) / "validations" if store.site else None
        for unit in _gx_units(validations):
            newest, size = newest_mtime(unit)
            page = site / unit.relative_to(validations) if site is not None else None
            if page is not None and page.exists():
                page_newest, page_size = newest_mtime(page)
                newest, size = max(newest, page_newest), size + page_size
            action, reason = decide(
                newest=newest, as_of=as_of, now=now, keep_days=store.keep_days, active_guard_hours=guard
            )
            companions = [str(page)] if page is not None else []
            out.append(Decision(f"gx_{name}", str(unit), newest.isoformat(), size, action, reason, companions))
    return out


# --- crash-safe deletion -------------------------------------------------------------------------


def _remove(path: Path) -> None:
    """Remove a file or folder; already gone is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=_ignore_missing)
    else:
        path.unlink(missing_ok=True)


def _ignore_missing(func: Any, path: str, exc_info: Any) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def trash_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "~", str(path).strip("/"))[-200:]


def delete_entry(path: Path, trash: Path) -> str:
    """Rename ``path`` into ``trash`` (atomic on one file system), then remove it.

    ``gone`` when it was already absent (a rerun after a crash), else ``deleted``. On another file
    system the rename is impossible and the entry is removed in place (rmtree tolerates a partial state).
    """
    if not os.path.lexists(path):
        return "gone"
    trash.mkdir(parents=True, exist_ok=True)
    target = trash / trash_name(path)
    if os.path.lexists(target):  # left by an earlier crash: it was decided then
        _remove(target)
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return "gone"
    except OSError:  # EXDEV: the entry lives on another file system than the trash
        _remove(path)
        return "deleted"
    _remove(target)
    return "deleted"


def empty_trash(trash: Path) -> list[str]:
    """Finish deletions a crash left in the trash (every entry there was already decided)."""
    if not trash.is_dir():
        return []
    left = sorted(trash.iterdir())
    for item in left:
        _remove(item)
    return [item.name for item in left]


def _prune_empty_parents(path: Path, stop: Path) -> None:
    """Remove now-empty GX folders (``<suite>/<run name>``) up to, not including, ``stop``."""
    parent = path.parent
    while parent != stop and stop in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def _keep_summaries(dag_id: str, run_id: str, at: datetime, decisions: Sequence[Decision], dry_run: bool) -> list:
    by_category: dict[str, Counter[str]] = {}
    for d in decisions:
        counter = by_category.setdefault(d.category, Counter())
        if d.action == "keep":
            counter[d.reason.split(":")[0] if d.reason.startswith("active") else "younger than the limit"] += 1
    return [
        _audit(dag_id, run_id, at, f"outputs:{category}", AUDIT_KEEP, {"kept": dict(counts), "dry_run": dry_run})
        for category, counts in sorted(by_category.items())
    ]


# --- the outputs task ------------------------------------------------------------------------------


def run_dir(run_id: str, settings: HousekeepingSettings | None = None) -> Path:
    settings = settings or housekeeping_settings()
    return run_folder(settings.reports_dir(), run_id)


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def prune_outputs(
    engine: Engine,
    *,
    dag_id: str,
    run_id: str,
    as_of: datetime,
    now: datetime,
    dry_run: bool,
    settings: HousekeepingSettings | None = None,
) -> dict[str, Any]:
    """Decide about every output, write the decisions (file + audit) first, then delete (not on a dry run)."""
    settings = settings or housekeeping_settings()
    trash = settings.trash_dir()
    finished = [] if dry_run else empty_trash(trash)
    decisions = plan_outputs(settings, as_of=as_of, now=now)
    folder = run_dir(run_id, settings)
    _write_json(
        folder / DECISIONS,
        {"as_of": as_of.isoformat(), "dry_run": dry_run, "decisions": [asdict(d) for d in decisions]},
    )
    doomed = [d for d in decisions if d.action == "delete"]
    write_audit_once(
        engine,
        [
            _audit(
                dag_id,
                run_id,
                now,
                d.path,
                AUDIT_DELETE,
                {"category": d.category, "bytes": d.bytes, "newest": d.newest, "reason": d.reason, "dry_run": dry_run},
            )
            for d in doomed
        ]
        + _keep_summaries(dag_id, run_id, now, decisions, dry_run),
    )
    outcomes: Counter[str] = Counter()
    if not dry_run:
        for d in doomed:
            outcomes[delete_entry(Path(d.path), trash)] += 1
            for companion in d.companions:  # the Data Docs page after its validation result
                delete_entry(Path(companion), trash)
            if d.category.startswith("gx_"):
                store = settings.gx_stores[d.category.removeprefix("gx_")]
                _prune_empty_parents(Path(d.path), under_data_dir(store.validations))
                for companion in d.companions:
                    _prune_empty_parents(Path(companion), under_data_dir(store.site or store.validations))
    per_category: dict[str, dict[str, int]] = {}
    for d in decisions:
        row = per_category.setdefault(d.category, {"delete": 0, "keep": 0, "bytes_freed": 0})
        row[d.action] += 1
        if d.action == "delete":
            row["bytes_freed"] += d.bytes
    summary = {
        "dry_run": dry_run,
        "categories": per_category,
        "deleted": 0 if dry_run else outcomes["deleted"],
        "already_gone": outcomes["gone"],
        "would_delete": len(doomed) if dry_run else 0,
        "bytes_freed": 0 if dry_run else sum(d.bytes for d in doomed),
        "finished_from_trash": finished,
        "decisions_file": str(folder / DECISIONS),
    }
    log.info("outputs: %s", json.dumps(summary, default=str))
    return summary
