"""Backup stores: a local/mounted filesystem or an SFTP server, behind one interface.

Layout (docs/pipelines/retention.md): ``<root>/<customer_id>/<cluster_id>/<application>/<backup_id>/`` holding a
``manifest.json`` (backup_id, customer_id, cluster_id, application, taken_at ISO-8601 with zone,
status, files: [{name, size, sha256}]) beside the archive files. Names starting with ``.`` are
never read as customers, clusters, applications or backups, except tombstones
(``<application>/<tombstone_prefix><backup_id>``): a backup being deleted, still listed by the scan
so that a rerun can finish (or undo) the deletion.

Safety (DOMAIN.md §3: an unreadable manifest stops pruning of its series, it is reported, nothing is
deleted): the scan never follows a link and never reads a special file (a FIFO, a device), reads
at most ``scan_max_manifest_bytes`` of a manifest, and turns every folder or manifest it cannot
read, type or store (a link, a name that is not plain UTF-8, JSON nested too deep, a file name
``..``, a size over 2**63-1, an instant outside the years of :mod:`di_ops.rules.timestamps`, a live folder beside its
tombstone) into a :class:`CatalogRecord` whose ``error`` holds its series with the reason; the
scan goes on with the rest. The checks are in :mod:`di_ops.integrations.safe_read`.

The store is named by the Airflow connection ``di_backup_store``: conn type ``fs`` with
``extra.path`` (an absolute folder), or ``sftp`` (host, port, login, password or ``extra.key_file``,
``extra.path`` the root folder on the server; host keys are always checked, see
:mod:`di_ops.integrations.sftp.hook`). The SFTP store is :mod:`di_ops.integrations.backup_store_sftp`.

The scan itself (records, manifests, tombstones) is in :mod:`di_ops.integrations.backup_scan`.
paramiko is imported only when an SFTP store is opened.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import BinaryIO

from di_ops.integrations.safe_read import (
    DEFAULT_MAX_MANIFEST_BYTES,
    RECORD_ERRNOS,
    Entry,
    FdView,
    FolderView,
    Unreadable,
    fs_kind,
    name_problem,
    open_child_dir,
    open_dir,
    open_regular,
    shown,
)

MANIFEST = "manifest.json"
DEFAULT_TOMBSTONE_PREFIX = ".tombstone."


class StoreError(RuntimeError):
    """The store cannot be reached or is misconfigured (a retry may or may not help)."""


class BackupStore(ABC):
    """Primitive operations on a backup store; paths are relative, '/'-separated."""

    label: str

    @abstractmethod
    def list_entries(self, rel: str) -> list[Entry]:
        """Every name in folder ``rel`` (sorted); [] when ``rel`` does not exist;
        :class:`Unreadable` when ``rel`` is a link, not a folder, or cannot be listed."""

    def list_dirs(self, rel: str) -> list[str]:
        """Names of the real sub-folders of ``rel`` (sorted; links and names that are not plain left
        out); [] when ``rel`` does not exist or is not a real folder."""
        try:
            entries = self.list_entries(rel)
        except Unreadable:
            return []
        return [e.name for e in entries if e.kind == "dir" and name_problem(e.name) is None]

    @abstractmethod
    def read_limited(self, rel: str, limit: int) -> bytes:
        """The bytes of regular file ``rel``, never through a link; :class:`Unreadable` when it is
        not a regular file or holds more than ``limit`` bytes; FileNotFoundError when missing."""

    def read_bytes(self, rel: str) -> bytes:
        return self.read_limited(rel, DEFAULT_MAX_MANIFEST_BYTES)

    @abstractmethod
    def file_size(self, rel: str) -> int | None:
        """Size of a regular file, None when it is missing or not a file."""

    @abstractmethod
    def sha256(self, rel: str, limit: int | None = None) -> str | None:
        """sha256 of (at most ``limit`` bytes of) a regular file; None when missing or not a file."""

    @abstractmethod
    def open_binary(self, rel: str) -> AbstractContextManager[BinaryIO]:
        """Regular file ``rel`` opened for reading (never through a link; :class:`Unreadable` when it is
        not a regular file, FileNotFoundError when missing): an archive's own listing reads it."""

    def folder(self, rel: str) -> AbstractContextManager[FolderView]:
        """The backup folder ``rel`` for reading its files (a store may hold it open meanwhile)."""
        return nullcontext(_PathView(self, rel))

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


class _PathView(FolderView):
    def __init__(self, store: BackupStore, rel: str) -> None:
        self.store, self.rel = store, rel

    def read_limited(self, name: str, limit: int) -> bytes:
        return self.store.read_limited(f"{self.rel}/{name}", limit)

    def file_size(self, name: str) -> int | None:
        return self.store.file_size(f"{self.rel}/{name}")

    def sha256(self, name: str, limit: int) -> str | None:
        return self.store.sha256(f"{self.rel}/{name}", limit)


