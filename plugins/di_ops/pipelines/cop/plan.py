"""COP upload requests: the inbox (read and moved without following links), parsing, published
checksums, validation and timing (no Airflow, no network).

Source: DOMAIN.md §5 (customer-initiated uploads go to the customer's SFTP server; an operator
emergency COP goes in the next maintenance window, weekend included; any other operator COP is
regular maintenance with notice, §2; the published checksum must match; bad names are refused).
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from di_ops.rules.change import earliest_change_window
from di_ops.rules.cop import validate_cop_name
from di_ops.rules.maintenance import Window, next_window, window_at

Origin = Literal["customer", "operator"]
# Published checksum algorithms by hex length (GNU ``hex  name`` lines carry no algorithm name),
# in the order a request's validation checks them.
HEX_LENGTHS = {"sha512": 128, "sha256": 64, "md5": 32}
_GNU_LINE = re.compile(r"^(?P<hex>[0-9A-Fa-f]{128}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{32}) [ *](?P<name>.+)$")
_BSD_LINE = re.compile(r"^(?P<algo>SHA512|SHA256|MD5) \((?P<name>.+)\) = (?P<hex>[0-9A-Fa-f]+)$")
_ALGO_LABELS = {"sha512": "SHA-512", "sha256": "SHA-256", "md5": "MD5"}
_HASH_BLOCK = 4 * 1024 * 1024


class CopRequest(BaseModel):
    """One upload request: a customer's service request or an operator's upload."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    request_id: str
    source: Literal["inbox", "manual"]
    origin: Origin
    emergency: bool = False
    customer_id: str = Field(min_length=1, max_length=64)
    cop_file: str = Field(min_length=1, max_length=255)  # NAME_MAX: a longer name is no file
    requested_at: datetime
    inbox_file: str | None = None
    requested_by: str | None = Field(default=None, max_length=200)

    @field_validator("requested_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("requested_at needs a time zone, e.g. 2026-11-27T09:00:00Z")
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("requested_at is out of range in UTC") from None
        return value

    @field_validator("customer_id", "cop_file", "requested_by")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        """Text the ops DB can hold (PostgreSQL text takes no NUL; pydantic already refuses a lone
        surrogate, e.g. from a JSON ``\\ud800``)."""
        if value is not None and "\0" in value:
            raise ValueError("holds a NUL character")
        return value


def inbox_request_id(path: Path, content: bytes) -> str:
    """The same inbox file (name and bytes) is always the same request: it is never read twice."""
    return hashlib.sha256(b"inbox\0" + os.fsencode(path.name) + b"\0" + content).hexdigest()[:32]


def display_name(name: str) -> str:
    """A file name as storable text: bytes that are not UTF-8 shown as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class InboxRead:
    """One inbox entry as read: ``content`` identifies it (the bytes, or a marker when not read);
    ``problem`` is why it is rejected unread (not a regular file, too large), else None."""

    content: bytes
    problem: str | None


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    return "folder" if stat.S_ISDIR(mode) else "special file (FIFO, socket or device)"


def read_inbox_file(path: Path, max_bytes: int) -> InboxRead | None:
    """Read one inbox entry without following a link or blocking on a special file; None when it
    is gone (moved by someone else since it was listed).

    ``lstat`` first (a link, folder, FIFO, socket or device is not read); then ``O_NOFOLLOW |
    O_NONBLOCK`` and an ``fstat`` of what was opened (an entry swapped in between is not read);
    at most ``max_bytes`` + 1 bytes are read (Source: DOMAIN.md §5 requests; limits in cop.yaml).
    """
    try:
        kind = _kind(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None
    if kind != "file":
        return InboxRead(f"<{kind}>".encode(), f"the request is a {kind}, not a regular file: not read")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return InboxRead(b"<symbolic link>", "the request is a symbolic link, not a regular file: not read")
        return InboxRead(b"<unreadable>", f"the request cannot be opened: {exc.strerror}")
    try:
        opened = os.fstat(fd)
        if _kind(opened.st_mode) != "file":
            kind = _kind(opened.st_mode)
            return InboxRead(f"<{kind}>".encode(), f"the request is a {kind}, not a regular file: not read")
        chunks, total = [], 0
        while total <= max_bytes and (chunk := os.read(fd, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    content = b"".join(chunks)
    if total > max_bytes:
        return InboxRead(content, f"the request is larger than {max_bytes} bytes (cop.yaml inbox_limits): not read")
    return InboxRead(content, None)


def inbox_entries(inbox: Path) -> list[Path]:
    """The ``*.json`` entries of the inbox, whatever they are (files, links, folders), sorted;
    listed without following anything."""
    if not inbox.is_dir():
        return []
    with os.scandir(inbox) as entries:
        return sorted(inbox / e.name for e in entries if e.name.endswith(".json"))


def _free_name(folder: Path, name: str, request_id: str, suffix: str = "") -> Path:
    """A free name in ``folder`` (nothing there, not even a dangling link) that the file system
    takes: ``name``, else ``<id>-name``, ``<id>-2-name``, ...; shortened at the end to fit."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for n in itertools.count():
        stem = name if n == 0 else f"{request_id[:12]}-{name}" if n == 1 else f"{request_id[:12]}-{n}-{name}"
        while len(os.fsencode(stem + suffix)) > limit:
            stem = stem[:-1]
        if not os.path.lexists(folder / (stem + suffix)):
            return folder / (stem + suffix)
    raise AssertionError("unreachable")


def move_inbox_entry(path: Path, folder: Path, request_id: str, reason: str | None) -> Path | None:
    """Move an inbox entry into ``folder`` (``processed/``, ``rejected/``) with its reason in
    ``<name>.reason.txt`` beside it; None when it was gone.

    A rename: a link moves as a link, a folder as a folder, nothing is read, copied or followed;
    the reason file is created new (``O_EXCL | O_NOFOLLOW``), never written through a planted link.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if not stat.S_ISDIR(os.lstat(folder).st_mode):
        raise RuntimeError(f"{folder} is not a folder (a link?): the inbox's requests cannot be moved there")
    dest = _free_name(folder, path.name, request_id)
    if reason is not None:
        note = _free_name(folder, dest.name, request_id, ".reason.txt")
        fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"{reason}\nrequest file: {display_name(dest.name)}\n")
    try:
        os.rename(path, dest)
    except FileNotFoundError:  # moved by someone else since it was read
        return None
    return dest


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def manual_request_id(dag_id: str, run_id: str, customer_id: str, cop_file: str) -> str:
    return hashlib.sha256("\0".join(("manual", dag_id, run_id, customer_id, cop_file)).encode()).hexdigest()[:32]


def parse_inbox_request(
    path: Path, content: bytes, default_origin: Origin, received_at: datetime, *, max_depth: int = 32
) -> CopRequest:
    """A request from an inbox JSON file; ValueError with the reason when it is unreadable.

    Fields: ``customer_id``, ``cop_file``, ``requested_at`` (ISO 8601 with zone; default: when the
    run received it), ``origin`` (customer | operator; default from settings), ``emergency``
    (operator uploads only), ``requested_by``. JSON nested deeper than ``max_depth`` is refused
    before it is parsed.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a JSON file: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if (depth := json_depth(text)) > max_depth:
        raise ValueError(f"not a request: JSON nested {depth} deep (at most {max_depth}, cop.yaml inbox_limits)")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an int too long to convert
        raise ValueError(f"not a JSON file: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ValueError("a request file holds one JSON object")
    try:
        request = CopRequest.model_validate(
            {
                "origin": default_origin,
                "requested_at": received_at,
                **data,
                "request_id": inbox_request_id(path, content),
                "source": "inbox",
                "inbox_file": display_name(path.name),
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"invalid request: {problems}") from None
    if request.emergency and request.origin != "operator":
        raise ValueError("only operator-initiated uploads can be emergencies (DOMAIN.md §5)")
    return request


# --- published checksums ----------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    sha512: str | None = None
    sha256: str | None = None
    md5: str | None = None
    conflict: str | None = None

    def present(self) -> dict[str, str]:
        """The published values by algorithm (sha512, sha256, md5 order)."""
        return {algo: value for algo in HEX_LENGTHS if (value := getattr(self, algo)) is not None}


def read_checksums(folder: Path, names: tuple[str, ...]) -> dict[str, Published]:
    """Published checksums by file name from the checksum files present in ``folder``.

    Two different values for one file and algorithm make that file's entry a conflict (refused).
    """
    found: dict[str, dict[str, set[str]]] = {}
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            bsd, gnu = _BSD_LINE.match(line), _GNU_LINE.match(line)
            if bsd:
                algo, file, value = bsd["algo"].lower(), bsd["name"], bsd["hex"].lower()
                if len(value) != HEX_LENGTHS[algo]:
                    continue
            elif gnu:
                value, file = gnu["hex"].lower(), gnu["name"]
                algo = next(a for a, n in HEX_LENGTHS.items() if n == len(value))
            else:
                continue
            found.setdefault(file, {}).setdefault(algo, set()).add(value)
    out: dict[str, Published] = {}
    for file, algos in found.items():
        clashes = [a for a, values in algos.items() if len(values) > 1]
        if clashes:
            out[file] = Published(conflict=f"the checksum files publish different {'/'.join(clashes)} values")
        else:
            out[file] = Published(**{algo: next(iter(values)) for algo, values in algos.items()})
    return out


def local_digests(path: Path) -> tuple[dict[str, str], int]:
    """SHA-512, SHA-256 and MD5 (by algorithm) and the size of a local file, in one pass."""
    digests = {
        "sha512": hashlib.sha512(),
        "sha256": hashlib.sha256(),
        "md5": hashlib.md5(usedforsecurity=False),
    }
    size = 0
    with path.open("rb") as fh:
        while data := fh.read(_HASH_BLOCK):
            for digest in digests.values():
                digest.update(data)
            size += len(data)
    return {algo: digest.hexdigest() for algo, digest in digests.items()}, size


@dataclass(frozen=True)
class Validated:
    sha512: str
    bytes: int
    region: str
    checked_by: str  # the published algorithms checked, e.g. "sha512", "sha512+md5", "sha256"


def validate_request(
    request: CopRequest,
    repository: Path,
    checksums: dict[str, Published],
    customers: dict[str, dict[str, Any]],
) -> Validated:
    """Name, customer, file, published checksum; ValueError with the reason when refused.

    Source: DOMAIN.md §5 ("a COP's published checksum must match"). Default: **every** published
    checksum present (SHA-512, SHA-256, MD5) must match; one that disagrees refuses the request,
    naming its algorithm - a file must not pass on one checksum while another says it is not the
    vendor's. The upload is then verified remotely by SHA-512 of the same bytes.
    """
    validate_cop_name(request.cop_file)
    customer = customers.get(request.customer_id)
    if customer is None:
        raise ValueError(f"customer {request.customer_id!r} is not in the inventory snapshot")
    path = repository / request.cop_file
    try:
        is_file = path.is_file()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise ValueError(
            f"{request.cop_file[:80]!r}... cannot be looked up in the COP repository: {exc.strerror}"
        ) from None
    if not is_file:
        raise ValueError(f"{request.cop_file} is not in the COP repository {repository}")
    published = checksums.get(request.cop_file)
    if published is not None and published.conflict:
        raise ValueError(f"{request.cop_file}: {published.conflict}")
    expected = published.present() if published is not None else {}
    if not expected:
        raise ValueError(f"no published checksum for {request.cop_file} in the repository's checksum files")
    local, size = local_digests(path)
    for algo, value in expected.items():
        if local[algo] != value:
            raise ValueError(
                f"{request.cop_file}: local {_ALGO_LABELS[algo]} {local[algo][:16]}... is not the published one "
                f"({value[:16]}...)"
            )
    return Validated(sha512=local["sha512"], bytes=size, region=str(customer["region"]), checked_by="+".join(expected))


# --- timing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    status: Literal["due", "planned"]
    window: Window | None
    notice: bool  # a change notice goes to the partner and the customer contacts
    why: str


def decide_timing(request: CopRequest, region: str, as_of: datetime, *, emergency_uses_open_window: bool) -> Timing:
    """When the upload runs. Source: DOMAIN.md §5 and §2, §1.

    - customer-initiated: right away;
    - operator emergency: the next maintenance window of the region, weekend included (a window
      open at ``as_of`` counts when ``emergency_uses_open_window``); inside it: right away;
    - other operator uploads: change notice now, the earliest change window
      (``di_ops.rules.change.earliest_change_window``: >= 10 business days, weekday window).
    """
    if request.origin == "customer":
        return Timing("due", None, False, "customer-initiated (service request): uploaded right away")
    if request.emergency:
        current = window_at(region, as_of) if emergency_uses_open_window else None
        if current is not None:
            return Timing("due", current, False, "operator emergency: the maintenance window is open now")
        window = next_window(region, as_of, allow_weekend=True)
        return Timing("planned", window, False, "operator emergency: next maintenance window, weekend included")
    window = earliest_change_window(region, as_of)
    return Timing("planned", window, True, "operator regular maintenance: change notice, earliest change window")
