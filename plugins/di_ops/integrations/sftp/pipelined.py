"""The pipelined SFTP writer of the COP upload (:mod:`di_ops.integrations.sftp.upload`): many WRITE
requests in flight, each sized to fill whole SSH packets and sent from a memoryview.

``write_request`` builds the WRITE packet itself on paramiko's ``SFTPClient`` request bookkeeping
(``_lock``, ``request_number``, ``_expecting``, ``_read_response``): paramiko's own async write
slices the message after every SSH packet, which copies a 256 KiB write about 4 times over. This is
the one place that depends on those paramiko internals.
"""

from __future__ import annotations

import stat
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO

from di_ops.integrations.sftp.hashing import HashWhileSending, NoHash
from di_ops.integrations.sftp.session import ChecksumMismatch, Session, TransferTuning, UploadInterrupted

Progress = Callable[[int], None]


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


def write_request(sftp: Any, handle: bytes, position: int, data: memoryview) -> int:
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

    ``on_acked(end)`` runs after each acknowledged write: every byte before ``end`` is written.
    """
    from paramiko.sftp import CMD_STATUS

    sftp = session.sftp
    # fresh: exclusive create (O_CREAT|O_EXCL refuses any entry there, a link included)
    fh = sftp.open(remote, "r+b" if offset else "wx")
    handle = fh.handle
    chunk = request_size(session, tuning, handle)
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
        if offset:
            check_opened(sftp, remote, fh)
        source.seek(offset)
        position = offset
        while position < size:
            data = source.read(min(chunk, size - position))
            if not data:
                raise ChecksumMismatch(f"the local file shrank while uploading (at byte {position} of {size})")
            hasher.feed(data)
            number = write_request(sftp, handle, position, memoryview(data))
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
