"""The fleet inventory: customers, contacts, clusters and nodes read from CSV/JSON exports.

Pure parsing and validation (no database, no Airflow): every row is checked, bad rows
are rejected with their reasons, and the rest form an :class:`Inventory`. The
snapshot id is a digest of the export files, so the same exports always give the
same snapshot and a rerun sees the same inventory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator

from di_ops.rules.common import normalise_region

T = TypeVar("T", bound="_Row")
EXPORTS = ("customers", "contacts", "clusters", "nodes")
APPLICATIONS = ("CUCM", "IMP", "CUCxN", "CER", "Expressway", "SME")
_APPLICATION_BY_KEY = {a.lower(): a for a in APPLICATIONS}
_TRUE = {"true", "1", "yes", "y", "ja"}
_FALSE = {"false", "0", "no", "n", "nee", ""}


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class Customer(_Row):
    customer_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1)
    region: str
    partner: str = Field(min_length=1)
    # Optional (docs/interfaces.md): what the partner declared at activation (DOMAIN.md §8); an empty
    # cell or a missing column is "not declared", never zero.
    knowledge_workers: int | None = Field(default=None, ge=0, le=10_000_000)
    workspace_devices: int | None = Field(default=None, ge=0, le=10_000_000)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return normalise_region(value)

    @field_validator("knowledge_workers", "workspace_devices", mode="before")
    @classmethod
    def _declared(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):  # JSON true/false is not a count
            raise ValueError(f"a whole number, got {value!r}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value.strip() if isinstance(value, str) else value


class Contact(_Row):
    customer_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: EmailStr
    phone: str = Field(default="", pattern=r"^$|^\+?[0-9 ()-]{6,20}$")
    role: Literal["partner", "customer"]


class Cluster(_Row):
    cluster_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    customer_id: str = Field(min_length=1)
    application: str
    version: str = Field(min_length=1, max_length=32)
    sso_enabled: bool = False
    sme_publishing_region: str | None = None

    @field_validator("application")
    @classmethod
    def _application(cls, value: str) -> str:
        try:
            return _APPLICATION_BY_KEY[value.strip().lower()]
        except KeyError:
            raise ValueError(f"unknown application {value!r}; known: {', '.join(APPLICATIONS)}") from None

    @field_validator("sso_enabled", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = value.strip().lower()
            if key in _TRUE:
                return True
            if key in _FALSE:
                return False
            raise ValueError(f"sso_enabled must be true or false, got {value!r}")
        return value

    @field_validator("sme_publishing_region", mode="before")
    @classmethod
    def _publishing_region(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return normalise_region(str(value))

    @model_validator(mode="after")
    def _sme_needs_region(self) -> Cluster:
        if self.application == "SME" and self.sme_publishing_region is None:
            raise ValueError("an SME cluster needs its sme_publishing_region")
        if self.application != "SME" and self.sme_publishing_region is not None:
            raise ValueError("only SME clusters have an sme_publishing_region")
        return self


class Node(_Row):
    node_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    cluster_id: str = Field(min_length=1)
    host: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:_-]+$")
    port: int = Field(ge=1, le=65535)
    role: Literal["publisher", "subscriber"]


class Reject(BaseModel):
    model_config = ConfigDict(frozen=True)
    source_file: str
    line: int
    reason: str
    raw: str


class Inventory(BaseModel):
    model_config = ConfigDict(frozen=True)
    snapshot_id: str
    source: str
    customers: tuple[Customer, ...]
    contacts: tuple[Contact, ...]
    clusters: tuple[Cluster, ...]
    nodes: tuple[Node, ...]
    rejects: tuple[Reject, ...]

    def customer(self, customer_id: str) -> Customer | None:
        return next((c for c in self.customers if c.customer_id == customer_id), None)


class ContactDefect(BaseModel):
    """A customer without a contact of a required role with a well-formed e-mail (DOMAIN.md §2).

    The customer stays in the snapshot (its notices still go to whoever is on file): the defect is
    reported, not guessed. A contact whose e-mail is not well-formed was already rejected as a row.
    """

    model_config = ConfigDict(frozen=True)
    customer_id: str
    name: str
    partner: str
    missing_roles: tuple[str, ...]
    contacts_on_file: int

    @property
    def reason(self) -> str:
        missing = " and ".join(f"no {role} contact" for role in self.missing_roles)
        return (
            f"customer {self.customer_id} ({self.partner}): {missing} with a well-formed e-mail on file "
            "(data-quality defect, DOMAIN.md §2); the customer stays in the snapshot"
        )

    def as_reject(self) -> Reject:
        """The defect as a row of the snapshot's rejects (``inventory_rejects``: file ``contacts``, line 0)."""
        return Reject(source_file=CONTACT_GATE_FILE, line=0, reason=self.reason, raw=f"customer_id={self.customer_id}")


CONTACT_GATE_FILE = "contacts"


def _export_files(folder: Path, name: str) -> list[Path]:
    return sorted(p for p in (folder / f"{name}.csv", folder / f"{name}.json") if p.is_file())


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line, record, raw text) for each row of a CSV (header line 1) or JSON (array or JSON lines) file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        for record in reader:
            raw = ",".join(v or "" for v in record.values() if isinstance(v, str))
            yield reader.line_num, {k: v for k, v in record.items() if k is not None}, raw
        return
    stripped = text.lstrip()
    if stripped.startswith("["):
        for i, item in enumerate(json.loads(text), start=1):
            yield i, item if isinstance(item, dict) else {"_not_an_object": item}, json.dumps(item)
        return
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield i, json.loads(line), line


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())


