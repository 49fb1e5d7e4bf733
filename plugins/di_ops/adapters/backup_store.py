"""Backup stores: a local/mounted filesystem or an SFTP server, behind one interface.

Layout (issue 4): ``<root>/<customer_id>/<cluster_id>/<application>/<backup_id>/`` holding a
``manifest.json`` (backup_id, customer_id, cluster_id, application, taken_at ISO-8601 with zone,
status, files: [{name, size, sha256}]) beside the archive files. Names starting with ``.`` are
never read as customers, clusters, applications or backups, except tombstones
(``<application>/<tombstone_prefix><backup_id>``): a backup being deleted, still listed by the scan
so that a rerun can finish (or undo) the deletion.

The store is named by the Airflow connection ``di_backup_store``: conn type ``fs`` with
``extra.path`` (an absolute folder), or ``sftp`` (host, port, login, password or ``extra.key_file``,
``extra.path`` the root folder on the server, ``extra.no_host_key_check``).

paramiko is imported only when an SFTP store is opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
DEFAULT_TOMBSTONE_PREFIX = ".tombstone."
HASH_CHUNK = 1 << 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StoreError(RuntimeError):
    """The store cannot be reached or is misconfigured (a retry may or may not help)."""


class BackupStore(ABC):
    """Primitive operations on a backup store; paths are relative, '/'-separated."""

    label: str

    @abstractmethod
    def list_dirs(self, rel: str) -> list[str]:
        """Names of the sub-folders of ``rel`` (sorted); [] when ``rel`` does not exist."""

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes: ...

    @abstractmethod
    def file_size(self, rel: str) -> int | None:
        """Size of a regular file, None when it is missing or not a file."""

    @abstractmethod
    def sha256(self, rel: str) -> str | None: ...

    @abstractmethod
    def exists(self, rel: str) -> bool: ...

    @abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """Atomic rename within the store (same folder); fails if ``dst`` exists."""

    @abstractmethod
    def tree_size(self, rel: str) -> int:
        """Total bytes of the regular files under ``rel`` (0 when missing)."""

    @abstractmethod
    def remove_tree(self, rel: str) -> None:
        """Remove ``rel`` and everything under it; a missing ``rel`` is fine."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> BackupStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _safe(rel: str) -> str:
    parts = [p for p in rel.split("/") if p]
    if any(p in {".", ".."} for p in parts):
        raise ValueError(f"path {rel!r} leaves the store")
    return "/".join(parts)


