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

from di_ops.core.refusals import permanent_failure
from di_ops.core.settings import backup_store, policy
from di_ops.integrations.backup_store import BackupStore
from di_ops.integrations.opsdb import ops_engine, write_audit
from di_ops.pipelines.retention.approval import (
    REJECTED,
    approval_decision,
    approval_outcome,
    approver_of,
    outcome_text,
    rejection_text,
)
from di_ops.pipelines.retention.plan import good_ranks, invariant_verdict
from di_ops.pipelines.retention.tasks import open_store, read_json, real_clock, scan_store, write_json
from di_ops.rules.retention import DeletionVerdict

log = logging.getLogger(__name__)

CRASH_ENV = "DI_OPS_RETENTION_CRASH_AFTER"
AUDIT_PRUNE = "retention.prune"
AUDIT_RESTORE = "retention.restore"
AUDIT_RUN = "retention.run"
AUDIT_REFUSE = "retention.refuse"


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
    return f"{parent}/{backup_store().tombstone_prefix}{folder}"


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


def _manifest(store: BackupStore, folder: str) -> dict[str, Any]:
    """The folder's manifest as it is now; {} when missing or unreadable."""
    import json

    try:
        data = json.loads(store.read_bytes(f"{folder}/manifest.json"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def delete_one(
    store: BackupStore,
    engine: Engine,
    *,
    dag_id: str,
    run_id: str,
    row: Mapping[str, Any],
    crash: Callable[[str], None],
    now: Callable[[], datetime],
    verdict: Callable[[Mapping[str, Any], str | None], DeletionVerdict],
) -> dict[str, Any]:
    """Rename → record → remove one planned prune; idempotent and resumable at every step.

    Right before the rename (or the removal of a tombstone left by a crash) ``verdict`` judges the
    row against the retention invariant by the real clock, given the manifest's ``taken_at`` as it
    is now; a refusal leaves the backup in place (a tombstone is renamed back) and returns state
    ``refused`` with the reason.
    """
    path = row["path"]
    tomb = _tombstone(path)
    done = _record(engine, dag_id, run_id, path)
    if done and done["state"] in {"removed", "gone"}:
        return done
    live, buried = store.exists(path), store.exists(tomb)
    if live or buried:
        manifest = _manifest(store, tomb if buried else path)
        if live and not buried and manifest.get("backup_id") != row.get("backup_id"):
            # the plan only prunes readable manifests
            log.warning("%s changed since the plan (manifest unreadable or another backup id); not deleted", path)
            return {"path": path, "state": "changed", "bytes_freed": 0}
        taken_at = manifest.get("taken_at")
        check = verdict(row, taken_at if isinstance(taken_at, str) else None)
        if not check.allowed:
            if buried and not live:  # a tombstone of a backup the invariant keeps goes back
                store.rename(tomb, path)
                if done:
                    _upsert(engine, dag_id, run_id, path, state="restored", bytes_freed=0, finished_at=now())
            log.warning("%s not deleted (retention invariant): %s", path, check.reason)
            return {"path": path, "state": "refused", "bytes_freed": 0, "reason": check.reason}
    if live and not buried:
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


def deletion_targets(
    folder: Path, plan: Mapping[str, Any], dry_run: bool, approval: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]], str]:
    """The plan rows this run may delete, and why.

    A guarded run needs, here and not only in the re-check, a recorded response that chose Approve
    and names its user, and ``approved.json`` of the re-check naming the same approver; anything
    else deletes nothing (docs/pipelines/retention.md, "Two guarantees").
    """
    prunes = [row for row in plan["backups"] if row["action"] == "prune"]
    if dry_run:
        return [], f"dry run: {len(prunes)} backups would be pruned, nothing deleted"
    if plan["guard"]["tripped"]:
        decision = checked_approval(folder, approval)
        if decision["decision"] != "approve":
            return [], f"{REJECTED}: {rejection_text(decision)}"
        allowed = set(read_json(folder / "approved.json")["delete"])
        why = f"approved by {decision['approver']} after a fresh re-scan"
        return [row for row in prunes if row["path"] in allowed], why
    return prunes, "below the blast-radius guard: unattended"


def checked_approval(folder: Path, approval: Mapping[str, Any] | None) -> dict[str, Any]:
    """``approval_decision`` of the recorded response, turned into a Reject unless ``approved.json``
    of the re-check names the same approver (a stale or hand-written file does not count)."""
    decision = approval_decision(approval)
    if decision["decision"] == "approve":
        approved_file = folder / "approved.json"
        approved = read_json(approved_file) if approved_file.exists() else {}
        if approved.get("approver") != decision["approver"]:
            reason = f"approved.json of the re-check does not record the approval of {decision['approver']}"
            decision = {**decision, "decision": "reject", "reason": reason}
    return decision


