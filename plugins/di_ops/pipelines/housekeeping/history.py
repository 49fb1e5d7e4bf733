"""``ops_housekeeping``: ops-DB history rows older than each category's age (the audit log kept
longest), deleted in short batched transactions, children before parents, or counted on a dry run.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, exists, func, not_, or_, select

from di_ops.pipelines.housekeeping.audit import AUDIT_DELETE, AUDIT_KEEP, _audit, write_audit_once
from di_ops.pipelines.housekeeping.settings import TABLE_CATEGORIES, HousekeepingSettings, housekeeping_settings

log = logging.getLogger(__name__)


@dataclass
class RowStep:
    """One DELETE of a category: ``table`` rows matching ``where`` (children come before parents)."""

    table: Any
    where: Any


def _t(name: str) -> Any:
    from di_ops.db.schema import load_all_tables

    return load_all_tables().tables.get(name)


def _runs_where(table: Any, runs: Sequence[tuple[str, str]]) -> Any:
    return or_(*[and_(table.c.dag_id == d, table.c.run_id == r) for d, r in runs]) if runs else None


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _category_steps(conn: Any, category: str, cutoff: datetime, batch: int) -> list[list[RowStep]]:
    """The deletes of one category, grouped into transactions (each inner list is one transaction)."""
    t = _t
    if category == "audit_log":
        a = t("audit_log")
        return [[RowStep(a, a.c.at < cutoff)]]
    if category == "pipeline_runs":
        p = t("pipeline_runs")
        return [[RowStep(p, p.c.started_at < cutoff)]]
    if category == "notices":
        n = t("notices")  # a pending notice is still to be sent: never pruned
        return [[RowStep(n, and_(n.c.created_at < cutoff, n.c.status != "pending"))]]
    if category == "inventory_snapshots":
        s, p = t("inventory_snapshots"), t("pipeline_runs")
        latest = conn.execute(select(s.c.snapshot_id).order_by(s.c.created_at.desc()).limit(1)).scalar()
        pinned = select(p.c.snapshot_id).where(p.c.snapshot_id.is_not(None))
        ids = list(
            conn.execute(
                select(s.c.snapshot_id).where(
                    s.c.created_at < cutoff, s.c.snapshot_id != (latest or ""), s.c.snapshot_id.not_in(pinned)
                )
            ).scalars()
        )
        groups = []
        for chunk in _chunks(ids, 50):
            groups.append(
                [RowStep(t(name), t(name).c.snapshot_id.in_(chunk)) for name in ("nodes", "clusters", "customers")]
                + [RowStep(t("inventory_rejects"), t("inventory_rejects").c.snapshot_id.in_(chunk))]
                + [RowStep(s, s.c.snapshot_id.in_(chunk))]
            )
        return groups
    if category == "retention_plan":
        rp, ce, p = t("retention_plan"), t("retention_catalog_errors"), t("pipeline_runs")
        if rp is None:
            return []
        runs = {
            (r.dag_id, r.run_id)
            for r in conn.execute(
                select(rp.c.dag_id, rp.c.run_id)
                .group_by(rp.c.dag_id, rp.c.run_id)
                .having(func.max(rp.c.as_of) < cutoff)
            )
        }
        runs |= {  # catalog errors of runs that stopped before their plan
            (r.dag_id, r.run_id)
            for r in conn.execute(
                select(ce.c.dag_id, ce.c.run_id)
                .join(p, and_(p.c.dag_id == ce.c.dag_id, p.c.run_id == ce.c.run_id))
                .where(p.c.started_at < cutoff)
                .distinct()
            )
        }
        return [[RowStep(ce, _runs_where(ce, [run])), RowStep(rp, _runs_where(rp, [run]))] for run in sorted(runs)]
    if category == "retention_deletions":
        d = t("retention_deletions")  # an unfinished deletion (tombstoned) is backup_retention's to finish
        return [[RowStep(d, and_(d.c.state != "tombstoned", d.c.finished_at < cutoff))]] if d is not None else []
    if category == "certificate_observations":
        o = t("certificate_observations")
        return [[RowStep(o, o.c.observed_at < cutoff)]] if o is not None else []
    if category == "certificate_plans":
        cp, o = t("certificate_plans"), t("certificate_observations")
        if cp is None:
            return []
        # Only closed plans, and only while no kept observation still shows that certificate: the sweep
        # would otherwise plan (and announce) it again as if new.
        still_seen = exists().where(o.c.node_id == cp.c.node_id, o.c.serial == cp.c.serial)
        closed = cp.c.status.in_(["renewed", "failed", "missed", "expired"])
        return [[RowStep(cp, and_(closed, cp.c.updated_at < cutoff, not_(still_seen)))]]
    if category == "certificate_sso_runbooks":
        r = t("certificate_sso_runbooks")
        if r is None:
            return []
        return [[RowStep(r, and_(r.c.status.in_(["done", "flagged"]), r.c.updated_at < cutoff))]]
    if category == "upgrade_plans":
        up, ev = t("upgrade_plans"), t("upgrade_events")
        if up is None:
            return []
        ids = list(
            conn.execute(
                select(up.c.upgrade_id).where(up.c.state.in_(["done", "cancelled"]), up.c.updated_at < cutoff)
            ).scalars()
        )
        return [
            [RowStep(ev, ev.c.upgrade_id.in_(chunk)), RowStep(up, up.c.upgrade_id.in_(chunk))]
            for chunk in _chunks(ids, batch)
        ]
    if category == "cop_requests":
        cr, cu = t("cop_requests"), t("cop_uploads")
        if cr is None:
            return []
        closed = cr.c.status.in_(["uploaded", "rejected", "failed", "missed"])
        ids = list(conn.execute(select(cr.c.request_id).where(closed, cr.c.updated_at < cutoff)).scalars())
        return [
            [RowStep(cu, cu.c.request_id.in_(chunk)), RowStep(cr, cr.c.request_id.in_(chunk))]
            for chunk in _chunks(ids, batch)
        ]
    if category == "sla_history":
        runs_t = t("sla_audit_runs")
        if runs_t is None:
            return []
        runs = [
            (r.dag_id, r.run_id)
            for r in conn.execute(select(runs_t.c.dag_id, runs_t.c.run_id).where(runs_t.c.created_at < cutoff))
        ]
        children = [t("sla_compliance"), t("sla_quarantine"), t("sla_escalations")]
        return [
            [RowStep(child, _runs_where(child, [run])) for child in children]
            + [RowStep(runs_t, _runs_where(runs_t, [run]))]
            for run in runs
        ]
    raise ValueError(f"unknown history category {category!r}")


def _id_batched_delete(conn: Any, step: RowStep, batch: int) -> int:
    """DELETE in batches of primary keys when the table has an integer ``id`` (audit_log, notices)."""
    table = step.table
    if "id" not in table.c or step.where is None:
        return int(conn.execute(delete(table).where(step.where)).rowcount or 0) if step.where is not None else 0
    total = 0
    while True:
        ids = list(conn.execute(select(table.c.id).where(step.where).order_by(table.c.id).limit(batch)).scalars())
        if not ids:
            return total
        total += int(conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount or 0)
        if len(ids) < batch:
            return total


def prune_history(
    engine: Engine,
    *,
    dag_id: str,
    run_id: str,
    as_of: datetime,
    now: datetime,
    dry_run: bool,
    settings: HousekeepingSettings | None = None,
) -> dict[str, Any]:
    """Delete (or, on a dry run, count) the history rows older than each category's age."""
    settings = settings or housekeeping_settings()
    as_of = as_of.astimezone(UTC)
    result: dict[str, Any] = {}
    for category in TABLE_CATEGORIES:  # in pruning order
        days = settings.tables.get(category)
        if days is None:
            continue
        cutoff = as_of - timedelta(days=days)
        counts: Counter[str] = Counter()
        with engine.connect() as conn:
            groups = _category_steps(conn, category, cutoff, settings.delete_batch_size)
            if dry_run:
                for group in groups:
                    for step in group:
                        if step.table is not None and step.where is not None:
                            n = conn.execute(select(func.count()).select_from(step.table).where(step.where)).scalar()
                            counts[step.table.name] += int(n or 0)
        if not dry_run:
            for group in groups:
                with engine.begin() as conn:  # one short transaction per group (per run / per chunk)
                    for step in group:
                        if step.table is not None:
                            counts[step.table.name] += _id_batched_delete(conn, step, settings.delete_batch_size)
        result[category] = {"cutoff": cutoff.isoformat(), "days": days, "rows": dict(counts)}
    entries = [
        _audit(
            dag_id,
            run_id,
            now,
            f"table:{category}",
            AUDIT_DELETE,
            {**info, "dry_run": dry_run},
        )
        for category, info in result.items()
        if sum(info["rows"].values())
    ]
    entries.append(
        _audit(
            dag_id,
            run_id,
            now,
            "tables",
            AUDIT_KEEP,
            {"ages_days": dict(settings.tables), "as_of": as_of.isoformat(), "dry_run": dry_run},
        )
    )
    write_audit_once(engine, entries)
    log.info("history: %s", json.dumps(result, default=str))
    return {"dry_run": dry_run, "tables": result}
