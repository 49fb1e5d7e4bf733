"""Quality checks, the retention plan and the blast-radius guard of ``backup_retention`` (steps 2-4).

Pure computations over catalog records plus the writers of the plan (ops DB, plan.json, plan.csv).
The task bodies that call them are in :mod:`di_ops.pipelines.retention.tasks`. Source: DOMAIN.md §3; docs/pipelines/retention.md.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert

from di_ops.core.csv_safe import SafeWriter
from di_ops.core.settings import policy
from di_ops.integrations.backup_scan import CatalogRecord
from di_ops.integrations.safe_read import parse_instant_ns
from di_ops.pipelines.retention.guard import guard_text, guard_verdict  # noqa: F401 - re-exported
from di_ops.pipelines.retention.settings import retention_settings
from di_ops.rules.retention import DeletionVerdict, deletion_allowed

SeriesKey = tuple[str, str, str]

PLAN_FIELDS = (
    "path",
    "backup_id",
    "customer_id",
    "cluster_id",
    "application",
    "taken_at",
    "status",
    "intact",
    "size_bytes",
    "tombstoned",
    "action",
    "reasons",
)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)  # atomic: a crashed writer never leaves half a report


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def basic_checks(records: Iterable[CatalogRecord], as_of: datetime) -> dict[str, list[tuple[str, str]]]:
    """The data-quality checks in plain Python: path → [(check, detail)] for every failing backup.

    The GX gate (di_ops.pipelines.retention.quality) runs the same checks as expectations; this form
    serves the re-check after an approval. Unreadable manifests are reported as check ``manifest``.
    """
    as_of_ns = int(as_of.timestamp()) * 10**9 + as_of.microsecond * 1000
    rows = list(records)
    ids = Counter(r.backup_id for r in rows if not r.error and r.backup_id)
    statuses = set(policy().retention.statuses)
    failures: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in rows:
        if r.error:
            failures[r.path].append(("manifest", r.error))
            continue
        if not r.backup_id:
            failures[r.path].append(("backup_id_present", "manifest has no backup_id"))
        elif ids[r.backup_id] > 1:
            failures[r.path].append(("backup_id_unique", f"backup_id {r.backup_id!r} occurs {ids[r.backup_id]} times"))
        if r.taken_at_ns is None:
            failures[r.path].append(("taken_at_parses", f"taken_at {r.taken_at!r} is not ISO-8601 with a zone"))
        elif r.taken_at_ns > as_of_ns:
            failures[r.path].append(("taken_at_not_future", f"taken_at {r.taken_at} is after as_of"))
        if r.status not in statuses:
            failures[r.path].append(("status_allowed", f"status {r.status!r} not in {sorted(statuses)}"))
        if r.size_bytes is None or r.size_bytes < 0:
            failures[r.path].append(("sizes_not_negative", f"file sizes total {r.size_bytes}"))
        manifest_series = (r.manifest_customer_id, r.manifest_cluster_id, r.manifest_application)
        if manifest_series != r.series:
            failures[r.path].append(
                ("one_series_per_folder", f"manifest names {manifest_series}, folder is {'/'.join(r.series)}")
            )
    return dict(failures)


def held_series(failures: Mapping[str, Sequence[Sequence[str]]], records: Iterable[CatalogRecord]) -> dict[str, str]:
    """'customer/cluster/application' → reason for every series with a failing backup."""
    by_path = {r.path: r for r in records}
    held: dict[str, list[str]] = defaultdict(list)
    for path, problems in sorted(failures.items()):
        series = "/".join(by_path[path].series) if path in by_path else path.rsplit("/", 1)[0]
        for check, detail in problems:
            held[series].append(f"{path.rsplit('/', 1)[-1]}: {check} ({detail})")
    return {
        s: "data-quality check failed: " + "; ".join(items[:5]) + ("; …" if len(items) > 5 else "")
        for s, items in held.items()
    }


def _valid(r: CatalogRecord, statuses: set[str]) -> bool:
    return not r.error and bool(r.backup_id) and r.taken_at_ns is not None and r.status in statuses


def build_plan(
    records: Sequence[CatalogRecord], as_of: datetime, held: Mapping[str, str], *, bulk_threshold: int | None = None
) -> list[dict[str, Any]]:
    """One plan row per catalog record (in catalog order) with action and reasons.

    Valid records go through ``di_ops.rules.retention.plan`` (or its columnar form above
    ``bulk_threshold`` rows); a record that cannot become a ``Backup`` (unreadable manifest,
    unparseable time, unknown status) is held with the reason of its series.
    """
    statuses = set(policy().retention.statuses)
    threshold = retention_settings().bulk_plan_threshold if bulk_threshold is None else bulk_threshold
    valid = [r for r in records if _valid(r, statuses)]
    held_keys: dict[SeriesKey, str] = {tuple(k.split("/", 2)): v for k, v in held.items()}  # type: ignore[misc]
    decisions: dict[str, tuple[str, list[str]]] = {}
    if len(valid) > threshold:
        from di_ops.rules.retention_bulk import plan_columns

        columnar = plan_columns(
            [r.backup_id for r in valid],
            (
                [r.customer_id for r in valid],
                [r.cluster_id for r in valid],
                [r.application for r in valid],
            ),
            [r.taken_at_ns for r in valid],
            [r.status for r in valid],
            [r.intact for r in valid],
            as_of,
            held=held_keys,
        )
        names = columnar.action_names()
        for row, r in enumerate(valid):
            decisions[r.path] = (str(names[row]), columnar.reasons(row))
    else:
        from di_ops.rules.retention import Backup, plan

        backups = [
            Backup(
                backup_id=r.backup_id or "",
                customer_id=r.customer_id,
                cluster_id=r.cluster_id,
                application=r.application,
                taken_at=_instant(r.taken_at_ns),
                status=r.status or "",
                intact=r.intact,
            )
            for r in valid
        ]
        for r, decision in zip(valid, plan(backups, as_of, held=held_keys), strict=True):
            decisions[r.path] = (decision.action, list(decision.reasons))
    rows = []
    for r in records:
        action, reasons = decisions.get(r.path) or (
            "hold",
            [f"series held (nothing deleted): {held.get('/'.join(r.series), r.error or 'invalid manifest')}"],
        )
        rows.append(
            {
                "path": r.path,
                "backup_id": r.backup_id,
                "customer_id": r.customer_id,
                "cluster_id": r.cluster_id,
                "application": r.application,
                "taken_at": _instant(r.taken_at_ns).isoformat() if r.taken_at_ns is not None else None,
                "status": r.status,
                "intact": r.intact,
                "size_bytes": r.size_bytes,
                "tombstoned": r.tombstoned,
                "action": action,
                "reasons": reasons,
                "good": _valid(r, statuses) and r.status in policy().retention.good_statuses and r.intact,
            }
        )
    return rows


def _instant(ns: int | None) -> datetime:
    assert ns is not None
    return datetime.fromtimestamp(ns // 10**9, tz=UTC).replace(microsecond=(ns % 10**9) // 1000)


def write_plan(engine: Engine, dag_id: str, run_id: str, as_of: datetime, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace this run's plan rows in the ops DB (idempotent) in one transaction."""
    from di_ops.db.tables_retention import retention_plan

    with engine.begin() as conn:
        conn.execute(delete(retention_plan).where(retention_plan.c.dag_id == dag_id, retention_plan.c.run_id == run_id))
        batch = [
            {
                "dag_id": dag_id,
                "run_id": run_id,
                "as_of": as_of,
                **{k: row[k] for k in PLAN_FIELDS if k != "tombstoned"},
                "taken_at": datetime.fromisoformat(row["taken_at"]) if row["taken_at"] else None,
            }
            for row in rows
        ]
        for start in range(0, len(batch), 5000):
            conn.execute(insert(retention_plan), batch[start : start + 5000])


