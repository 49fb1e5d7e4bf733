"""Judge every series of the inventory from one scan of the backup store (docs/pipelines/backup_health.md).

One scan (:mod:`di_ops.integrations.backup_scan`, without checksums: manifests and file sizes) gives
every backup; per series the pure rules (:mod:`di_ops.rules.backup_health`) decide fresh / missed /
overdue and at risk; the latest good backup of each series is then re-read through the link-safe
reader to verify its checksums and list its archive (DR-ready), and the other good backups whose turn
it is in the rotation have their checksums verified (``verify_rotation_nights``). Source: DOMAIN.md §3.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from di_ops.integrations.backup_scan import CatalogRecord, DrCheck, check_backup, list_customers, scan
from di_ops.integrations.backup_store import BackupStore
from di_ops.pipelines.backup_health.settings import BackupHealthSettings
from di_ops.rules.backup_health import (
    RestoreReadiness,
    dr_readiness,
    restore_readiness,
    series_health,
    verify_tonight,
)

SeriesKey = tuple[str, str, str]


@dataclass(frozen=True)
class SeriesRef:
    """One series the inventory says must be backed up: a cluster (one application) of a customer."""

    customer_id: str
    cluster_id: str
    application: str
    region: str
    zone: ZoneInfo

    @property
    def key(self) -> SeriesKey:
        return (self.customer_id, self.cluster_id, self.application)


@dataclass
class Totals:
    """What the assessment read: backups scanned, backups and bytes whose checksums were verified."""

    backups: int = 0
    catalog_errors: int = 0
    verified_backups: int = 0
    verified_bytes: int = 0
    not_in_inventory: list[str] = field(default_factory=list)


def _instant(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(microsecond=(ns // 1000) % 1_000_000)


def _size_good(record: CatalogRecord, good_statuses: frozenset[str]) -> bool:
    """Good by the scan (DOMAIN.md §3 rule 1): status SUCCESS and every listed file present with its size."""
    return (
        record.error is None
        and record.intact
        and record.taken_at_ns is not None
        and (record.status or "") in good_statuses
    )


def assess_series(
    store: BackupStore,
    ref: SeriesRef,
    records: Sequence[CatalogRecord],
    as_of: datetime,
    settings: BackupHealthSettings,
    good_statuses: frozenset[str],
    totals: Totals,
    *,
    verify: bool = True,
) -> dict[str, Any]:
    """The per-series row (verdicts with their reasons) of ``ref`` from its catalog ``records``."""
    as_of_ns = int(as_of.timestamp()) * 1_000_000_000 + as_of.microsecond * 1000
    good = sorted(
        (r for r in records if _size_good(r, good_statuses) and (r.taken_at_ns or 0) <= as_of_ns),
        key=lambda r: (r.taken_at_ns or 0, r.backup_id or ""),
        reverse=True,
    )
    problems = [f"{r.folder}: {r.error}" for r in records if r.error]
    latest = good[0] if good else None
    check = DrCheck(None, None)
    failed: set[str] = set()
    if latest is not None:
        check = check_backup(
            store,
            latest,
            verify_checksums=verify,
            archive_format=settings.archive_format,
            max_manifest_bytes=settings.max_manifest_bytes,
        )
        _count(totals, latest, verify)
        problems.extend(f"{latest.folder}: {p}" for p in check.problems)
        if check.checksums_verified is False:
            failed.add(latest.path)
    for record in good[1:]:
        if verify and verify_tonight(record.path, as_of, latest=False, rotation_nights=settings.verify_rotation_nights):
            rotated = check_backup(
                store,
                record,
                verify_checksums=True,
                archive_format=None,
                max_manifest_bytes=settings.max_manifest_bytes,
            )
            _count(totals, record, True)
            if rotated.checksums_verified is False:
                failed.add(record.path)
                problems.extend(f"{record.folder}: {p}" for p in rotated.problems)
    health = series_health(
        (_instant(r.taken_at_ns or 0) for r in good if r.path not in failed),
        as_of,
        ref.zone,
        evening=settings.evening,
        min_good=settings.min_good,
    )
    restore = _restore(latest, settings.required_components(ref.application), ref.application)
    dr = dr_readiness(restore, check.checksums_verified, check.archive_readable)
    # a restore that is not ready is named by the DR reasons ("not restore-ready: ...")
    restore_reasons = [f"restore: {restore.reason}"] if restore is not None and restore.ready else []
    return {
        "customer_id": ref.customer_id,
        "cluster_id": ref.cluster_id,
        "application": ref.application,
        "region": ref.region,
        "freshness": health.freshness.value,
        "at_risk": health.at_risk,
        "good_backups": health.good_backups,
        "latest_good_at": health.latest_good.isoformat() if health.latest_good else None,
        "latest_backup_id": latest.backup_id if latest else None,
        "restore_ready": bool(restore and restore.ready),
        "missing_components": list(restore.missing) if restore else [],
        "checksums_verified": check.checksums_verified,
        "archive_readable": check.archive_readable,
        "dr_ready": dr.ready,
        "checksum_failures": len(failed),
        "backups": len(records),
        "reasons": [*health.reasons, *restore_reasons, *dr.reasons, *problems],
    }


def _count(totals: Totals, record: CatalogRecord, verified: bool) -> None:
    if verified:
        totals.verified_backups += 1
        totals.verified_bytes += record.size_bytes or 0


def _restore(
    latest: CatalogRecord | None, required: tuple[str, ...] | None, application: str
) -> RestoreReadiness | None:
    if latest is None:
        return None
    if required is None:
        return RestoreReadiness(
            ready=False, missing=(), reason=f"no components set for {application} (backup_health.yaml: components)"
        )
    return restore_readiness(latest.components, required)


def assess(
    store: BackupStore,
    refs: Sequence[SeriesRef],
    as_of: datetime,
    settings: BackupHealthSettings,
    *,
    good_statuses: Iterable[str],
    tombstone_prefix: str,
    verify: bool = True,
) -> tuple[list[dict[str, Any]], Totals]:
    """Rows for every series in ``refs`` (sorted as given), and what was read, from one scan."""
    totals = Totals()
    wanted = sorted({ref.customer_id for ref in refs})
    in_store = set(list_customers(store))
    records = scan(
        store,
        [c for c in wanted if c in in_store],
        tombstone_prefix=tombstone_prefix,
        threads=settings.scan_threads,
        max_manifest_bytes=settings.max_manifest_bytes,
    )
    by_series: dict[SeriesKey, list[CatalogRecord]] = defaultdict(list)
    for record in records:
        if not record.tombstoned:
            by_series[record.series].append(record)
    totals.backups = sum(1 for r in records if not r.tombstoned)
    totals.catalog_errors = sum(1 for r in records if r.error)
    known = {ref.key for ref in refs}
    totals.not_in_inventory = sorted("/".join(key) for key in by_series if key not in known)
    statuses = frozenset(s.upper() for s in good_statuses)
    rows = [
        assess_series(store, ref, by_series.get(ref.key, []), as_of, settings, statuses, totals, verify=verify)
        for ref in refs
    ]
    return rows, totals
