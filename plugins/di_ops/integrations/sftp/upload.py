"""Verified, atomic, resumable SFTP upload of one COP file (paramiko, imported inside functions).

Source: DOMAIN.md §5 (the published checksum must match before and after upload; a name with a
path component or not ending in ``.cop.sgn`` is refused) and docs/pipelines/cop.md (The upload).

The steps, each safe to repeat (a retry or rerun gives the same result and writes once):

1. connect with **strict host-key checking** against the known-hosts material of the connection
   (no material, an unknown or a changed key refuses the upload) and **key** authentication
   (:mod:`di_ops.integrations.sftp.session`);
2. the final name exists already: a regular file with the same SHA-512 means done
   (``already_present``); another checksum, or a symbolic link or anything but a regular file
   (``lstat``, never followed), is an error - never overwritten, never written through;
3. write to the temporary name ``.<name>.partial`` in the target folder (a leading dot: never a
   valid COP name, so a partial file never carries the final name); when a regular file is already
   there from an interrupted attempt, its bytes are checked (remote hash against the local prefix)
   and the upload **resumes** after them (the opened handle is checked to be that same file),
   otherwise it is removed and the upload starts over with an exclusive create (``O_EXCL``: never
   through a link planted in between). A link or any other non-regular entry at the temp name is
   removed (the link, not its target), never followed;
4. writes are pipelined (many requests in flight, sized to fill whole SSH packets;
   :mod:`di_ops.integrations.sftp.writer`); the local SHA-512 is computed after the transfer
   beside the server's hash, or over exactly the bytes sent, in a thread, during it;
5. verify size and SHA-512 of the remote temp file, hashed on the server over an SSH exec channel
   (``openssl dgst -sha512``, else ``sha512sum``) when the server allows it, else read back and
   hashed here; a mismatch refuses the upload (the temp is removed). The exec channel starts with
   the transfer (the remote shell's start-up is hidden) and hashes the complete file when it is
   done; or, with ``TransferTuning.stream_hash_bytes``, the server hashes the temp file while it
   is written (told how far the acknowledged bytes reach), so only the last step is left;
6. rename with the plain SFTP ``rename`` (OpenSSH: link + unlink, which refuses an existing
   target; ``posix-rename`` would replace it) - only when ``lstat`` shows the temp name is still a
   regular file of the right size and nothing is at the final name; afterwards the final name must
   be a regular file of the right size.

Errors a retry cannot fix derive from :class:`PermanentUploadError`; everything else (a dropped
link, a timeout) is transient and the retry resumes. Nothing secret is logged: no key material,
no passphrase; host keys are logged by fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from di_ops.integrations.sftp.hashing import Digest, HashAfter, HashWhileSending, NoHash, file_sha512
from di_ops.integrations.sftp.session import (
    AuthenticationRefused,
    ChecksumMismatch,
    HostKeyRefused,
    NameRefused,
    PermanentUploadError,
    PermissionRefused,
    RemoteFolderMissing,
    Session,
    SftpTarget,
    TargetConflict,
    TransferTuning,
    UploadError,
    UploadInterrupted,
    remote_sha512,
)
from di_ops.integrations.sftp.writer import Progress, RemoteHash, send_file
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


# --- upload -----------------------------------------------------------------------------------


def temp_name(name: str) -> str:
    """The temporary name in the target folder: hidden, and never a valid COP name."""
    return f".{name}.partial"


def _entry(session: Session, path: str) -> tuple[str, int] | None:
    """What is at ``path`` itself, never following a link: ``("file", size)`` for a regular file,
    ``("symbolic link" | "directory" | "special file", 0)`` otherwise, None when nothing is there."""
    try:
        attrs = session.sftp.lstat(path)
    except FileNotFoundError:
        return None
    mode = attrs.st_mode or 0
    if stat.S_ISREG(mode):
        return "file", int(attrs.st_size or 0)
    if stat.S_ISLNK(mode):
        return "symbolic link", 0
    return ("directory" if stat.S_ISDIR(mode) else "special file"), 0


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


def _resume_point(
    session: Session, local_path: Path, partial: str, size: int, tuning: TransferTuning
) -> tuple[int, Digest]:
    """Where to start writing the temp file, and the SHA-512 of the local bytes before that point.

    Resumes after a previous attempt's temp file when it is a regular file holding our first bytes;
    anything else there is removed (a link: the link itself, never its target) so the transfer
    starts over with an exclusive create.
    """
    entry = _entry(session, partial)
    if entry is None:
        return 0, hashlib.sha512()
    kind, partial_size = entry
    if kind == "file" and 0 < partial_size <= size:
        prefix = file_sha512(local_path, partial_size)
        remote, how = remote_sha512(session, partial, partial_size, tuning)
        if remote == prefix.hexdigest():
            log.info("resuming %s at byte %d of %d (prefix checked by %s)", partial, partial_size, size, how)
            return partial_size, prefix
        log.warning("the temp file %s does not hold our first %d bytes: starting over", partial, partial_size)
    elif kind == "file" and partial_size:
        log.warning("the temp file %s is larger than the file (%d > %d): starting over", partial, partial_size, size)
    elif kind != "file":
        log.warning("%s is a %s, not a temp file of ours: removed (never followed), starting over", partial, kind)
    try:
        session.sftp.remove(partial)
    except OSError as exc:
        if kind == "directory":
            raise TargetConflict(f"{partial} is a directory: remove it on the server ({exc})") from None
        raise
    return 0, hashlib.sha512()


def _require_our_file(session: Session, partial: str, size: int, when: str) -> None:
    """The temp name is still the regular file we wrote, of ``size`` bytes (never a link's target)."""
    entry = _entry(session, partial)
    if entry is not None and entry[0] != "file":
        if entry[0] == "symbolic link":
            session.sftp.remove(partial)  # the link, not its target
        raise TargetConflict(f"{partial} was replaced by a {entry[0]} {when}: nothing renamed")
    if entry is None:
        raise UploadInterrupted(f"{partial} is gone {when}")
    if entry[1] != size:
        raise UploadInterrupted(f"{partial} holds {entry[1]} bytes {when}, expected {size}")


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

    final_entry = _entry(session, final)
    if final_entry is not None and final_entry[0] != "file":
        raise TargetConflict(
            f"{final} on {session.target.host} is a {final_entry[0]}: refused, never written through or replaced"
        )
    if final_entry is not None:  # idempotent: done before, or a conflict never overwritten
        final_size = final_entry[1]
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

    offset, digest = _resume_point(session, local_path, partial, size, tuning)

    t_transfer = time.monotonic()
    hasher: HashWhileSending | NoHash = NoHash() if tuning.local_hash_after else HashWhileSending(digest)
    early_local = (
        HashAfter(local_path, digest, offset, tuning.hash_nice)
        if tuning.local_hash_after and tuning.hash_nice > 0
        else None
    )
    step = tuning.stream_hash_bytes if tuning.stream_hash_bytes < size - offset else 0
    remote_stream = (
        RemoteHash(session, partial, step, tuning.hash_nice) if session.target.remote_hash != "readback" else None
    )

    try:
        with local_path.open("rb") as source:
            sent = send_file(
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
    after = early_local or (HashAfter(local_path, digest, offset) if tuning.local_hash_after else None)
    _require_our_file(session, partial, size, "after the transfer")
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
    _require_our_file(session, partial, size, "before the rename")  # what the server hashed is what we rename
    try:
        final_entry = _entry(session, final)
        if final_entry is not None and final_entry[0] != "file":
            raise TargetConflict(f"a {final_entry[0]} appeared at {final} during the upload: nothing renamed")
        if final_entry is not None:
            raise FileExistsError(final)
        session.sftp.rename(partial, final)  # plain SFTP rename: refuses an existing target
    except OSError:
        final_entry = _entry(session, final)
        if final_entry is None:
            raise
        if final_entry[0] != "file":
            raise TargetConflict(f"a {final_entry[0]} appeared at {final} during the upload: nothing renamed") from None
        other, _ = remote_sha512(session, final, final_entry[1], tuning)
        if other != local_sha:
            raise TargetConflict(f"{final} appeared during the upload with another content: not overwritten") from None
        session.sftp.remove(partial)
        return receipt("already_present", local_sha, offset, sent, transfer_s, time.monotonic() - t_verify, how)
    landed = _entry(session, final)
    if landed is not None and landed[0] == "symbolic link":  # the temp name was swapped for a link at the rename
        session.sftp.remove(final)  # the link we renamed, not its target
        raise TargetConflict(f"{partial} was replaced by a link at the rename: the link was removed, nothing uploaded")
    if landed != ("file", size):
        raise UploadInterrupted(f"{final} is not a regular file of {size} bytes after the rename ({landed})")
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
