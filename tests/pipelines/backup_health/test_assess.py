"""backup_health's assessment on a real store: the filesystem and the SFTP store (a real sshd on
loopback) give the same verdicts; checksums, the rotation, archives and links (docs/pipelines/backup_health.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from di_ops.core.settings import policy
from di_ops.integrations.backup_store import FsStore
from di_ops.pipelines.backup_health.assess import SeriesRef, Totals, assess
from di_ops.pipelines.backup_health.settings import backup_health_settings
from di_ops.rules.common import region_zone
from include.demo.backups import write_backup
from tests.integrations.conftest import open_sftp_store
from tests.pipelines.backup_health.fixtures import AS_OF, build_store, fleet_rows

REFS = [
    SeriesRef(
        c["customer_id"],
        c["cluster_id"],
        c["application"],
        c["sme_publishing_region"] or r,
        region_zone(c["sme_publishing_region"] or r),
    )
    for c in fleet_rows()["clusters"]
    for r in [next(x["region"] for x in fleet_rows()["customers"] if x["customer_id"] == c["customer_id"])]
]


def run(store: Any, settings: Any = None, refs: list[SeriesRef] = REFS) -> tuple[dict[str, dict[str, Any]], Totals]:
    rows, totals = assess(
        store,
        refs,
        AS_OF,
        settings or backup_health_settings(),
        good_statuses=policy().retention.good_statuses,
        tombstone_prefix=".tombstone.",
    )
    return {f"{r['customer_id']}/{r['application']}": r for r in rows}, totals


@pytest.fixture
def fs_store(tmp_path: Path) -> Iterator[tuple[FsStore, Path]]:
    root = tmp_path / "backups"
    build_store(root)
    with FsStore(root) as store:
        yield store, root


def test_the_demo_anomalies_get_their_verdicts(fs_store: tuple[FsStore, Path]) -> None:
    rows, totals = run(fs_store[0])
    assert len(rows) == 8 * 5 + 1 and totals.not_in_inventory == []
    healthy = rows["C001/Expressway"]
    assert healthy["freshness"] == "fresh" and not healthy["at_risk"] and healthy["dr_ready"], healthy["reasons"]
    assert healthy["checksums_verified"] and healthy["archive_readable"] and healthy["restore_ready"]
    missed = rows["C004/CUCM"]
    assert missed["freshness"] == "missed" and missed["good_backups"] == 5 and missed["dr_ready"]
    overdue = rows["C005/IMP"]
    assert overdue["freshness"] == "overdue" and not overdue["at_risk"], overdue["reasons"]
    voicemail = rows["C006/CUCxN"]
    assert voicemail["freshness"] == "fresh" and not voicemail["restore_ready"] and not voicemail["dr_ready"]
    assert voicemail["missing_components"] == ["voicemail"]
    assert "not restore-ready: lacks voicemail" in voicemail["reasons"]
    corrupt = rows["C007/CER"]
    assert corrupt["checksums_verified"] is True and corrupt["archive_readable"] is False and not corrupt["dr_ready"]
    assert any("tar listing fails" in r for r in corrupt["reasons"])
    never = rows["C008/SME"]
    assert never["freshness"] == "overdue" and never["at_risk"] and never["good_backups"] == 0
    assert never["region"] == "EMEA" and never["latest_backup_id"] is None and "no good backup" in never["reasons"]


def test_a_checksum_mismatch_on_the_latest_backup_is_not_good_and_not_dr_ready(fs_store: tuple[FsStore, Path]) -> None:
    store, root = fs_store
    latest = max((root / "C001" / "C001-cucm" / "CUCM").iterdir())
    archive = latest / "backup.tar.enc"
    data = bytearray(archive.read_bytes())
    data[-1] ^= 0xFF  # same size: intact by size, not by sha256
    archive.write_bytes(bytes(data))
    rows, _ = run(store)
    row = rows["C001/CUCM"]
    assert row["checksums_verified"] is False and not row["dr_ready"] and row["checksum_failures"] == 1
    assert row["freshness"] == "missed"  # the only backup of last night is not good
    assert "checksum mismatch" in row["reasons"]


def test_the_rotation_bounds_the_verification(fs_store: tuple[FsStore, Path]) -> None:
    store, _ = fs_store
    every_night = backup_health_settings().model_copy(update={"verify_rotation_nights": 1})
    _, all_verified = run(store, every_night)
    _, rotated = run(store)
    good_latest = 8 * 5  # every series with a good backup (not C008's SME)
    assert all_verified.verified_backups > 4 * good_latest
    assert good_latest <= rotated.verified_backups < all_verified.verified_backups
    assert rotated.verified_bytes < all_verified.verified_bytes


def test_an_older_manifest_without_components_is_not_restore_ready(tmp_path: Path) -> None:
    root = tmp_path / "b"
    for night in range(1, 4):
        folder = write_backup(root, "C001", "C001-cucm", "CUCM", AS_OF - timedelta(hours=3, days=night - 1))
        manifest = folder / "manifest.json"
        manifest.write_text(manifest.read_text().replace('"components": ["configuration"], ', ""))
    ref = [r for r in REFS if r.cluster_id == "C001-cucm"]
    rows, _ = run(FsStore(root), refs=ref)
    row = rows["C001/CUCM"]
    assert row["freshness"] == "fresh" and not row["restore_ready"]
    assert "not restore-ready: the manifest lists no components" in row["reasons"]


def test_an_archive_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "b"
    outside = tmp_path / "outside.tar"
    for night in range(1, 4):
        folder = write_backup(root, "C001", "C001-cucm", "CUCM", AS_OF - timedelta(hours=3, days=night - 1))
    archive = folder / "backup.tar.enc"
    outside.write_bytes(archive.read_bytes())
    archive.unlink()
    os.symlink(outside, archive)
    rows, _ = run(FsStore(root), refs=[r for r in REFS if r.cluster_id == "C001-cucm"])
    row = rows["C001/CUCM"]
    # the scan sees the link as a missing file: that backup is not good, the one before it is the latest
    assert row["good_backups"] == 2 and row["dr_ready"]


def test_sftp_store_gives_the_same_verdicts(
    sshd_lab, sftp_root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    root = sftp_root / "backups"
    build_store(root)
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o777 if path.is_dir() else 0o666)
    with FsStore(root) as local:
        over_fs, fs_totals = run(local)
    store = open_sftp_store(monkeypatch, sshd_lab, root)
    with store:
        over_sftp, sftp_totals = run(store)
    assert over_sftp == over_fs
    assert sftp_totals.__dict__ == fs_totals.__dict__
    assert over_sftp["C007/CER"]["archive_readable"] is False and over_sftp["C001/CUCM"]["dr_ready"]