def write_catalog_errors(
    engine: Engine,
    dag_id: str,
    run_id: str,
    failures: Mapping[str, Sequence[Sequence[str]]],
    records: Sequence[CatalogRecord],
) -> None:
    from di_ops.db.tables_retention import retention_catalog_errors as t

    by_path = {r.path: r for r in records}
    batch = []
    for path, problems in failures.items():
        record = by_path.get(path)
        customer, cluster, application = record.series if record else tuple(path.split("/")[:3])
        for check, detail in dict((c, d) for c, d in problems).items():
            batch.append(
                {
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "path": path,
                    "check": check,
                    "customer_id": customer,
                    "cluster_id": cluster,
                    "application": application,
                    "detail": detail,
                }
            )
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.dag_id == dag_id, t.c.run_id == run_id))
        if batch:
            conn.execute(insert(t), batch)


def write_plan_reports(folder: Path, meta: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> None:
    write_json(folder / "plan.json", {**meta, "backups": list(rows)})
    tmp = folder / "plan.csv.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh)  # ids and reasons come from the store: no cell may start a formula
        writer.writerow(PLAN_FIELDS)
        for row in rows:
            writer.writerow([" | ".join(row[k]) if k == "reasons" else row[k] for k in PLAN_FIELDS])
    tmp.replace(folder / "plan.csv")


# --- the retention invariant (docs/pipelines/retention.md, "Two guarantees") ---------------


def series_of(row: Mapping[str, Any]) -> str:
    return f"{row['customer_id']}/{row['cluster_id']}/{row['application']}"


def good_ranks(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """path → rank among the good backups of its series in this scan (1 = most recent).

    Same order as ``di_ops.rules.retention.plan``: newest ``taken_at`` first, ties by greater backup id.
    """
    by_series: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for row in rows:
        if row["good"] and row["taken_at"]:
            by_series[series_of(row)].append(
                (datetime.fromisoformat(row["taken_at"]), row["backup_id"] or "", row["path"])
            )
    ranks: dict[str, int] = {}
    for members in by_series.values():
        for rank, (_, _, path) in enumerate(sorted(members, reverse=True), start=1):
            ranks[path] = rank
    return ranks


def invariant_verdict(
    row: Mapping[str, Any],
    ranks: Mapping[str, int],
    now: datetime,
    as_of: datetime,
    *,
    when: str,
    manifest_taken_at: str | None = None,
) -> DeletionVerdict:
    """May this plan row's backup be deleted at ``now`` (the real clock)? See ``deletion_allowed``.

    The age counts from the younger of the plan's ``taken_at`` and the one the manifest names now
    (when given and readable); a row without a ``taken_at`` is never deleted.
    """
    instants = [datetime.fromisoformat(row["taken_at"])] if row["taken_at"] else []
    manifest_ns = parse_instant_ns(manifest_taken_at) if manifest_taken_at is not None else None
    if manifest_ns is not None:
        instants.append(_instant(manifest_ns))
    if not instants:
        return DeletionVerdict(allowed=False, reason="kept: no readable taken_at, its age is unknown")
    return deletion_allowed(
        taken_at=max(instants),
        now=now,
        good=bool(row["good"]),
        good_rank=ranks.get(row["path"], 0),
        as_of=as_of,
        when=when,
    )


def hold_what_retention_keeps(rows: Sequence[dict[str, Any]], now: datetime, as_of: datetime) -> int:
    """Turn every planned prune the retention invariant forbids at ``now`` into a hold (in place).

    The invariant's reason comes first, the plan's own reasons (by ``as_of``) follow; the row gets
    ``held_by_invariant: true``. Returns how many rows were changed. Source: DOMAIN.md §3.
    """
    ranks = good_ranks(rows)
    changed = 0
    for row in rows:
        row.setdefault("held_by_invariant", False)
        if row["action"] != "prune":
            continue
        verdict = invariant_verdict(row, ranks, now, as_of, when="at planning")
        if not verdict.allowed:
            row["action"] = "hold"
            row["reasons"] = [verdict.reason, *(f"plan by as_of: {r}" for r in row["reasons"])]
            row["held_by_invariant"] = True
            changed += 1
    return changed