class FsStore(BackupStore):
    """A local or mounted folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_absolute():
            raise StoreError(f"backup store path must be absolute, got {str(root)!r}")
        self.label = f"fs:{self.root}"

    def _p(self, rel: str) -> str:
        rel = _safe(rel)
        return os.path.join(self.root, rel) if rel else str(self.root)

    def list_dirs(self, rel: str) -> list[str]:
        try:
            with os.scandir(self._p(rel)) as it:
                return sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read_bytes(self, rel: str) -> bytes:
        with open(self._p(rel), "rb") as fh:
            return fh.read()

    def file_size(self, rel: str) -> int | None:
        try:
            st = os.stat(self._p(rel), follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def sha256(self, rel: str) -> str | None:
        digest = hashlib.sha256()
        try:
            with open(self._p(rel), "rb") as fh:
                while chunk := fh.read(HASH_CHUNK):
                    digest.update(chunk)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return digest.hexdigest()

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self._p(rel))

    def rename(self, src: str, dst: str) -> None:
        target = self._p(dst)
        if os.path.lexists(target):
            raise FileExistsError(target)
        os.rename(self._p(src), target)

    def tree_size(self, rel: str) -> int:
        total = 0
        for folder, _dirs, files in os.walk(self._p(rel)):
            for name in files:
                try:
                    st = os.stat(os.path.join(folder, name), follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
        return total

    def remove_tree(self, rel: str) -> None:
        path = self._p(rel)
        if not rel.strip("/"):
            raise ValueError("refusing to remove the store root")
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


class SftpStore(BackupStore):
    """A folder on an SFTP server (one paramiko SFTPClient; used from one thread)."""

    def __init__(self, client: Any, root: str, *, label: str = "sftp", closer: Any = None) -> None:
        self.client = client
        self.root = root.rstrip("/") or "/"
        self.label = f"{label}:{self.root}"
        self._closer = closer

    def _p(self, rel: str) -> str:
        rel = _safe(rel)
        return posixpath.join(self.root, rel) if rel else self.root

    def list_dirs(self, rel: str) -> list[str]:
        try:
            entries = self.client.listdir_attr(self._p(rel))
        except FileNotFoundError:
            return []
        return sorted(e.filename for e in entries if e.st_mode is not None and stat.S_ISDIR(e.st_mode))

    def read_bytes(self, rel: str) -> bytes:
        with self.client.open(self._p(rel), "rb") as fh:
            return bytes(fh.read())

    def file_size(self, rel: str) -> int | None:
        try:
            st = self.client.lstat(self._p(rel))
        except FileNotFoundError:
            return None
        return int(st.st_size) if st.st_mode is not None and stat.S_ISREG(st.st_mode) else None

    def sha256(self, rel: str) -> str | None:
        digest = hashlib.sha256()
        try:
            with self.client.open(self._p(rel), "rb") as fh:
                fh.prefetch()
                while chunk := fh.read(HASH_CHUNK):
                    digest.update(chunk)
        except (FileNotFoundError, OSError):
            return None
        return digest.hexdigest()

    def exists(self, rel: str) -> bool:
        try:
            self.client.lstat(self._p(rel))
        except FileNotFoundError:
            return False
        return True

    def rename(self, src: str, dst: str) -> None:
        if self.exists(dst):
            raise FileExistsError(dst)
        self.client.rename(self._p(src), self._p(dst))  # SFTP rename refuses to overwrite

    def _walk(self, path: str) -> Iterator[tuple[str, Any]]:
        for entry in self.client.listdir_attr(path):
            yield posixpath.join(path, entry.filename), entry

    def tree_size(self, rel: str) -> int:
        total = 0
        stack = [self._p(rel)]
        while stack:
            path = stack.pop()
            try:
                entries = list(self._walk(path))
            except FileNotFoundError:
                continue
            for child, entry in entries:
                if entry.st_mode is not None and stat.S_ISDIR(entry.st_mode):
                    stack.append(child)
                elif entry.st_mode is not None and stat.S_ISREG(entry.st_mode):
                    total += int(entry.st_size or 0)
        return total

    def remove_tree(self, rel: str) -> None:
        if not rel.strip("/"):
            raise ValueError("refusing to remove the store root")
        top = self._p(rel)
        try:
            st = self.client.lstat(top)
        except FileNotFoundError:
            return
        if st.st_mode is None or not stat.S_ISDIR(st.st_mode):
            self.client.remove(top)
            return
        for child, entry in self._walk(top):
            if entry.st_mode is not None and stat.S_ISDIR(entry.st_mode):
                self.remove_tree(posixpath.relpath(child, self.root))
            else:
                self.client.remove(child)
        self.client.rmdir(top)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()


def store_from_connection(conn_id: str) -> BackupStore:
    """Open the store named by an Airflow connection (``fs`` with extra.path, or ``sftp``)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    kind = (conn.conn_type or "").lower()
    extra = conn.extra_dejson
    if kind == "fs":
        path = extra.get("path") or conn.host
        if not path:
            raise StoreError(f"connection {conn_id}: conn type fs needs the folder in extra.path")
        return FsStore(path)
    if kind == "sftp":
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        hook = SFTPHook(ssh_conn_id=conn_id)
        client = hook.get_conn()
        root = extra.get("path") or conn.schema or "."
        return SftpStore(client, root, label=f"sftp://{conn.host}", closer=hook.close_conn)
    raise StoreError(f"connection {conn_id}: conn type {conn.conn_type!r} is not a backup store; use fs or sftp")


# --- scanning -------------------------------------------------------------------------------


