"""The fast write path of the COP upload: SFTP WRITE requests built here and sent from a memoryview.

Source: docs/pipelines/cop.md (Throughput). paramiko's own pipelined ``SFTPFile.write`` slices the
rest of a message after every SSH packet, which copies a 256 KiB write about four times over, and
it waits for all requests in flight at once. This module sends each WRITE itself on the
``SFTPClient``'s request bookkeeping (``_lock``, ``request_number``, ``_expecting``,
``_read_response``) and waits for the oldest acknowledgement only, keeping the window full.

It is the only module that touches paramiko internals, and only for the paramiko versions the
tests ran on (:data:`TESTED_PARAMIKO`); on any other version :func:`fast_path_supported` is
False and :mod:`di_ops.integrations.sftp.writer` uses paramiko's public pipelined writes instead.
"""

from __future__ import annotations

import logging
import re
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO

from di_ops.integrations.sftp.hashing import HashWhileSending, NoHash
from di_ops.integrations.sftp.session import ChecksumMismatch, UploadInterrupted

log = logging.getLogger(__name__)

# paramiko versions (major, minor) whose SFTPClient internals this module was tested against,
# from (inclusive) .. to (exclusive). Widen only after tests/integrations/test_sftp_upload.py passed
# on the new version (both write paths run there against a real sshd).
TESTED_PARAMIKO = ((5, 1), (5, 2))
_VERSION = re.compile(r"^(\d+)\.(\d+)")


def fast_path_supported() -> bool:
    """Is the installed paramiko one whose internals :func:`send_fast` was tested against?"""
    import paramiko

    match = _VERSION.match(str(getattr(paramiko, "__version__", "")))
    version = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    supported = TESTED_PARAMIKO[0] <= version < TESTED_PARAMIKO[1]
    if not supported:
        log.info("paramiko %s is outside the tested range: public pipelined writes", paramiko.__version__)
    return supported


def write_request(sftp: Any, handle: bytes, position: int, data: memoryview) -> int:
    """Send one SFTP WRITE without waiting; returns its request number.

    The same bytes as ``SFTPClient._async_request(CMD_WRITE, ...)``, but sent from one buffer
    (``Channel.sendall`` of a memoryview slices without copying).
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


def send_fast(
    sftp: Any,
    fh: Any,
    source: BinaryIO,
    offset: int,
    size: int,
    chunk: int,
    max_outstanding: int,
    hasher: HashWhileSending | NoHash,
    on_acked: Callable[[int], None],
) -> int:
    """Write ``source[offset:size]`` to the open ``fh`` with ``max_outstanding`` writes in flight.

    ``on_acked(end)`` runs after each acknowledged write: every byte before ``end`` is written.
    Returns the bytes sent.
    """
    from paramiko.sftp import CMD_STATUS

    handle = fh.handle
    pending: deque[tuple[int, int]] = deque()  # (request number, end offset)

    def wait_oldest() -> None:
        number, end = pending.popleft()
        kind, _msg = sftp._read_response(number)  # raises IOError on an error status
        if kind != CMD_STATUS:
            raise UploadInterrupted(f"unexpected SFTP reply {kind} to a write")
        on_acked(end)  # every earlier write was acknowledged before: all bytes before ``end`` are written

    source.seek(offset)
    position = offset
    while position < size:
        data = source.read(min(chunk, size - position))
        if not data:
            raise ChecksumMismatch(f"the local file shrank while uploading (at byte {position} of {size})")
        hasher.feed(data)
        number = write_request(sftp, handle, position, memoryview(data))
        position += len(data)
        pending.append((number, position))
        if len(pending) >= max_outstanding:
            wait_oldest()
    while pending:
        wait_oldest()
    return position - offset
