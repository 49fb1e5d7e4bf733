"""Backup stores: the local filesystem and SFTP (a real sshd on loopback) behave the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from di_ops.integrations.backup_scan import scan
from di_ops.integrations.backup_store import FsStore, StoreError, store_from_connection
from di_ops.integrations.backup_store_sftp import SftpStore
from di_ops.integrations.safe_read import parse_instant_ns
from include.demo.backups import write_backup
from tests.integrations.conftest import open_sftp_store
from tests.pipelines.retention.fixtures import build_store, fs_connection, night


def _without_volatile(records):  # type: ignore[no-untyped-def]
    return [r.as_dict() for r in records]


@pytest.fixture
def sftp_store(sshd_lab, sftp_root: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    root = sftp_root / "backups"
    expected = build_store(root)
    store = open_sftp_store(monkeypatch, sshd_lab, root)
    yield store, root, expected
    store.close()


def test_sftp_and_fs_stores_scan_the_same_catalog(sftp_store) -> None:  # type: ignore[no-untyped-def]
    store, root, _ = sftp_store
    assert isinstance(store, SftpStore)
    customers = ["C001", "C002", "C003"]
    over_sftp = scan(store, customers, verify_checksums=True)
    local = scan(FsStore(root), customers, verify_checksums=True, threads=4)
    assert _without_volatile(over_sftp) == _without_volatile(local)
    assert len(local) == 70
    errors = {r.path: r.error for r in local if r.error}
    assert (
        list(errors) == ["C002/C002-cucm/CUCM/C002-cucm-n1"]
        and "unreadable" in errors["C002/C002-cucm/CUCM/C002-cucm-n1"]
    )
    truncated = next(r for r in local if r.path.endswith("C002-imp-n1"))
    assert not truncated.intact and truncated.problems == ["a.enc: 150 bytes, manifest lists 300"]


def test_sftp_tombstone_rename_and_remove(sftp_store) -> None:  # type: ignore[no-untyped-def]
    store, root, _ = sftp_store
    live = "C001/C001-cucm/CUCM/C001-cucm-n40"
    tomb = "C001/C001-cucm/CUCM/.tombstone.C001-cucm-n40"
    size = store.tree_size(live)
    assert size == sum(f.stat().st_size for f in (root / live).iterdir())
    store.rename(live, tomb)
    with pytest.raises(FileExistsError):
        store.rename(tomb, "C001/C001-cucm/CUCM/C001-cucm-n39")
    assert not store.exists(live) and store.exists(tomb)
    records = scan(store, ["C001"])
    assert next(r for r in records if r.path == live).tombstoned
    store.remove_tree(tomb)
    store.remove_tree(tomb)  # already gone: fine
    assert not (root / tomb).exists() and (root / "C001/C001-cucm/CUCM").is_dir()
    with pytest.raises(ValueError):
        store.remove_tree("")


def test_checksum_verification_finds_a_flipped_byte(tmp_path: Path) -> None:
    folder = write_backup(tmp_path, "C1", "C1-cucm", "CUCM", night(1), backup_id="b1")
    data = bytearray((folder / "backup.tar.enc").read_bytes())
    data[10] ^= 0xFF
    (folder / "backup.tar.enc").write_bytes(bytes(data))  # same size: intact by size, not by sha256
    store = FsStore(tmp_path)
    (plain,) = scan(store, ["C1"])
    (checked,) = scan(store, ["C1"], verify_checksums=True)
    assert plain.intact and not checked.intact and checked.problems == ["backup.tar.enc: sha256 mismatch"]


def test_fs_connection_and_bad_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(tmp_path))
    store = store_from_connection("di_backup_store")
    assert isinstance(store, FsStore) and store.root == tmp_path
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", json.dumps({"conn_type": "http", "host": "x"}))
    with pytest.raises(StoreError, match="not a backup store"):
        store_from_connection("di_backup_store")
    with pytest.raises(StoreError, match="absolute"):
        FsStore("relative/path")
    with pytest.raises(ValueError, match="leaves the store"):
        FsStore(tmp_path).exists("../etc")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-11-27T01:00:00+01:00", True),
        ("2026-11-27T00:00:00Z", True),
        ("2026-11-27T00:00:00", False),  # no zone: refused, not guessed
        ("27/11/2026", False),
        ("", False),
        # outside the rule's years: None here, "out of range" (series held) in the scan
        ("0001-01-01T00:00:00+23:59", False),
        ("9999-12-31T23:59:59-23:59", False),
    ],
)
def test_timestamps_need_a_zone(text: str, ok: bool) -> None:
    value = parse_instant_ns(text)
    assert (value is not None) is ok
    if ok:
        assert value == 1_795_737_600 * 10**9


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        # the range of di_ops.rules.timestamps (years 1700-2200), both sides of each end
        ("2200-12-31T23:59:59.999999Z", 7_289_654_399_999_999_000),
        ("2201-01-01T00:00:00Z", None),
        ("1700-01-01T00:00:00Z", -8_520_336_000_000_000_000),
        ("1699-12-31T23:59:59.999999Z", None),
    ],
)
def test_instants_follow_the_one_timestamp_rule(text: str, ns: int | None) -> None:
    assert parse_instant_ns(text) == ns


def test_store_skips_dot_folders_and_files(tmp_path: Path) -> None:
    write_backup(tmp_path, "C1", "C1-cucm", "CUCM", night(1), backup_id="b1")
    (tmp_path / ".trash" / "x" / "y" / "z").mkdir(parents=True)
    (tmp_path / "C1" / "C1-cucm" / "CUCM" / ".partial-upload").mkdir()
    (tmp_path / "C1" / "stray.txt").write_text("x")
    assert [r.backup_id for r in scan(FsStore(tmp_path), ["C1", ".trash"])] == ["b1"]
    shutil.rmtree(tmp_path / "C1")
    assert scan(FsStore(tmp_path), ["C1"]) == []


@pytest.mark.parametrize("step", ["rename", "record", "remove"])
def test_crash_safe_deletion_over_sftp(sftp_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:  # type: ignore[no-untyped-def]
    from di_ops.pipelines.retention import delete as rd
    from tests.pipelines.retention.fixtures import plan_run, remaining

    _, root, expected = sftp_store
    monkeypatch.setenv("DI_OPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    run_dir = plan_run("over-sftp")
    monkeypatch.setenv(rd.CRASH_ENV, f"{step}:2")
    with pytest.raises(rd.CrashInjected):
        rd.delete_pruned(run_dir, dry_run=False)
    monkeypatch.delenv(rd.CRASH_ENV)
    assert rd.delete_pruned(run_dir, dry_run=False)["removed"] == 12
    assert remaining(root) == expected and not list(root.glob("*/*/*/.tombstone.*"))
    assert rd.verify_and_report(run_dir, False, None)["verified"]