def safe_rel(rel: str) -> str:
    parts = [p for p in rel.split("/") if p]
    if any(p in {".", ".."} for p in parts):
        raise ValueError(f"path {rel!r} leaves the store")
    return "/".join(parts)


class FsStore(BackupStore):
    """A local or mounted folder; every read goes component by component with O_NOFOLLOW."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_absolute():
            raise StoreError(f"backup store path must be absolute, got {str(root)!r}")
        self.label = f"fs:{self.root}"
        # per thread: the last backup folder's parent (an application folder), held open so that a
        # scan opens each backup folder with one openat instead of walking down from the root again
        self._parents: dict[int, tuple[str, int]] = {}
        self._parents_lock = threading.Lock()

    def _p(self, rel: str) -> str:
        rel = safe_rel(rel)
        return os.path.join(self.root, rel) if rel else str(self.root)

    def _parts(self, rel: str) -> list[str]:
        rel = safe_rel(rel)
        return rel.split("/") if rel else []

    def _open_dir(self, rel: str) -> int:
        parts = self._parts(rel)
        try:
            return open_dir(str(self.root), parts)
        except OSError as exc:
            if exc.errno not in RECORD_ERRNOS:
                raise
            raise Unreadable(f"{shown(parts[-1] if parts else '.')} cannot be opened: {exc.strerror}") from None

    def list_entries(self, rel: str) -> list[Entry]:
        try:
            fd = self._open_dir(rel)
        except FileNotFoundError:
            return []
        try:
            with os.scandir(fd) as it:
                entries = [Entry(e.name, fs_kind(e)) for e in it]
        except OSError as exc:
            if exc.errno not in RECORD_ERRNOS:
                raise
            raise Unreadable(f"{shown(rel.rsplit('/', 1)[-1])} cannot be listed: {exc.strerror}") from None
        finally:
            os.close(fd)
        return sorted(entries, key=lambda e: e.name)

    def _parent_fd(self, parent: str) -> int:
        """The descriptor of folder ``parent``, kept open for this thread until another is asked for."""
        key = threading.get_ident()
        with self._parents_lock:
            held = self._parents.get(key)
        if held is not None and held[0] == parent and os.fstat(held[1]).st_nlink > 0:  # not removed since
            return held[1]
        fd = self._open_dir(parent)
        with self._parents_lock:
            old = self._parents.pop(key, None)
            self._parents[key] = (parent, fd)
        if old is not None:
            os.close(old[1])
        return fd

    @contextmanager
    def folder(self, rel: str) -> Iterator[FolderView]:
        parent, _, name = safe_rel(rel).rpartition("/")
        if not name:
            fd = self._open_dir(rel)
        else:
            try:
                fd = open_child_dir(self._parent_fd(parent), name)
            except OSError as exc:
                if exc.errno not in RECORD_ERRNOS or isinstance(exc, FileNotFoundError):
                    raise
                raise Unreadable(f"{shown(name)} cannot be opened: {exc.strerror}") from None
        try:
            yield FdView(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._parents_lock:
            held, self._parents = list(self._parents.values()), {}
        for _parent, fd in held:
            os.close(fd)

    def read_limited(self, rel: str, limit: int) -> bytes:
        parent, _, name = safe_rel(rel).rpartition("/")
        with self.folder(parent) as view:
            return view.read_limited(name, limit)

    @contextmanager
    def open_binary(self, rel: str) -> Iterator[BinaryIO]:
        parent, _, name = safe_rel(rel).rpartition("/")
        with self.folder(parent) as view:
            assert isinstance(view, FdView)  # noqa: S101 - folder() of this store always holds a descriptor
            fd, _st = open_regular(view.fd, name)
        with os.fdopen(fd, "rb") as fh:
            yield fh

    def file_size(self, rel: str) -> int | None:
        parent, _, name = safe_rel(rel).rpartition("/")
        try:
            with self.folder(parent) as view:
                return view.file_size(name)
        except (FileNotFoundError, Unreadable):
            return None

    def sha256(self, rel: str, limit: int | None = None) -> str | None:
        parent, _, name = safe_rel(rel).rpartition("/")
        try:
            with self.folder(parent) as view:
                return view.sha256(name, (1 << 63) if limit is None else limit)
        except (FileNotFoundError, Unreadable):
            return None

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
    if kind == "sftp":  # the connection's extras are read by the hook (strict host-key checking)
        from di_ops.integrations.backup_store_sftp import SftpStore
        from di_ops.integrations.sftp.hook import DiOpsSftpHook

        hook = DiOpsSftpHook(conn_id)
        client = hook.get_conn()
        return SftpStore(client, hook.store_root, label=f"sftp://{hook.remote_host}", closer=hook.close_conn)
    raise StoreError(f"connection {conn_id}: conn type {conn.conn_type!r} is not a backup store; use fs or sftp")