def _parse(folder: Path, name: str, model: type[T], rejects: list[Reject]) -> list[tuple[T, Reject]]:
    rows: list[tuple[T, Reject]] = []
    for path in _export_files(folder, name):
        try:
            records = list(_records(path))
        except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
            rejects.append(Reject(source_file=path.name, line=0, reason=f"unreadable export: {exc}", raw=""))
            continue
        for line, record, raw in records:
            where = Reject(source_file=path.name, line=line, reason="", raw=raw[:500])
            try:
                rows.append((model.model_validate(record), where))
            except ValidationError as exc:
                rejects.append(where.model_copy(update={"reason": _reason(exc)}))
    return rows


def _unique(rows: list[tuple[T, Reject]], key: str, rejects: list[Reject]) -> list[T]:
    counts = Counter(getattr(row, key) for row, _ in rows)
    kept: list[T] = []
    for row, where in rows:
        if counts[getattr(row, key)] > 1:
            rejects.append(where.model_copy(update={"reason": f"duplicate {key} {getattr(row, key)!r}"}))
        else:
            kept.append(row)
    return kept


def _referenced(
    rows: list[T], key: str, known: set[str], what: str, where: dict[int, Reject], rejects: list[Reject]
) -> list[T]:
    kept: list[T] = []
    for row in rows:
        if getattr(row, key) in known:
            kept.append(row)
        else:
            rejects.append(where[id(row)].model_copy(update={"reason": f"unknown {what} {getattr(row, key)!r}"}))
    return kept


def snapshot_digest(folder: Path) -> str:
    """Digest of the export files' names and bytes: the same exports give the same snapshot id."""
    digest = hashlib.sha256()
    for name in EXPORTS:
        for path in _export_files(folder, name):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def read_inventory(folder: Path) -> Inventory:
    """Read and validate the exports in ``folder``; bad rows become rejects with reasons."""
    if not folder.is_dir():
        raise FileNotFoundError(f"inventory folder {folder} does not exist")
    if not any(_export_files(folder, name) for name in EXPORTS):
        raise FileNotFoundError(
            f"inventory folder {folder} holds none of {', '.join(f'{n}.csv|json' for n in EXPORTS)}"
        )
    rejects: list[Reject] = []
    parsed_customers = _parse(folder, "customers", Customer, rejects)
    parsed_contacts = _parse(folder, "contacts", Contact, rejects)
    parsed_clusters = _parse(folder, "clusters", Cluster, rejects)
    parsed_nodes = _parse(folder, "nodes", Node, rejects)
    where = {
        id(row): w for rows in (parsed_customers, parsed_contacts, parsed_clusters, parsed_nodes) for row, w in rows
    }

    customers = _unique(parsed_customers, "customer_id", rejects)
    customer_ids = {c.customer_id for c in customers}
    contacts = _referenced([c for c, _ in parsed_contacts], "customer_id", customer_ids, "customer", where, rejects)
    clusters = _referenced(
        _unique(parsed_clusters, "cluster_id", rejects), "customer_id", customer_ids, "customer", where, rejects
    )
    cluster_ids = {c.cluster_id for c in clusters}
    nodes = _referenced(_unique(parsed_nodes, "node_id", rejects), "cluster_id", cluster_ids, "cluster", where, rejects)
    return Inventory(
        snapshot_id=snapshot_digest(folder),
        source=str(folder),
        customers=tuple(customers),
        contacts=tuple(contacts),
        clusters=tuple(clusters),
        nodes=tuple(nodes),
        rejects=tuple(sorted(rejects, key=lambda r: (r.source_file, r.line))),
    )


def contact_defects(inventory: Inventory, required_roles: Iterable[str]) -> tuple[ContactDefect, ...]:
    """Every customer lacking a contact of a ``required_roles`` role (DOMAIN.md §2), in customer-id order.

    The contacts kept by :func:`read_inventory` all have a well-formed e-mail (``EmailStr``); rejected
    contact rows do not count.
    """
    roles = tuple(dict.fromkeys(required_roles))
    on_file: dict[str, list[Contact]] = {}
    for contact in inventory.contacts:
        on_file.setdefault(contact.customer_id, []).append(contact)
    defects = []
    for customer in sorted(inventory.customers, key=lambda c: c.customer_id):
        contacts = on_file.get(customer.customer_id, [])
        missing = tuple(role for role in roles if not any(c.role == role and c.email for c in contacts))
        if missing:
            defects.append(
                ContactDefect(
                    customer_id=customer.customer_id,
                    name=customer.name,
                    partner=customer.partner,
                    missing_roles=missing,
                    contacts_on_file=len(contacts),
                )
            )
    return tuple(defects)


def contacts_by_customer(contacts: Iterable[Contact]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for c in contacts:
        out.setdefault(c.customer_id, []).append(
            {"name": c.name, "email": str(c.email), "phone": c.phone, "role": c.role}
        )
    return out
