"""Local SHA-512 of a COP file for the upload (:mod:`di_ops.integrations.sftp.upload`): a whole-file
pass, a thread fed the chunks while they are sent, or a thread started after the transfer (beside
the server's hash of the temp file). hashlib releases the GIL, so a hashing thread runs beside the
sending one.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import Protocol

HASH_BLOCK = 4 * 1024 * 1024


class Digest(Protocol):
    """What the upload needs of a running hash (``hashlib.sha512()`` is one)."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def file_sha512(path: Path, limit: int | None = None, *, offset: int = 0, digest: Digest | None = None) -> Digest:
    """SHA-512 of a file from ``offset`` on (or of ``limit`` bytes of it), continuing ``digest`` if given."""
    digest = digest if digest is not None else hashlib.sha512()
    buf = memoryview(bytearray(HASH_BLOCK))
    with path.open("rb", buffering=0) as fh:
        fh.seek(offset)
        remaining = limit
        while remaining is None or remaining > 0:
            n = fh.readinto(buf if remaining is None else buf[: min(HASH_BLOCK, remaining)])
            if not n:
                break
            digest.update(buf[:n])
            if remaining is not None:
                remaining -= n
    return digest


class HashWhileSending:
    """Hashes chunks in a thread (hashlib releases the GIL), overlapped with sending them."""

    def __init__(self, digest: Digest) -> None:
        self.digest = digest
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=256)
        self._thread = threading.Thread(target=self._run, name="sha512", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self.digest.update(chunk)

    def feed(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self.digest.hexdigest()


class NoHash:
    """``TransferTuning.local_hash_after``: nothing hashed while sending."""

    def feed(self, chunk: bytes) -> None:
        pass

    def hexdigest(self) -> str:
        return ""


class HashAfter:
    """The local file's SHA-512 from ``offset`` on (continuing ``digest``), in a thread started after
    the transfer, so it runs while the server hashes the temp file (hashlib releases the GIL)."""

    def __init__(self, path: Path, digest: Digest, offset: int, nice: int = 0) -> None:
        self.digest, self.nice = digest, nice
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path, offset), name="sha512-after", daemon=True)
        self._thread.start()

    def _run(self, path: Path, offset: int) -> None:
        if self.nice > 0 and hasattr(os, "setpriority"):
            try:  # Linux: a thread's own niceness (only CPU the sending threads leave idle)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except OSError:
                pass
        try:
            file_sha512(path, offset=offset, digest=self.digest)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self.error = exc

    def hexdigest(self) -> str:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.digest.hexdigest()
