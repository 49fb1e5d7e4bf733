"""The shared backup scan (di_ops.integrations.backup_scan) beyond what retention reads: the manifest's
optional ``components`` and :func:`check_backup` - checksums and the archive's own listing through the
link-safe reader (docs/pipelines/backup_health.md)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from di_ops.integrations.backup_scan import check_backup, list_archive, scan
from di_ops.integrations.backup_store import FsStore
from di_ops.pipelines.backup_health.settings import backup_health_settings
from include.demo.backups import write_backup

TAKEN = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
FORMAT = backup_health_settings().archive_format


def _one(root: Path, **kwargs) -> tuple[FsStore, Path]:  # type: ignore[no-untyped-def]
    folder = write_backup(root, "C1", "C1-cucxn", "CUCxN", TAKEN, **kwargs)
    return FsStore(root), folder


def _rewrite_manifest(folder: Path, **changes: object) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("components", "read"),
    [
        (["configuration", "voicemail"], ["configuration", "voicemail"]),
        (["Voicemail", "configuration", "voicemail"], ["configuration", "voicemail"]),  # lower case, unique, sorted
        ([], []),
        ("configuration", None),  # not a list
        (["configuration", 3], None),  # not a name
        (["config/../x"], None),  # not plain
        (["x" * 65], None),  # too long
        ([f"c{i}" for i in range(33)], None),  # too many
    ],
)
def test_the_manifest_components_are_read_when_plain(tmp_path: Path, components: object, read: object) -> None:
    store, folder = _one(tmp_path)
    _rewrite_manifest(folder, components=components)
    (record,) = scan(store, ["C1"])
    assert record.components == read and record.error is None and record.intact


def test_a_manifest_without_components_reads_as_before(tmp_path: Path) -> None:
    store, folder = _one(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["components"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (record,) = scan(store, ["C1"])
    assert record.components is None and record.intact and record.error is None


def test_check_backup_verifies_checksums_and_lists_the_archive(tmp_path: Path) -> None:
    store, folder = _one(tmp_path, files=(("backup.tar.enc", 4096), ("backup.ini", 64)))
    (record,) = scan(store, ["C1"])
    check = check_backup(store, record, verify_checksums=True, archive_format=FORMAT)
    assert (check.checksums_verified, check.archive_readable, check.problems) == (True, True, ())
    unchecked = check_backup(store, record, verify_checksums=False, archive_format=None)
    assert (unchecked.checksums_verified, unchecked.archive_readable) == (None, None)
    assert (folder / "backup.tar.enc").stat().st_size == 4096
    with tarfile.open(folder / "backup.tar.enc") as archive:
        assert [m.size for m in archive] == [3584]  # header + member: exactly the listed 4096 bytes


def test_a_corrupt_archive_with_a_matching_checksum_is_unreadable(tmp_path: Path) -> None:
    store, _ = _one(tmp_path, corrupt="backup.tar.enc")
    (record,) = scan(store, ["C1"])
    check = check_backup(store, record, verify_checksums=True, archive_format=FORMAT)
    assert check.checksums_verified is True and check.archive_readable is False
    assert check.problems[0].startswith("backup.tar.enc: tar listing fails")


def test_a_backup_without_a_known_archive_format_has_no_readable_archive(tmp_path: Path) -> None:
    store, _ = _one(tmp_path, files=(("backup.bin", 600),))
    (record,) = scan(store, ["C1"])
    check = check_backup(store, record, verify_checksums=False, archive_format=FORMAT)
    assert check.archive_readable is False and check.problems == ("no file in a listable archive format",)


def test_zip_and_compressed_tar_archives_list_and_an_empty_tar_does_not(tmp_path: Path) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("voicemail/x.wav", b"x" * 100)
    assert list_archive(io.BytesIO(zipped.getvalue()), "zip") == 1
    for compression in ("gz", "bz2", "xz", ""):
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode=f"w:{compression}") as archive:
            info = tarfile.TarInfo("a")
            info.size = 3
            archive.addfile(info, io.BytesIO(b"abc"))
        assert list_archive(io.BytesIO(packed.getvalue()), "tar") == 1, compression
    assert list_archive(io.BytesIO(bytes(1024)), "tar") == 0
    with pytest.raises(tarfile.ReadError):
        list_archive(io.BytesIO(b"not an archive" * 50), "tar")

    root = tmp_path / "b"
    store, folder = _one(root, files=(("backup.tar", 1024),))
    (folder / "backup.tar").write_bytes(bytes(1024))
    _rewrite_manifest(folder, files=[{"name": "backup.tar", "size": 1024, "sha256": "0" * 64}])
    (record,) = scan(store, ["C1"])
    check = check_backup(store, record, verify_checksums=True, archive_format=FORMAT)
    assert check.archive_readable is False and check.checksums_verified is False
    assert "backup.tar: sha256 mismatch" in check.problems and any("no member" in p for p in check.problems)


def test_the_archive_is_never_read_through_a_link_or_a_fifo(tmp_path: Path) -> None:
    store, folder = _one(tmp_path / "b")
    (record,) = scan(store, ["C1"])
    outside = tmp_path / "outside.tar"
    outside.write_bytes((folder / "backup.tar.enc").read_bytes())
    (folder / "backup.tar.enc").unlink()
    os.symlink(outside, folder / "backup.tar.enc")
    linked = check_backup(store, record, verify_checksums=False, archive_format=FORMAT)
    assert linked.archive_readable is False and "symlink" in linked.problems[0]
    (folder / "backup.tar.enc").unlink()
    os.mkfifo(folder / "backup.tar.enc")
    fifo = check_backup(store, record, verify_checksums=True, archive_format=FORMAT)
    assert fifo.archive_readable is False and fifo.checksums_verified is False
    assert any("FIFO" in p for p in fifo.problems)


def test_a_manifest_gone_since_the_scan_is_reported_not_raised(tmp_path: Path) -> None:
    store, folder = _one(tmp_path)
    (record,) = scan(store, ["C1"])
    (folder / "manifest.json").unlink()
    check = check_backup(store, record, verify_checksums=True, archive_format=FORMAT)
    assert (check.checksums_verified, check.archive_readable) == (None, None)
    assert check.problems[0].startswith("manifest.json unreadable on re-read")
