"""Reading a backup store that may hold hostile records: no links, no special files, bounded input.

Source: DOMAIN.md §3 "Safety": an unreadable manifest stops pruning of its series; it is reported
and nothing is deleted. Everything here turns a record the scan cannot read, type or store into
:class:`Unreadable` with a reason that is itself safe to store (no control characters, no lone
surrogates, bounded length), so the scan reports it and goes on with the rest.

The limits are chosen here (the source gives none): customer, cluster and application names fit
the ops DB's 64-character columns, a backup folder name 200 characters, a backup id 250; JSON
deeper than :data:`MAX_JSON_DEPTH` is refused (a manifest is 3 levels deep); instants must fit
signed 64-bit nanoseconds (1677-09-21 … 2262-04-11 UTC), the range of the plan's columnar form.
The manifest size limit is the setting ``scan_max_manifest_bytes`` (include/config/retention.yaml).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from di_ops.rules.timestamps import MAX_YEAR, MIN_YEAR, OutOfRange, parse_instant

MAX_JSON_DEPTH = 64
DEFAULT_MAX_MANIFEST_BYTES = 1 << 20
SERIES_NAME_MAX = 64  # customer, cluster, application: String(64) in retention_plan
BACKUP_NAME_MAX = 200
FILE_NAME_MAX_BYTES = 255  # NAME_MAX of Linux file systems
TEXT_LIMITS = {"backup_id": 250, "customer_id": 64, "cluster_id": 64, "application": 64, "taken_at": 64, "status": 32}
INT64_MAX = 2**63 - 1
MIN_NS, MAX_NS = -(2**63), INT64_MAX
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HASH_CHUNK = 1 << 20
# Not in a stored name: control/format/surrogate/private-use characters, line and paragraph separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_PLAIN_ASCII = re.compile(r"[\x20-\x2e\x30-\x5b\x5d-\x7e]*")  # printable ASCII without '/' and '\'
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# A file-system error about one record, not the store: that record is reported, the scan goes on.
RECORD_ERRNOS = frozenset(
    {
        errno.EACCES, errno.EPERM, errno.ELOOP, errno.EISDIR, errno.ENOTDIR, errno.ENXIO, errno.EIO,
        errno.EINVAL, errno.ENAMETOOLONG, errno.EOVERFLOW, errno.EFBIG,
    }
)  # fmt: skip


class Unreadable(ValueError):
    """A record the scan refuses to read or use; ``str(exc)`` is the reason (safe to store)."""


def kind_of(mode: int) -> str:
    """'a symlink', 'a FIFO', … for a reason text."""
    for test, name in (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def refusal(name: str, mode: int, wanted: str) -> Unreadable:
    """``manifest.json is a symlink: not followed`` / ``manifest.json is a FIFO, not a regular file``."""
    kind = kind_of(mode)
    if stat.S_ISLNK(mode):
        return Unreadable(f"{shown(name)} is a symlink: not followed")
    return Unreadable(f"{shown(name)} is {kind}, not {wanted}")


def shown(name: str, max_chars: int = 120) -> str:
    """An injective, storable spelling of a name: ``\\`` doubled, an undecodable byte as ``\\xNN``,
    a control, format or surrogate character (and ``/``) as ``\\uNNNN``; a plain name is itself.

    A spelling longer than ``max_chars`` keeps a prefix and a hash of the whole name. Every
    spelling of a name that is not plain contains a ``\\``, which no plain name does, so the
    spelling of a hostile folder never equals the name of a real one.
    """
    if name in {"", ".", ".."}:
        text = "\\u" + "\\u".join(f"{ord(c):04x}" for c in name) if name else "\\(empty)"
    elif _PLAIN_ASCII.fullmatch(name):
        text = name
    else:
        out = []
        for ch in name:
            code = ord(ch)
            if ch == "\\":
                out.append("\\\\")
            elif 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogateescape of an undecodable byte
                out.append(f"\\x{code - 0xDC00:02x}")
            elif ch == "/" or unicodedata.category(ch) in _BAD_CATEGORIES:
                out.append(f"\\u{code:04x}")
            else:
                out.append(ch)
        text = "".join(out)
    if len(text) <= max_chars:
        return text
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{text[: max_chars - 26]}\\#{digest}"


def name_problem(name: str, *, max_chars: int | None = None, max_bytes: int | None = None) -> str | None:
    """Why ``name`` is not a plain name (folder or file), or None: e.g. ``is not valid UTF-8``."""
    if not isinstance(name, str):
        return "is not a string"
    if name in {"", ".", ".."}:
        return "is not a plain name"
    if not _PLAIN_ASCII.fullmatch(name):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
            return "is not valid UTF-8"
        if "/" in name or "\\" in name:
            return "contains '/' or '\\'"
        if any(unicodedata.category(c) in _BAD_CATEGORIES for c in name):
            return "contains a control or format character"
    if max_chars is not None and len(name) > max_chars:
        return f"is longer than {max_chars} characters"
    if max_bytes is not None and len(name.encode()) > max_bytes:
        return f"is longer than {max_bytes} bytes"
    return None


def text_problem(field: str, value: Any) -> str | None:
    """Why a manifest text field cannot be stored (None for a storable string or a non-string)."""
    if not isinstance(value, str):
        return None  # a missing or non-text value is judged by the data-quality checks
    limit = TEXT_LIMITS[field]
    if len(value) > limit:
        return f"{field} is longer than {limit} characters"
    if not _PLAIN_ASCII.fullmatch(value):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            return f"{field} {shown(value, 80)} is not valid UTF-8"
        if any(unicodedata.category(c) in _BAD_CATEGORIES for c in value):
            return f"{field} {shown(value, 80)} contains a control or format character"
    return None


# --- bounded, depth-limited JSON ----------------------------------------------------------


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests deeper than ``limit`` containers (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_manifest(data: bytes, name: str = "manifest.json") -> dict[str, Any]:
    """The manifest object; :class:`Unreadable` for bad JSON, nesting deeper than 64, no files list."""
    too_deep = Unreadable(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        manifest = json.loads(data)
    except RecursionError:  # the C parser gives up near the interpreter's recursion limit
        raise too_deep from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer over 4300 digits
        raise Unreadable(f"{name} unreadable: {str(exc)[:200]}") from None
    # only a text with more brackets than the limit can nest deeper: the walk is skipped for the rest
    brackets = data.count(b"[") + data.count(b"{")
    if brackets > MAX_JSON_DEPTH and isinstance(manifest, dict | list) and depth_exceeds(manifest, MAX_JSON_DEPTH):
        raise too_deep
    if not isinstance(manifest, dict):
        raise Unreadable(f"{name} unreadable: manifest is not a JSON object")
    if not isinstance(manifest.get("files"), list):
        raise Unreadable(f"{name} unreadable: manifest has no files list")
    return manifest


def file_entries(files: list[Any]) -> list[tuple[str, int, Any]]:
    """(name, size, sha256) of every listed file; :class:`Unreadable` names the first bad entry."""
    out = []
    total = 0
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise Unreadable(f"files[{i}] is not an object")
        name = entry.get("name")
        problem = name_problem(name, max_bytes=FILE_NAME_MAX_BYTES)
        if problem:
            spelled = (
                name if name in {".", ".."} else shown(name, 80) if isinstance(name, str) else name.__class__.__name__
            )
            detail = "" if problem == "is not a plain name" else f" ({problem})"
            raise Unreadable(f"files[{i}].name '{spelled}' is not a plain file name{detail}")
        size = entry.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= INT64_MAX:
            spelled = shown(repr(size), 60) if not isinstance(size, int) or size.bit_length() < 200 else "a huge number"
            raise Unreadable(f"files[{i}].size {spelled} is not a byte count (an integer 0 … 2**63-1)")
        total += size
        if total > INT64_MAX:
            raise Unreadable("the listed file sizes add up to more than 2**63-1 bytes")
        out.append((name, size, entry.get("sha256")))
    return out


# --- instants -----------------------------------------------------------------------------


def instant_ns(value: str) -> int | None:
    """UTC nanoseconds of a timestamp valid by :func:`di_ops.rules.timestamps.parse_instant`; None when
    it is not one (naive, malformed); :class:`Unreadable` when well-formed but its year lies outside
    the rule's range (which lies inside signed 64-bit nanoseconds)."""
    try:
        moment = parse_instant(value, what="taken_at")
    except OutOfRange:
        raise Unreadable(f"taken_at {shown(value, 64)} out of range ({MIN_YEAR}-{MAX_YEAR})") from None
    except ValueError:
        return None
    delta = moment - EPOCH  # exact (timedelta arithmetic)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def parse_instant_ns(value: Any) -> int | None:
    """UTC nanoseconds of a timestamp valid by :func:`di_ops.rules.timestamps.parse_instant`; None when
    missing or not valid (naive, malformed, a year outside the rule's range)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return instant_ns(value)
    except Unreadable:
        return None


# --- the local file system: nothing through links, no special files ----------------------


def open_child_dir(dir_fd: int, part: str) -> int:
    """A descriptor of folder ``part`` inside ``dir_fd``, never through a link.

    FileNotFoundError when it is missing; :class:`Unreadable` when it is a link or not a folder.
    """
    try:
        return os.open(part, DIR_FLAGS, dir_fd=dir_fd)
    except (NotADirectoryError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        st = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            raise
        raise refusal(part, st.st_mode, "a folder") from None


def open_dir(root: str, parts: list[str]) -> int:
    """A descriptor of ``root/parts…``, opened one component at a time without following a link.

    FileNotFoundError when a component is missing; :class:`Unreadable` when one is a link or not
    a folder (the root itself is the configured store and is trusted).
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            child = open_child_dir(fd, part)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(dir_fd: int, name: str) -> tuple[int, os.stat_result]:
    """Open ``name`` in ``dir_fd`` for reading, refusing links and non-regular files before and after.

    O_NOFOLLOW refuses a link, O_NONBLOCK keeps a FIFO swapped in after the lstat from blocking the
    open, and the fstat of the opened descriptor re-checks that it is a regular file.
    """
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        raise refusal(name, st.st_mode, "a regular file")
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        raise refusal(name, st.st_mode, "a regular file") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise refusal(name, st.st_mode, "a regular file")
    return fd, st


