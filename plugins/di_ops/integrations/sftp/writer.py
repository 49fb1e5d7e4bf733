"""The transfer phase of the COP upload (:mod:`di_ops.integrations.sftp.upload`): pipelined SFTP
writes of whole requests, sized to fill whole SSH packets, and the server's hash that follows the
acknowledged bytes.

Source: DOMAIN.md §5 (the checksum must match after the upload) and docs/pipelines/cop.md (The
upload, Throughput). The writes are paramiko's public pipelined ``SFTPFile`` (``set_pipelined``,
a per-handle ``MAX_REQUEST_SIZE`` of one whole request): no library internals. Every
``TransferTuning.max_outstanding`` writes one write is sent unpipelined, which makes paramiko
wait for the replies to all writes before it and raise on an error status: the acknowledgement
points. The whole file is verified afterwards (size and SHA-512), so the writes can slow the
upload but never let a wrong byte through.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from typing import Any, BinaryIO

from di_ops.integrations.sftp.hashing import HashWhileSending, NoHash
from di_ops.integrations.sftp.session import (
    ChecksumMismatch,
    Session,
    StreamingSha512,
    TransferTuning,
    UploadInterrupted,
)

Progress = Callable[[int], None]  # called with the end of the acknowledged bytes


def check_opened(sftp: Any, path: str, handle: Any) -> None:
    """The handle opened at ``path`` is the regular file ``lstat`` shows there (not a link's target,
    not a file swapped in since it was checked): size, mtime and owner of the handle and the name agree."""
    opened, here = handle.stat(), sftp.lstat(path)
    if not stat.S_ISREG(here.st_mode or 0) or (opened.st_size, opened.st_mtime, opened.st_uid) != (
        here.st_size,
        here.st_mtime,
        here.st_uid,
    ):
        raise UploadInterrupted(f"{path} was replaced while it was opened for the resume: nothing written")


def request_size(session: Session, tuning: TransferTuning, handle: bytes) -> int:
    # Channel.send splits at the server's max packet size minus 64; an SFTP write carries
    # length(4) type(1) id(4) handle(4+n) offset(8) data-length(4) before the data.
    packet = max(4096, session.sftp.get_channel().out_max_packet_size - 64)
    return packet * tuning.packets_per_request - (25 + len(handle))


def send_pipelined(
    fh: Any,
    source: BinaryIO,
    offset: int,
    size: int,
    chunk: int,
    max_outstanding: int,
    hasher: HashWhileSending | NoHash,
    on_acked: Callable[[int], None],
) -> int:
    """Write ``source[offset:size]`` with paramiko's public pipelined ``SFTPFile.write``; returns the
    bytes sent. ``on_acked(end)`` runs at each acknowledgement point: every byte before ``end`` is written."""
    fh.MAX_REQUEST_SIZE = chunk  # this handle only: one whole request per write call
    fh.seek(offset)
    source.seek(offset)
    position, in_flight = offset, 0
    while position < size:
        data = source.read(min(chunk, size - position))
        if not data:
            raise ChecksumMismatch(f"the local file shrank while uploading (at byte {position} of {size})")
        hasher.feed(data)
        position += len(data)
        in_flight += 1
        acked = in_flight >= max_outstanding or position >= size
        # unpipelined, paramiko waits for the replies to this write and all before it
        fh.set_pipelined(not acked)
        fh.write(data)
        if acked:
            in_flight = 0
            on_acked(position)
    return position - offset


def send_file(
    session: Session,
    source: BinaryIO,
    remote: str,
    offset: int,
    size: int,
    hasher: HashWhileSending | NoHash,
    tuning: TransferTuning,
    progress: Progress | None,
    on_acked: Callable[[int], None] | None = None,
) -> int:
    """Pipelined SFTP writes of ``source[offset:size]`` to ``remote``; returns bytes sent.

    A fresh upload creates ``remote`` exclusively (``O_CREAT|O_EXCL`` refuses any entry there, a
    link included); a resume opens it and checks the handle is the file at that name before the
    first byte. ``on_acked(end)`` and ``progress(end)`` run as the writes are acknowledged: every
    byte before ``end`` is written.
    """
    sftp = session.sftp
    fh = sftp.open(remote, "r+b" if offset else "wx")

    def acked(end: int) -> None:
        if on_acked is not None:
            on_acked(end)
        if progress is not None:
            progress(end)

    try:
        if offset:
            check_opened(sftp, remote, fh)
        chunk = request_size(session, tuning, fh.handle)
        return send_pipelined(fh, source, offset, size, chunk, tuning.max_outstanding, hasher, acked)
    finally:
        fh.close()


class RemoteHash:
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
