"""Verified, atomic, resumable SFTP upload of one COP file (paramiko, imported inside functions).

Source: DOMAIN.md §5 (the published checksum must match before and after upload; a name with a
path component or not ending in ``.cop.sgn`` is refused) and the COP upload issue.

The steps, each safe to repeat (a retry or rerun gives the same result and writes once):

1. connect with **strict host-key checking** against the known-hosts material of the connection
   (no material, an unknown or a changed key refuses the upload) and **key** authentication
   (:mod:`di_ops.adapters.sftp_session`);
2. the final name exists already: same SHA-512 means done (``already_present``); another checksum
   is an error - never overwritten;
3. write to the temporary name ``.<name>.partial`` in the target folder (a leading dot: never a
   valid COP name, so a partial file never carries the final name); when it is already there from
   an interrupted attempt, its bytes are checked (remote hash against the local prefix) and the
   upload **resumes** after them, otherwise it starts over;
4. writes are pipelined (many requests in flight, sized to fill whole SSH packets); the local
   SHA-512 is computed over exactly the bytes sent, in a thread, overlapped with the transfer;
5. verify size and SHA-512 of the remote temp file, hashed on the server over an SSH exec channel
   (``openssl dgst -sha512``, else ``sha512sum``) when the server allows it, else read back and
   hashed here; a mismatch refuses the upload (the temp is removed). The exec channel starts with
   the transfer (the remote shell's start-up is hidden) and hashes the complete file when it is
   done; or, with ``TransferTuning.stream_hash_bytes``, the server hashes the temp file while it
   is written (told how far the acknowledged bytes reach), so only the last step is left;
6. rename with the plain SFTP ``rename`` (OpenSSH: link + unlink, which refuses an existing
   target; ``posix-rename`` would replace it).

Errors a retry cannot fix derive from :class:`PermanentUploadError`; everything else (a dropped
link, a timeout) is transient and the retry resumes. Nothing secret is logged: no key material,
no passphrase; host keys are logged by fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import queue
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from di_ops.adapters.sftp_session import (
    AuthenticationRefused,
    ChecksumMismatch,
    HostKeyRefused,
    NameRefused,
    PermanentUploadError,
    PermissionRefused,
    RemoteFolderMissing,
    Session,
    SftpTarget,
    StreamingSha512,
    TargetConflict,
    TransferTuning,
    UploadError,
    UploadInterrupted,
    remote_sha512,
)
from di_ops.rules.cop import validate_cop_name

__all__ = [
    "AuthenticationRefused",
    "ChecksumMismatch",
    "HostKeyRefused",
    "NameRefused",
    "PermanentUploadError",
    "PermissionRefused",
    "RemoteFolderMissing",
    "SftpTarget",
    "TargetConflict",
    "TransferTuning",
    "UploadError",
    "UploadInterrupted",
    "UploadReceipt",
    "file_sha512",
    "temp_name",
    "upload_file",
]

log = logging.getLogger(__name__)
_HASH_BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class UploadReceipt:
    file: str
    remote_path: str
    bytes: int
    sha512: str
    outcome: str  # uploaded | resumed | already_present
    resumed_from: int
    bytes_sent: int
    duration_s: float
    transfer_s: float
    verify_s: float
    mb_per_s: float  # file bytes / whole duration, MB = 10**6 bytes
    verify_method: str  # "exec sha512" (openssl dgst or sha512sum on the server) | "..., streamed ..." | "read-back"
    host_key_fingerprint: str
    cipher: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[int], None]


# --- local hashing ----------------------------------------------------------------------------


def file_sha512(
    path: Path, limit: int | None = None, *, offset: int = 0, digest: hashlib._Hash | None = None
) -> hashlib._Hash:
    """SHA-512 of a file from ``offset`` on (or of ``limit`` bytes of it), continuing ``digest`` if given."""
    digest = digest if digest is not None else hashlib.sha512()
    buf = memoryview(bytearray(_HASH_BLOCK))
    with path.open("rb", buffering=0) as fh:
        fh.seek(offset)
        remaining = limit
        while remaining is None or remaining > 0:
            n = fh.readinto(buf if remaining is None else buf[: min(_HASH_BLOCK, remaining)])
            if not n:
                break
            digest.update(buf[:n])
            if remaining is not None:
                remaining -= n
    return digest


class _HashThread:
    """Hashes chunks in a thread (hashlib releases the GIL), overlapped with sending them."""

    def __init__(self, digest: hashlib._Hash) -> None:
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


class _NoHash:
    """``TransferTuning.local_hash_after``: nothing hashed while sending."""

    def feed(self, chunk: bytes) -> None:
        pass

    def hexdigest(self) -> str:
        return ""


class _HashAfter:
    """The local file's SHA-512 from ``offset`` on (continuing ``digest``), in a thread started after
    the transfer, so it runs while the server hashes the temp file (hashlib releases the GIL)."""

    def __init__(self, path: Path, digest: hashlib._Hash, offset: int, nice: int = 0) -> None:
        self.digest, self.error, self.nice = digest, None, nice
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


# --- upload -----------------------------------------------------------------------------------


def temp_name(name: str) -> str:
    """The temporary name in the target folder: hidden, and never a valid COP name."""
    return f".{name}.partial"


def _request_size(session: Session, tuning: TransferTuning, handle: bytes) -> int:
    # Channel.send splits at the server's max packet size minus 64; an SFTP write carries
    # length(4) type(1) id(4) handle(4+n) offset(8) data-length(4) before the data.
    packet = max(4096, session.sftp.get_channel().out_max_packet_size - 64)
    return packet * tuning.packets_per_request - (25 + len(handle))


def _write_request(sftp: Any, handle: bytes, position: int, data: memoryview) -> int:
    """Send one SFTP WRITE without waiting; returns its request number.

    The same bytes as ``SFTPClient._async_request(CMD_WRITE, ...)``, but sent from a memoryview:
    paramiko slices the rest of a bytes message after every SSH packet, which copies a 256 KiB
    write about 4 times over.
    """
    from paramiko.sftp import CMD_WRITE

    with sftp._lock:
        number = int(sftp.request_number)
        sftp._expecting[number] = type(None)
        sftp.request_number += 1
    header = struct.pack(">IBII", 1 + 4 + 4 + len(handle) + 8 + 4 + len(data), CMD_WRITE, number, len(handle))
    message = bytearray(header)
    message += handle
    message += struct.pack(">QI", position, len(data))
    message += data
    sftp.sock.sendall(memoryview(message))
    return number


def _send_file(
    session: Session,
    source: BinaryIO,
    remote: str,
    offset: int,
    size: int,
    hasher: _HashThread,
    tuning: TransferTuning,
    progress: Progress | None,
    on_acked: Callable[[int], None] | None = None,
) -> int:
    """Pipelined SFTP writes of ``source[offset:size]`` to ``remote``; returns bytes sent.

    ``on_acked(end)`` runs after each acknowledged write: every byte before ``end`` is written.
    """
    from paramiko.sftp import CMD_STATUS

    sftp = session.sftp
    fh = sftp.open(remote, "r+b" if offset else "wb")
    handle = fh.handle
    chunk = _request_size(session, tuning, handle)
    pending: deque[tuple[int, int]] = deque()  # (request number, end offset)
    sent = 0

    def wait_oldest() -> None:
        number, end = pending.popleft()
        kind, _msg = sftp._read_response(number)  # raises IOError on an error status
        if kind != CMD_STATUS:
            raise UploadInterrupted(f"unexpected SFTP reply {kind} to a write")
        if on_acked is not None:
            on_acked(end)  # every earlier write was acknowledged before: all bytes before ``end`` are written

    try:
        source.seek(offset)
        position = offset
        while position < size:
            data = source.read(min(chunk, size - position))
            if not data:
                raise ChecksumMismatch(f"the local file shrank while uploading (at byte {position} of {size})")
            hasher.feed(data)
            number = _write_request(sftp, handle, position, memoryview(data))
            position += len(data)
            sent += len(data)
            pending.append((number, position))
            if len(pending) >= tuning.max_outstanding:
                wait_oldest()
                if progress is not None:
                    progress(position)
        while pending:
            wait_oldest()
    finally:
        fh.close()
    return sent


def _classify(exc: BaseException, target: SftpTarget, what: str) -> UploadError:
    if isinstance(exc, UploadError):
        return exc
    if isinstance(exc, PermissionError):
        return PermissionRefused(
            f"permission denied: {target.username} may not {what} in {target.remote_folder!r} on "
            f"{target.host}:{target.port} ({exc}); fix the folder's permissions or the connection's folder"
        )
    if isinstance(exc, FileNotFoundError):
        return RemoteFolderMissing(
            f"{target.remote_folder!r} does not exist on {target.host}:{target.port} ({exc}); "
            "fix the connection's remote_folder"
        )
    return UploadInterrupted(f"{what} interrupted on {target.host}:{target.port}: {type(exc).__name__}: {exc}")


class _RemoteHash:
    """The server's SHA-512 of the temp file on an exec channel (:class:`StreamingSha512`).

    Started at the first acknowledged write (the temp file exists then; the remote shell starts
    while the transfer goes on); with ``step`` > 0 told every ``step`` more acknowledged bytes,
    else told the whole size once the transfer is done.
    """

    def __init__(self, session: Session, path: str, step: int, nice: int = 0) -> None:
        self.session, self.path, self.step, self.nice = session, path, step, nice
        self.stream: StreamingSha512 | None = None

    def acked(self, end: int) -> None:
        if self.stream is None:
            self.stream = StreamingSha512(self.session, self.path, streamed=self.step > 0, nice=self.nice)
        if self.step > 0 and end - self.stream.extended >= self.step:
            self.stream.extend(end - self.stream.extended)

    def finish(self, size: int) -> str | None:
        if self.stream is None:
            return None
        self.stream.extend(size - self.stream.extended)
        return self.stream.finish()


def upload_file(
    target: SftpTarget,
    local_path: Path,
    name: str | None = None,
    *,
    expected_sha512: str | None = None,
    tuning: TransferTuning | None = None,
    progress: Progress | None = None,
) -> UploadReceipt:
    """Upload ``local_path`` as ``name`` into ``target.remote_folder``: verified, atomic, resumable.

    ``expected_sha512``: the checksum validated earlier; the bytes actually sent must hash to it.
    """
    tuning = tuning or TransferTuning()
    name = name or local_path.name
    try:
        validate_cop_name(name)
    except ValueError as exc:
        raise NameRefused(str(exc)) from None
    started = time.monotonic()
    size = local_path.stat().st_size
    final = posixpath.join(target.remote_folder, name)
    partial = posixpath.join(target.remote_folder, temp_name(name))
    session = Session(target, tuning)
    try:
        return _upload(session, local_path, name, final, partial, size, expected_sha512, tuning, progress, started)
    except UploadError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified: permanent or transient
        raise _classify(exc, target, "write") from exc
    finally:
        session.close()


def _upload(
    session: Session,
    local_path: Path,
    name: str,
    final: str,
    partial: str,
    size: int,
    expected_sha512: str | None,
    tuning: TransferTuning,
    progress: Progress | None,
    started: float,
) -> UploadReceipt:
    def receipt(outcome: str, sha: str, resumed_from: int, sent: int, transfer: float, verify: float, how: str):  # type: ignore[no-untyped-def]
        duration = time.monotonic() - started
        return UploadReceipt(
            file=name,
            remote_path=final,
            bytes=size,
            sha512=sha,
            outcome=outcome,
            resumed_from=resumed_from,
            bytes_sent=sent,
            duration_s=round(duration, 4),
            transfer_s=round(transfer, 4),
            verify_s=round(verify, 4),
            mb_per_s=round(size / duration / 1e6, 2) if duration > 0 else 0.0,
            verify_method=how,
            host_key_fingerprint=session.host_key_fingerprint,
            cipher=session.cipher,
        )

    final_size = session.stat_size(final)
    if final_size is not None:  # idempotent: done before, or a conflict never overwritten
        local = expected_sha512 or file_sha512(local_path).hexdigest()
        t0 = time.monotonic()
        remote, how = remote_sha512(session, final, final_size, tuning)
        if final_size == size and remote == local:
            log.info("%s is already on %s with the same SHA-512: nothing to do", name, session.target.describe())
            return receipt("already_present", local, 0, 0, 0.0, time.monotonic() - t0, how)
        raise TargetConflict(
            f"{final} already exists on {session.target.host} with another content "
            f"({final_size} bytes, sha512 {remote[:16]}...; ours {size} bytes, {local[:16]}...): never overwritten"
        )

    # resume from a previous attempt's temp file when its bytes are ours
    offset, digest = 0, hashlib.sha512()
    partial_size = session.stat_size(partial)
    if partial_size is not None and 0 < partial_size <= size:
        prefix = file_sha512(local_path, partial_size)
        remote, how = remote_sha512(session, partial, partial_size, tuning)
        if remote == prefix.hexdigest():
            offset, digest = partial_size, prefix
            log.info("resuming %s at byte %d of %d (prefix checked by %s)", name, offset, size, how)
        else:
            log.warning("the temp file %s does not hold our first %d bytes: starting over", partial, partial_size)
    elif partial_size:
        log.warning("the temp file %s is larger than the file (%d > %d): starting over", partial, partial_size, size)

    t_transfer = time.monotonic()
    hasher: _HashThread | _NoHash = _NoHash() if tuning.local_hash_after else _HashThread(digest)
    early_local = (
        _HashAfter(local_path, digest, offset, tuning.hash_nice)
        if tuning.local_hash_after and tuning.hash_nice > 0
        else None
    )
    step = tuning.stream_hash_bytes if tuning.stream_hash_bytes < size - offset else 0
    remote_stream = (
        _RemoteHash(session, partial, step, tuning.hash_nice) if session.target.remote_hash != "readback" else None
    )

    try:
        with local_path.open("rb") as source:
            sent = _send_file(
                session,
                source,
                partial,
                offset,
                size,
                hasher,
                tuning,
                progress,
                remote_stream.acked if remote_stream else None,
            )
    finally:
        sent_sha = hasher.hexdigest()
    transfer_s = time.monotonic() - t_transfer

    t_verify = time.monotonic()
    after = early_local or (_HashAfter(local_path, digest, offset) if tuning.local_hash_after else None)
    remote_size = session.stat_size(partial)
    if remote_size != size:
        raise UploadInterrupted(f"{partial} holds {remote_size} bytes after the transfer, expected {size}")
    early = remote_stream.finish(size) if remote_stream else None
    local_sha = after.hexdigest() if after is not None else sent_sha
    if expected_sha512 is not None and local_sha != expected_sha512.lower():
        raise ChecksumMismatch(
            f"{local_path} changed since it was validated: sha512 {local_sha[:16]}... is not the "
            f"expected {expected_sha512[:16]}...; nothing renamed"
        )
    if early is not None and (early == local_sha or not step):
        # the server hashed the temp file on the channel started with the transfer: the complete
        # file now, or (streamed) each byte after its write was acknowledged
        remote, how = early, "exec sha512, streamed during the transfer" if step else "exec sha512"
    else:  # no exec, or a streamed hash that differs: the whole temp file as it is now decides
        if early is not None:
            log.warning("the streamed remote sha512 of %s differs: hashing the whole temp file again", partial)
        remote, how = remote_sha512(session, partial, size, tuning)
    if remote != local_sha:
        session.sftp.remove(partial)  # bad bytes must not be resumed from
        raise ChecksumMismatch(
            f"remote sha512 of {partial} ({remote[:16]}...) differs from the local {local_sha[:16]}...; "
            "the temp file was removed and nothing renamed"
        )
    try:
        session.sftp.rename(partial, final)  # plain SFTP rename: refuses an existing target
    except OSError:
        final_size = session.stat_size(final)
        if final_size is None:
            raise
        other, _ = remote_sha512(session, final, final_size, tuning)
        if other != local_sha:
            raise TargetConflict(f"{final} appeared during the upload with another content: not overwritten") from None
        session.sftp.remove(partial)
        return receipt("already_present", local_sha, offset, sent, transfer_s, time.monotonic() - t_verify, how)
    if session.stat_size(final) != size:
        raise UploadInterrupted(f"{final} does not hold {size} bytes after the rename")
    verify_s = time.monotonic() - t_verify
    outcome = "resumed" if offset else "uploaded"
    result = receipt(outcome, local_sha, offset, sent, transfer_s, verify_s, how)
    log.info(
        "%s %s to %s: %d bytes (%d sent), %.2f s, %.1f MB/s, verified by %s, cipher %s",
        outcome,
        name,
        session.target.describe(),
        size,
        sent,
        result.duration_s,
        result.mb_per_s,
        how,
        session.cipher,
    )
    return result
