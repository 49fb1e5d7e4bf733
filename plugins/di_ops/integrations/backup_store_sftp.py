"""The backup store on an SFTP server (:class:`SftpStore`), behind the interface of
:mod:`di_ops.integrations.backup_store`; opened by ``store_from_connection`` through the SFTP hook
(strict host keys, :mod:`di_ops.integrations.sftp.hook`). paramiko's client is passed in.
"""

from __future__ import annotations

import hashlib
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from di_ops.integrations.backup_store import BackupStore, safe_rel
from di_ops.integrations.safe_read import HASH_CHUNK, Entry, Unreadable, refusal, sftp_kind, shown


class SftpStore(BackupStore):
    """A folder on an SFTP server (one paramiko SFTPClient; used from one thread)."""

    def __init__(self, client: Any, root: str, *, label: str = "sftp", closer: Any = None) -> None:
        self.client = client
        self.root = root.rstrip("/") or "/"
        self.label = f"{label}:{self.root}"
        self._closer = closer

    def _p(self, rel: str) -> str:
        rel = safe_rel(rel)
        return posixpath.join(self.root, rel) if rel else self.root

    def list_entries(self, rel: str) -> list[Entry]:
        path = self._p(rel)
        name = posixpath.basename(path)
        try:
            if safe_rel(rel):  # the root is the configured store: trusted
                st = self.client.lstat(path)
                if st.st_mode is None or not stat.S_ISDIR(st.st_mode):
                    raise refusal(name, st.st_mode or 0, "a folder")
            attrs = self.client.listdir_attr(path)
        except FileNotFoundError:
            return []
        except UnicodeDecodeError:  # paramiko decodes every name as UTF-8: one bad name fails the listing
            raise Unreadable(f"{shown(name)} holds a name that is not valid UTF-8 (not listable over SFTP)") from None
        return sorted((Entry(a.filename, sftp_kind(a.st_mode)) for a in attrs), key=lambda e: e.name)

    def read_limited(self, rel: str, limit: int) -> bytes:
        path = self._p(rel)
        name = posixpath.basename(path)
        st = self.client.lstat(path)  # lstat before open: a link or a FIFO is refused, not opened
        if st.st_mode is None or not stat.S_ISREG(st.st_mode):
            raise refusal(name, st.st_mode or 0, "a regular file")
        if int(st.st_size or 0) > limit:
            raise Unreadable(f"{shown(name)} larger than {limit} bytes")
        with self.client.open(path, "rb") as fh:
            data = bytes(fh.read(limit + 1))
        if len(data) > limit:
            raise Unreadable(f"{shown(name)} larger than {limit} bytes")
        return data

    @contextmanager
    def open_binary(self, rel: str) -> Iterator[BinaryIO]:
        path = self._p(rel)
        st = self.client.lstat(path)  # lstat before open: a link or a FIFO is refused, not opened
        if st.st_mode is None or not stat.S_ISREG(st.st_mode):
            raise refusal(posixpath.basename(path), st.st_mode or 0, "a regular file")
        with self.client.open(path, "rb") as fh:
            fh.prefetch()
            yield fh

    def file_size(self, rel: str) -> int | None:
        try:
            st = self.client.lstat(self._p(rel))
        except FileNotFoundError:
            return None
        return int(st.st_size) if st.st_mode is not None and stat.S_ISREG(st.st_mode) else None

    def sha256(self, rel: str, limit: int | None = None) -> str | None:
        if self.file_size(rel) is None:  # lstat first: never through a link, never a FIFO
            return None
        digest = hashlib.sha256()
        left = (1 << 63) if limit is None else limit
        try:
            with self.client.open(self._p(rel), "rb") as fh:
                fh.prefetch()
                while left > 0 and (chunk := fh.read(min(HASH_CHUNK, left))):
                    digest.update(chunk)
                    left -= len(chunk)
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