def read_fd(fd: int, name: str, limit: int) -> bytes:
    """At most ``limit`` bytes of an open regular file; :class:`Unreadable` when there are more."""
    chunks, got = [], 0
    while got <= limit:
        chunk = os.read(fd, min(HASH_CHUNK, limit + 1 - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    if got > limit:
        raise Unreadable(f"{shown(name)} larger than {limit} bytes")
    return b"".join(chunks)


def hash_fd(fd: int, limit: int) -> str:
    """sha256 of at most ``limit`` bytes of an open file."""
    digest = hashlib.sha256()
    left = limit
    while left > 0 and (chunk := os.read(fd, min(HASH_CHUNK, left))):
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()


# --- listing and reading folders --------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One name in a store folder; ``kind`` as lstat sees it (a link is never followed)."""

    name: str  # FsStore: an undecodable byte as a surrogate escape (os.fsdecode)
    kind: Literal["dir", "link", "other"]


class FolderView(ABC):
    """The files of one backup folder (names relative to it), read without following links."""

    @abstractmethod
    def read_limited(self, name: str, limit: int) -> bytes: ...

    @abstractmethod
    def file_size(self, name: str) -> int | None: ...

    @abstractmethod
    def sha256(self, name: str, limit: int) -> str | None: ...


class FdView(FolderView):
    """A backup folder held open by descriptor: every file is opened relative to it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read_limited(self, name: str, limit: int) -> bytes:
        fd, st = open_regular(self.fd, name)
        try:
            if st.st_size > limit:
                raise Unreadable(f"{shown(name)} larger than {limit} bytes")
            return read_fd(fd, name, limit)
        finally:
            os.close(fd)

    def file_size(self, name: str) -> int | None:
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def sha256(self, name: str, limit: int) -> str | None:
        try:
            fd, _ = open_regular(self.fd, name)
        except (FileNotFoundError, Unreadable):
            return None
        try:
            return hash_fd(fd, limit)
        finally:
            os.close(fd)


def fs_kind(entry: os.DirEntry[str]) -> Literal["dir", "link", "other"]:
    if entry.is_symlink():
        return "link"
    return "dir" if entry.is_dir(follow_symlinks=False) else "other"


def sftp_kind(mode: int | None) -> Literal["dir", "link", "other"]:
    if mode is not None and stat.S_ISLNK(mode):
        return "link"
    return "dir" if mode is not None and stat.S_ISDIR(mode) else "other"
