"""Crash-safe deletion and the verification after it (``backup_retention`` steps 5 and 6).

Deleting one backup: rename its folder to a tombstone name (atomic, same folder) → record it in
``retention_deletions`` → remove the tombstone → mark it removed. A crash between any two steps
leaves either the live folder, or a tombstone (recorded or not); the scan lists tombstones as the
backup they were, so a retry of the task, or the next run, finishes the deletion when the plan
prunes that backup and renames it back when the plan keeps it. Nothing the plan keeps is removed.

Crash injection for tests: ``DI_OPS_RETENTION_CRASH_AFTER=<step>:<k>`` (step ``rename``, ``record``
or ``remove``) raises :class:`CrashInjected` right after the k-th such step of one delete call.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from di_ops.adapters.backup_store import BackupStore, scan
from di_ops.adapters.opsdb import ops_engine, write_audit
from di_ops.pipelines.retention import _fail, approver_of, cfg, open_store, read_json, write_json
from di_ops.settings import policy

log = logging.getLogger(__name__)

CRASH_ENV = "DI_OPS_RETENTION_CRASH_AFTER"
AUDIT_PRUNE = "retention.prune"
AUDIT_RESTORE = "retention.restore"
AUDIT_RUN = "retention.run"


class CrashInjected(RuntimeError):
    """Raised by the crash-injection hook (tests only)."""


class _CrashHook:
    def __init__(self) -> None:
        spec = os.environ.get(CRASH_ENV, "")
        step, _, count = spec.partition(":")
        self.step = step or None
        self.after = int(count or 1)
        self.seen: Counter[str] = Counter()

    def __call__(self, step: str) -> None:
        self.seen[step] += 1
        if step == self.step and self.seen[step] == self.after:
            raise CrashInjected(f"crash injected after {step} #{self.after}")


def _tombstone(path: str) -> str:
    parent, _, folder = path.rpartition("/")
    return f"{parent}/{cfg().tombstone_prefix}{folder}"


def _record(engine: Engine, dag_id: str, run_id: str, path: str) -> dict[str, Any] | None:
    from di_ops.db.tables_retention import retention_deletions as t

    with engine.connect() as conn:
        row = (
            conn.execute(select(t).where(t.c.dag_id == dag_id, t.c.run_id == run_id, t.c.path == path))
            .mappings()
            .first()
        )
    return dict(row) if row else None


def _upsert(engine: Engine, dag_id: str, run_id: str, path: str, **values: Any) -> None:
    from di_ops.db.tables_retention import retention_deletions as t

    with engine.begin() as conn:
        where = (t.c.dag_id == dag_id, t.c.run_id == run_id, t.c.path == path)
        if conn.execute(select(t.c.path).where(*where)).first():
            conn.execute(update(t).where(*where).values(**values))
        else:
            conn.execute(insert(t).values(dag_id=dag_id, run_id=run_id, path=path, **values))


def audit_exists(engine: Engine, dag_id: str, run_id: str, action: str) -> bool:
    """Whether this run already wrote its audit entries (they are written once, in one transaction)."""
    from di_ops.db.schema import audit_log as a

    with engine.connect() as conn:
        found = conn.execute(
            select(a.c.id).where(a.c.dag_id == dag_id, a.c.run_id == run_id, a.c.action == action).limit(1)
        ).first()
    return found is not None


def _manifest_id(store: BackupStore, folder: str) -> str | None:
    import json

    try:
        data = json.loads(store.read_bytes(f"{folder}/manifest.json"))
    except (FileNotFoundError, ValueError):
        return None
    return data.get("backup_id") if isinstance(data, dict) else None


def delete_one(
    store: BackupStore,
    engine: Engine,
    *,
    dag_id: str,
    run_id: str,
    row: Mapping[str, Any],
    crash: Callable[[str], None],
    now: Callable[[], datetime],
) -> dict[str, Any]:
    """Rename → record → remove one planned prune; idempotent and resumable at every step."""
    path = row["path"]
    tomb = _tombstone(path)
    done = _record(engine, dag_id, run_id, path)
    if done and done["state"] in {"removed", "gone"}:
        return done
    if store.exists(path) and not store.exists(tomb):
        if _manifest_id(store, path) != row.get("backup_id"):  # the plan only prunes readable manifests
            log.warning("%s changed since the plan (manifest unreadable or another backup id); not deleted", path)
            return {"path": path, "state": "changed", "bytes_freed": 0}
        store.rename(path, tomb)
        crash("rename")
    if store.exists(tomb):
        if not done:
            size = store.tree_size(tomb)
            _upsert(
                engine, dag_id, run_id, path, backup_id=row.get("backup_id"), state="tombstoned",
                bytes_freed=size, tombstoned_at=now(),
            )  # fmt: skip
            crash("record")
        store.remove_tree(tomb)
        crash("remove")
        _upsert(engine, dag_id, run_id, path, state="removed", finished_at=now())
    elif done:  # removed before a crash, not yet marked
        _upsert(engine, dag_id, run_id, path, state="removed", finished_at=now())
    else:  # already gone before this run touched it: fine (idempotent)
        _upsert(
            engine, dag_id, run_id, path, backup_id=row.get("backup_id"), state="gone", bytes_freed=0, finished_at=now()
        )
    result = _record(engine, dag_id, run_id, path)
    assert result is not None
    return result


def deletion_targets(folder: Path, plan: Mapping[str, Any], dry_run: bool) -> tuple[list[dict[str, Any]], str]:
    """The plan rows this run may delete, and why (guarded runs need approved.json)."""
    prunes = [row for row in plan["backups"] if row["action"] == "prune"]
    if dry_run:
        return [], f"dry run: {len(prunes)} backups would be pruned, nothing deleted"
    if plan["guard"]["tripped"]:
        approved_file = folder / "approved.json"
        if not approved_file.exists():
            return [], "the blast-radius guard tripped and the run was not approved: nothing deleted"
        allowed = set(read_json(approved_file)["delete"])
        return [row for row in prunes if row["path"] in allowed], "approved after a fresh re-scan"
    return prunes, "below the blast-radius guard: unattended"


def delete_pruned(run_dir: str, dry_run: bool) -> dict[str, Any]:
    """Delete the planned prunes crash-safely; restore tombstones of backups the plan keeps."""
    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    plan = read_json(folder / "plan.json")
    targets, why = deletion_targets(folder, plan, dry_run)
    log.info("%s", why)
    if dry_run:
        return {"deleted": 0, "why": why}
    engine = ops_engine()
    crash = _CrashHook()

    def now() -> datetime:
        return datetime.now(UTC)

    results: Counter[str] = Counter()
    freed = 0
    with open_store() as store:
        for row in plan["backups"]:  # a tombstone of a backup the plan keeps goes back
            if row["tombstoned"] and row["action"] != "prune":
                tomb = _tombstone(row["path"])
                if store.exists(tomb) and not store.exists(row["path"]):
                    store.rename(tomb, row["path"])
                    _upsert(
                        engine, info["dag_id"], info["run_id"], row["path"], backup_id=row["backup_id"],
                        state="restored", bytes_freed=0, finished_at=now(),
                    )  # fmt: skip
                    results["restored"] += 1
        for row in targets:
            outcome = delete_one(
                store, engine, dag_id=info["dag_id"], run_id=info["run_id"], row=row, crash=crash, now=now
            )
            results[outcome["state"]] += 1
            freed += int(outcome.get("bytes_freed") or 0)
    log.info("deletion: %s, %d bytes freed", dict(results), freed)
    return {"why": why, **dict(results), "bytes_freed": freed}


# --- 6. verify ----------------------------------------------------------------------------


def verify_and_report(run_dir: str, dry_run: bool, approval: Mapping[str, Any] | None) -> dict[str, Any]:
    """Re-scan; every series keeps min(3, good before) good backups and every kept backup is still there;
    write the audit log (once per run) and summary.json. A violation fails the task (no retry fixes it)."""
    from di_ops.db.tables_retention import retention_deletions as t

    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    plan = read_json(folder / "plan.json")
    with open_store() as store:
        after = scan(store, info["customers"], tombstone_prefix=cfg().tombstone_prefix, threads=cfg().scan_threads)
    rules = policy().retention
    live = {r.path: r for r in after if not r.tombstoned}
    good_before: Counter[str] = Counter()
    for row in plan["backups"]:
        good_before[f"{row['customer_id']}/{row['cluster_id']}/{row['application']}"] += bool(row["good"])
    good_after: Counter[str] = Counter()
    for r in live.values():
        good_after["/".join(r.series)] += bool(not r.error and r.status in rules.good_statuses and r.intact)
    short = {
        series: {"good_before": before, "good_after": good_after[series]}
        for series, before in good_before.items()
        if good_after[series] < min(rules.keep_latest_good, before)
    }
    kept_missing = [row["path"] for row in plan["backups"] if row["action"] != "prune" and row["path"] not in live]
    engine = ops_engine()
    with engine.connect() as conn:
        deletions = [
            dict(r)
            for r in conn.execute(
                select(t).where(t.c.dag_id == info["dag_id"], t.c.run_id == info["run_id"])
            ).mappings()
        ]
    by_path = {row["path"]: row for row in plan["backups"]}
    approved = read_json(folder / "approved.json") if (folder / "approved.json").exists() else None
    actor = approver_of(approval) or (approved or {}).get("approver")
    pruned_left = [row["path"] for row in plan["backups"] if row["action"] == "prune" and row["path"] in live]
    summary = {
        "run_id": info["run_id"],
        "as_of": info["as_of"],
        "store": info["store"],
        "dry_run": dry_run,
        "plan": plan["counts"],
        "guard": plan["guard"],
        "approval": {
            "required": bool(plan["guard"]["tripped"] and not dry_run),
            "approver": actor,
            "chosen_options": (approval or {}).get("chosen_options"),
            # nobody answered within guard.approval_timeout_hours: the default Reject applied
            "timed_out": bool((approval or {}).get("timed_out")),
        },
        "deleted": sum(d["state"] == "removed" for d in deletions),
        "already_gone": sum(d["state"] == "gone" for d in deletions),
        "restored": sum(d["state"] == "restored" for d in deletions),
        "bytes_freed": sum(int(d["bytes_freed"] or 0) for d in deletions if d["state"] == "removed"),
        "planned_prunes_still_present": len(pruned_left),
        "series_below_floor": short,
        "kept_backups_missing": kept_missing,
        "held_series": plan["held_series"],
        "requested_not_in_store": info["requested_not_in_store"],
        "in_inventory_without_backups": info["in_inventory_without_backups"],
        "in_store_not_in_inventory": info["in_store_not_in_inventory"],
        "verified": not short and not kept_missing,
    }
    write_json(folder / "summary.json", summary)
    if not audit_exists(engine, info["dag_id"], info["run_id"], AUDIT_RUN):
        at = datetime.now(UTC)
        entries = [
            {
                "at": at,
                "dag_id": info["dag_id"],
                "run_id": info["run_id"],
                "entity": d["path"],
                "action": AUDIT_PRUNE if d["state"] in {"removed", "gone"} else AUDIT_RESTORE,
                "detail": {
                    "backup_id": d["backup_id"],
                    "state": d["state"],
                    "bytes_freed": int(d["bytes_freed"] or 0),
                    "reasons": by_path.get(d["path"], {}).get("reasons", []),
                },
                "actor": actor,
            }
            for d in deletions
        ]
        entries.append(
            {
                "at": at,
                "dag_id": info["dag_id"],
                "run_id": info["run_id"],
                "entity": info["store"],
                "action": AUDIT_RUN,
                "detail": {k: summary[k] for k in ("plan", "deleted", "bytes_freed", "dry_run", "approval", "verified")}
                | {"guard_tripped": plan["guard"]["tripped"]},
                "actor": actor,
            }
        )
        write_audit(engine, entries)
    if short or kept_missing:
        raise _fail(f"verification failed: series below the floor {short}; kept backups missing {kept_missing[:10]}")
    log.info("verified: %s", {k: summary[k] for k in ("plan", "deleted", "bytes_freed", "approval")})
    return summary
