"""COP upload requests: parsing, published checksums, validation and timing (no Airflow, no network).

Source: DOMAIN.md §5 (customer-initiated uploads go to the customer's SFTP server; an operator
emergency COP goes in the next maintenance window, weekend included; any other operator COP is
regular maintenance with notice, §2; the published checksum must match; bad names are refused).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from di_ops.rules.change import earliest_change_window
from di_ops.rules.cop import validate_cop_name
from di_ops.rules.maintenance import Window, next_window, window_at

Origin = Literal["customer", "operator"]
_GNU_LINE = re.compile(r"^(?P<hex>[0-9A-Fa-f]{32}|[0-9A-Fa-f]{128}) [ *](?P<name>.+)$")
_BSD_LINE = re.compile(r"^(?P<algo>SHA512|MD5) \((?P<name>.+)\) = (?P<hex>[0-9A-Fa-f]+)$")
_HASH_BLOCK = 4 * 1024 * 1024


class CopRequest(BaseModel):
    """One upload request: a customer's service request or an operator's upload."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    request_id: str
    source: Literal["inbox", "manual"]
    origin: Origin
    emergency: bool = False
    customer_id: str = Field(min_length=1, max_length=64)
    cop_file: str = Field(min_length=1)
    requested_at: datetime
    inbox_file: str | None = None
    requested_by: str | None = None

    @field_validator("requested_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("requested_at needs a time zone, e.g. 2026-11-27T09:00:00Z")
        return value


def inbox_request_id(path: Path, content: bytes) -> str:
    """The same inbox file (name and bytes) is always the same request: it is never read twice."""
    return hashlib.sha256(b"inbox\0" + path.name.encode() + b"\0" + content).hexdigest()[:32]


def manual_request_id(dag_id: str, run_id: str, customer_id: str, cop_file: str) -> str:
    return hashlib.sha256("\0".join(("manual", dag_id, run_id, customer_id, cop_file)).encode()).hexdigest()[:32]


def parse_inbox_request(path: Path, content: bytes, default_origin: Origin, received_at: datetime) -> CopRequest:
    """A request from an inbox JSON file; ValueError with the reason when it is unreadable.

    Fields: ``customer_id``, ``cop_file``, ``requested_at`` (ISO 8601 with zone; default: when the
    run received it), ``origin`` (customer | operator; default from settings), ``emergency``
    (operator uploads only), ``requested_by``.
    """
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON file: {exc}") from None
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
                "inbox_file": path.name,
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
    md5: str | None = None
    conflict: str | None = None


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
                if len(value) != (128 if algo == "sha512" else 32):
                    continue
            elif gnu:
                value, file = gnu["hex"].lower(), gnu["name"]
                algo = "sha512" if len(value) == 128 else "md5"
            else:
                continue
            found.setdefault(file, {}).setdefault(algo, set()).add(value)
    out: dict[str, Published] = {}
    for file, algos in found.items():
        clashes = [a for a, values in algos.items() if len(values) > 1]
        if clashes:
            out[file] = Published(conflict=f"the checksum files publish different {'/'.join(clashes)} values")
        else:
            out[file] = Published(
                sha512=next(iter(algos["sha512"])) if "sha512" in algos else None,
                md5=next(iter(algos["md5"])) if "md5" in algos else None,
            )
    return out


def local_digests(path: Path) -> tuple[str, str, int]:
    """SHA-512, MD5 and size of a local file, in one pass."""
    sha, md5, size = hashlib.sha512(), hashlib.md5(usedforsecurity=False), 0
    with path.open("rb") as fh:
        while data := fh.read(_HASH_BLOCK):
            sha.update(data)
            md5.update(data)
            size += len(data)
    return sha.hexdigest(), md5.hexdigest(), size


@dataclass(frozen=True)
class Validated:
    sha512: str
    bytes: int
    region: str
    checked_by: str  # "sha512" | "md5"


def validate_request(
    request: CopRequest,
    repository: Path,
    checksums: dict[str, Published],
    customers: dict[str, dict[str, Any]],
) -> Validated:
    """Name, customer, file, published checksum; ValueError with the reason when refused.

    Source: DOMAIN.md §5. Default: SHA-512 is checked when published, else MD5; the upload is
    then verified remotely by SHA-512 of the same bytes.
    """
    validate_cop_name(request.cop_file)
    customer = customers.get(request.customer_id)
    if customer is None:
        raise ValueError(f"customer {request.customer_id!r} is not in the inventory snapshot")
    path = repository / request.cop_file
    if not path.is_file():
        raise ValueError(f"{request.cop_file} is not in the COP repository {repository}")
    published = checksums.get(request.cop_file)
    if published is None or (published.sha512 is None and published.md5 is None and published.conflict is None):
        raise ValueError(f"no published checksum for {request.cop_file} in the repository's checksum files")
    if published.conflict:
        raise ValueError(f"{request.cop_file}: {published.conflict}")
    sha512, md5, size = local_digests(path)
    if published.sha512 is not None:
        if sha512 != published.sha512:
            raise ValueError(f"{request.cop_file}: local SHA-512 {sha512[:16]}... is not the published one")
        checked_by = "sha512"
    else:
        if md5 != published.md5:
            raise ValueError(f"{request.cop_file}: local MD5 {md5} is not the published {published.md5}")
        checked_by = "md5"
    return Validated(sha512=sha512, bytes=size, region=str(customer["region"]), checked_by=checked_by)


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