def delete_pruned(
    run_dir: str, dry_run: bool, approval: Mapping[str, Any] | None = None, clock: Callable[[], datetime] = real_clock
) -> dict[str, Any]:
    """Delete the planned prunes crash-safely; restore tombstones of backups the plan keeps.

    Each deletion first passes the retention invariant by ``clock`` (the real clock); refusals
    are written to ``refused.json`` with their reasons.
    """
    folder = Path(run_dir)
    info = read_json(folder / "run.json")
    plan = read_json(folder / "plan.json")
    targets, why = deletion_targets(folder, plan, dry_run, approval)
    log.info("%s", why)
    if dry_run:
        return {"deleted": 0, "why": why}
    engine = ops_engine()
    crash = _CrashHook()
    as_of = datetime.fromisoformat(info["as_of"])
    ranks = good_ranks(plan["backups"])

    def now() -> datetime:
        return datetime.now(UTC)

    def verdict(row: Mapping[str, Any], manifest_taken_at: str | None) -> DeletionVerdict:
        return invariant_verdict(row, ranks, clock(), as_of, when="at deletion", manifest_taken_at=manifest_taken_at)

    results: Counter[str] = Counter()
    freed = 0
    refused: list[dict[str, Any]] = []
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
                store, engine, dag_id=info["dag_id"], run_id=info["run_id"], row=row, crash=crash, now=now,
                verdict=verdict,
            )  # fmt: skip
            results[outcome["state"]] += 1
            freed += int(outcome.get("bytes_freed") or 0)
            if outcome["state"] == "refused":
                refused.append({"path": row["path"], "backup_id": row["backup_id"], "reason": outcome["reason"]})
    write_json(folder / "refused.json", refused)
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
        after = scan_store(store, info["customers"])
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
    refused = read_json(folder / "refused.json") if (folder / "refused.json").exists() else []
    approval_summary = approval_outcome(plan, dry_run, approval, checked_approval(folder, approval))
    pruned_left = [row["path"] for row in plan["backups"] if row["action"] == "prune" and row["path"] in live]
    summary = {
        "run_id": info["run_id"],
        "as_of": info["as_of"],
        "store": info["store"],
        "dry_run": dry_run,
        "plan": plan["counts"],
        "guard": plan["guard"],
        "approval": approval_summary | {"approver": actor},
        "outcome": outcome_text(dry_run, approval_summary, sum(d["state"] == "removed" for d in deletions)),
        "held_by_invariant": [
            {"path": row["path"], "reason": row["reasons"][0]}
            for row in plan["backups"]
            if row.get("held_by_invariant")
        ],
        "refused_at_deletion": refused,
        "deleted": sum(d["state"] == "removed" for d in deletions),
        "already_gone": sum(d["state"] == "gone" for d in deletions),
        "restored": sum(d["state"] == "restored" for d in deletions),
        "bytes_freed": sum(int(d["bytes_freed"] or 0) for d in deletions if d["state"] == "removed"),
        "planned_prunes_still_present": len(pruned_left),
        "series_below_floor": short,
        "kept_backups_missing": kept_missing,
        "held_series": plan["held_series"],
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
            if d["state"] != "refused"
        ]
        entries += [
            {
                "at": at,
                "dag_id": info["dag_id"],
                "run_id": info["run_id"],
                "entity": r["path"],
                "action": AUDIT_REFUSE,
                "detail": {"backup_id": r["backup_id"], "reason": r["reason"]},
                "actor": actor,
            }
            for r in refused
        ]
        entries.append(
            {
                "at": at,
                "dag_id": info["dag_id"],
                "run_id": info["run_id"],
                "entity": info["store"],
                "action": AUDIT_RUN,
                "detail": {
                    k: summary[k]
                    for k in ("plan", "deleted", "bytes_freed", "dry_run", "approval", "outcome", "verified")
                }
                | {
                    "guard_tripped": plan["guard"]["tripped"],
                    "held_by_invariant": len(summary["held_by_invariant"]),
                    "refused_at_deletion": len(refused),
                },
                "actor": actor,
            }
        )
        write_audit(engine, entries)
    if short or kept_missing:
        raise permanent_failure(
            f"verification failed: series below the floor {short}; kept backups missing {kept_missing[:10]}"
        )
    log.info("verified: %s", {k: summary[k] for k in ("plan", "deleted", "bytes_freed", "outcome", "approval")})
    return summary