@dataclass
class CatalogRecord:
    """One backup folder as found in the store (or why its manifest could not be read)."""

    path: str  # <customer>/<cluster>/<application>/<backup folder>, the live (non-tombstone) name
    customer_id: str
    cluster_id: str
    application: str
    folder: str
    tombstoned: bool = False
    backup_id: str | None = None
    manifest_customer_id: str | None = None
    manifest_cluster_id: str | None = None
    manifest_application: str | None = None
    taken_at: str | None = None  # as written in the manifest
    taken_at_ns: int | None = None  # UTC nanoseconds; None when missing/unparseable/naive
    status: str | None = None
    size_bytes: int | None = None
    files: int = 0
    intact: bool = False
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # unreadable manifest: the series is held

    @property
    def series(self) -> tuple[str, str, str]:
        return (self.customer_id, self.cluster_id, self.application)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_instant_ns(value: Any) -> int | None:
    """UTC nanoseconds of an ISO-8601 timestamp with a zone; None when missing, unparseable or naive."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def read_backup(
    store: BackupStore, path: str, folder_name: str, *, tombstone_prefix: str, verify_checksums: bool
) -> CatalogRecord:
    """Read one backup folder's manifest and check its files (intact = every listed file with its size)."""
    customer, cluster, application, _ = path.split("/")
    tombstoned = folder_name.startswith(tombstone_prefix)
    live = folder_name[len(tombstone_prefix) :] if tombstoned else folder_name
    record = CatalogRecord(
        path=f"{customer}/{cluster}/{application}/{live}",
        customer_id=customer,
        cluster_id=cluster,
        application=application,
        folder=live,
        tombstoned=tombstoned,
    )
    actual = f"{customer}/{cluster}/{application}/{folder_name}"
    try:
        manifest = json.loads(store.read_bytes(f"{actual}/{MANIFEST}"))
        if not isinstance(manifest, dict):
            raise ValueError("manifest is not a JSON object")
        files = manifest.get("files")
        if not isinstance(files, list):
            raise ValueError("manifest has no files list")
    except FileNotFoundError:
        record.error = "manifest.json missing"
        return record
    except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
        record.error = f"manifest.json unreadable: {str(exc)[:200]}"
        return record
    record.backup_id = _text(manifest.get("backup_id"))
    record.manifest_customer_id = _text(manifest.get("customer_id"))
    record.manifest_cluster_id = _text(manifest.get("cluster_id"))
    record.manifest_application = _text(manifest.get("application"))
    record.taken_at = _text(manifest.get("taken_at"))
    record.taken_at_ns = parse_instant_ns(record.taken_at)
    status = manifest.get("status")
    record.status = status.strip().upper() if isinstance(status, str) else None
    record.files = len(files)
    size_total = 0
    intact = True
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "/" in entry["name"]:
            record.problems.append(f"bad file entry {str(entry)[:80]}")
            intact = False
            continue
        listed = entry.get("size")
        if not isinstance(listed, int) or isinstance(listed, bool):
            record.problems.append(f"{entry['name']}: size {listed!r} is not an integer")
            intact = False
            continue
        size_total += listed
        found = store.file_size(f"{actual}/{entry['name']}")
        if found is None:
            record.problems.append(f"{entry['name']}: missing")
            intact = False
        elif found != listed:
            record.problems.append(f"{entry['name']}: {found} bytes, manifest lists {listed}")
            intact = False
        elif verify_checksums:
            expected = entry.get("sha256")
            digest = store.sha256(f"{actual}/{entry['name']}")
            if not isinstance(expected, str) or digest != expected.lower():
                record.problems.append(f"{entry['name']}: sha256 mismatch")
                intact = False
    record.size_bytes = size_total
    record.intact = intact
    return record


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def backup_folders(store: BackupStore, customers: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(customer/cluster/application/folder, folder) of every backup folder (tombstones included)."""
    for customer in customers:
        if customer.startswith(".") or "/" in customer:
            continue
        for cluster in store.list_dirs(customer):
            if cluster.startswith("."):
                continue
            for application in store.list_dirs(f"{customer}/{cluster}"):
                if application.startswith("."):
                    continue
                for folder in store.list_dirs(f"{customer}/{cluster}/{application}"):
                    yield f"{customer}/{cluster}/{application}/{folder}", folder


def list_customers(store: BackupStore) -> list[str]:
    return [name for name in store.list_dirs("") if not name.startswith(".")]


def scan(
    store: BackupStore,
    customers: Iterable[str],
    *,
    verify_checksums: bool = False,
    tombstone_prefix: str = DEFAULT_TOMBSTONE_PREFIX,
    threads: int = 1,
) -> list[CatalogRecord]:
    """Catalog records of every backup of ``customers`` (sorted by path); never raises for a bad manifest.

    Only the local filesystem uses ``threads`` > 1 (one SFTP channel is used from one thread).
    """
    folders = [
        (path, folder)
        for path, folder in backup_folders(store, customers)
        if not folder.startswith(".") or folder.startswith(tombstone_prefix)
    ]

    def one(item: tuple[str, str]) -> CatalogRecord:
        return read_backup(
            store, item[0], item[1], tombstone_prefix=tombstone_prefix, verify_checksums=verify_checksums
        )

    if threads > 1 and isinstance(store, FsStore) and len(folders) > 64:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            records = list(pool.map(one, folders, chunksize=64))
    else:
        records = [one(item) for item in folders]
    records.sort(key=lambda r: (r.path, r.tombstoned))
    return records
