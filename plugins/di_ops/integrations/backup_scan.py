"""The scan of a backup store: every backup folder as a :class:`CatalogRecord`.

Shared by ``backup_retention`` (prunes the store) and ``backup_health`` (freshness and disaster-recovery
readiness): docs/pipelines/retention.md, docs/pipelines/backup_health.md.

Walks ``<customer>/<cluster>/<application>/<backup>/manifest.json`` of a
:class:`~di_ops.integrations.backup_store.BackupStore` (layout and safety rules in that module's
docstring): a folder or manifest that cannot be read, typed or stored becomes a record whose
``error`` holds its series with the reason (DOMAIN.md §3), and the scan goes on with the rest.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from di_ops.integrations.backup_store import (
    DEFAULT_TOMBSTONE_PREFIX,
    MANIFEST,
    BackupStore,
    FsStore,
    StoreError,
)
from di_ops.integrations.safe_read import (
    BACKUP_NAME_MAX,
    DEFAULT_MAX_MANIFEST_BYTES,
    RECORD_ERRNOS,
    SERIES_NAME_MAX,
    TEXT_LIMITS,
    FolderView,
    Unreadable,
    file_entries,
    instant_ns,
    name_problem,
    parse_manifest,
    shown,
    text_problem,
)

# A component name as a manifest may list it (docs/pipelines/backup_health.md): short and plain.
COMPONENT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_COMPONENTS = 32


@dataclass
class CatalogRecord:
    """One backup folder as found in the store (or why its manifest could not be read)."""

    # <customer>/<cluster>/<application>/<backup folder>, the live (non-tombstone) name; for a folder
    # the scan does not descend or read (a link, a name that is not plain), the path down to it, a
    # name that is not plain spelled by safe_read.shown (always with a '\', so never a real name)
    path: str
    customer_id: str
    cluster_id: str
    application: str
    folder: str
    tombstoned: bool = False
    backup_id: str | None = None
    manifest_customer_id: str | None = None
    manifest_cluster_id: str | None = None
    manifest_application: str | None = None
    taken_at: str | None = None  # as written in the manifest
    taken_at_ns: int | None = None  # UTC nanoseconds; None when missing/unparseable/naive
    status: str | None = None
    size_bytes: int | None = None
    files: int = 0
    intact: bool = False
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # unreadable manifest or folder: the series is held
    # what a restore of this backup brings back (the manifest's optional ``components`` list, e.g.
    # ["configuration", "voicemail"]); None when the manifest has none (its older format) or it is not
    # a list of plain names (docs/pipelines/backup_health.md, "Manifest components")
    components: list[str] | None = None

    @property
    def series(self) -> tuple[str, str, str]:
        return (self.customer_id, self.cluster_id, self.application)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@lru_cache(maxsize=1 << 16)  # a scan asks for the same customer, cluster and application names again and again
def _name_reason(name: str, level: int, tombstone_prefix: str) -> str | None:
    """Why folder ``name`` at ``level`` (0 customer … 3 backup) is not scanned, or None."""
    if level < 3:
        problem = name_problem(name, max_chars=SERIES_NAME_MAX)
        if problem is None:
            return None
        spelled = shown(name, SERIES_NAME_MAX)
    else:
        live = name[len(tombstone_prefix) :] if name.startswith(tombstone_prefix) else name
        problem = name_problem(live, max_chars=BACKUP_NAME_MAX)
        if problem is None and live.startswith("."):
            problem = "names no backup folder"
        if problem is None:
            return None
        spelled = shown(name, BACKUP_NAME_MAX)
    return f"folder {spelled} {problem}: not scanned"


def _record_at(parts: list[str], tombstone_prefix: str, error: str | None = None) -> CatalogRecord:
    """The record of the folder ``parts`` (1 to 4 names); a name that is not plain is spelled by shown()."""
    names, tombstoned = [], False
    for level, name in enumerate(parts):
        if _name_reason(name, level, tombstone_prefix) is not None:
            names.append(shown(name, SERIES_NAME_MAX if level < 3 else BACKUP_NAME_MAX))
        elif level == 3 and name.startswith(tombstone_prefix):
            names.append(name[len(tombstone_prefix) :])
            tombstoned = True
        else:
            names.append(name)
    customer, cluster, application = (*names, "", "", "")[:3]
    return CatalogRecord(
        path="/".join(names),
        customer_id=customer,
        cluster_id=cluster,
        application=application,
        folder=names[3] if len(names) > 3 else "",
        tombstoned=tombstoned,
        error=error,
    )


def read_backup(
    store: BackupStore,
    path: str,
    folder_name: str,
    *,
    tombstone_prefix: str,
    verify_checksums: bool,
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> CatalogRecord:
    """Read one backup folder's manifest and check its files (intact = every listed file with its size).

    Never raises for the record itself: a manifest that cannot be read, typed or stored sets
    ``error`` (the series is held) with the reason; only a failing store (e.g. a lost SFTP link) raises.
    """
    customer, cluster, application, _ = path.split("/")
    record = _record_at([customer, cluster, application, folder_name], tombstone_prefix)
    try:
        with store.folder(f"{customer}/{cluster}/{application}/{folder_name}") as view:
            _read_manifest(record, view, verify_checksums, max_manifest_bytes)
    except FileNotFoundError:
        record.error = f"{MANIFEST} missing"
    except Unreadable as exc:
        record.error = str(exc)
    except OSError as exc:
        if exc.errno not in RECORD_ERRNOS:
            raise
        record.error = f"{MANIFEST} unreadable: {exc.strerror}"
    if record.error:  # nothing of a manifest that was not read to the end is used
        clean = _record_at([customer, cluster, application, folder_name], tombstone_prefix, record.error)
        record.__dict__.update(clean.__dict__)
    return record


def _read_manifest(record: CatalogRecord, view: FolderView, verify_checksums: bool, limit: int) -> None:
    manifest = parse_manifest(view.read_limited(MANIFEST, limit))
    for key in TEXT_LIMITS:  # a text the reports or the ops DB could not store is a reason, not a crash
        if problem := text_problem(key, manifest.get(key)):
            raise Unreadable(problem)
    entries = file_entries(manifest["files"])
    record.backup_id = _text(manifest.get("backup_id"))
    record.manifest_customer_id = _text(manifest.get("customer_id"))
    record.manifest_cluster_id = _text(manifest.get("cluster_id"))
    record.manifest_application = _text(manifest.get("application"))
    record.taken_at = _text(manifest.get("taken_at"))
    record.taken_at_ns = instant_ns(record.taken_at) if record.taken_at else None  # Unreadable: out of range
    status = manifest.get("status")
    record.status = status.strip().upper() if isinstance(status, str) else None
    if record.status is not None and len(record.status) > TEXT_LIMITS["status"]:
        raise Unreadable(f"status is longer than {TEXT_LIMITS['status']} characters")
    record.components = _components(manifest.get("components"))
    record.files = len(entries)
    intact = True
    for name, listed, expected in entries:
        found = view.file_size(name)
        if found is None:
            record.problems.append(f"{name}: missing")
            intact = False
        elif found != listed:
            record.problems.append(f"{name}: {found} bytes, manifest lists {listed}")
            intact = False
        elif verify_checksums:
            digest = view.sha256(name, listed + 1)
            if not isinstance(expected, str) or digest != expected.lower():
                record.problems.append(f"{name}: sha256 mismatch")
                intact = False
    record.size_bytes = sum(size for _, size, _ in entries)
    record.intact = intact


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _components(value: Any) -> list[str] | None:
    """The manifest's component names (lower case, sorted, unique), or None when absent or not plain."""
    if not isinstance(value, list) or len(value) > MAX_COMPONENTS:
        return None
    names = set()
    for item in value:
        if not isinstance(item, str) or not COMPONENT_NAME.fullmatch(item):
            return None
        names.add(item.lower())
    return sorted(names)


def backup_folders(
    store: BackupStore, customers: Iterable[str], *, tombstone_prefix: str = DEFAULT_TOMBSTONE_PREFIX
) -> Iterator[tuple[str, str] | CatalogRecord]:
    """(customer/cluster/application/folder, folder) of every backup folder (tombstones included);
    a folder that is not descended (a link, a name that is not plain, one that cannot be listed)
    comes as a :class:`CatalogRecord` holding its series with the reason."""
    for customer in customers:
        if not customer or customer.startswith("."):
            continue
        if _name_reason(customer, 0, tombstone_prefix) is None:
            yield from _descend(store, [customer], tombstone_prefix)
            continue
        # a spelling from list_customers(): report the folder it spells (gone since: nothing to report)
        for entry in store.list_entries(""):
            if entry.kind != "other" and customer in {entry.name, shown(entry.name, SERIES_NAME_MAX)}:
                yield _record_at([entry.name], tombstone_prefix, _name_reason(entry.name, 0, tombstone_prefix))


def _descend(store: BackupStore, parts: list[str], prefix: str) -> Iterator[tuple[str, str] | CatalogRecord]:
    rel = "/".join(parts)
    try:
        entries = store.list_entries(rel)
    except Unreadable as exc:
        yield _record_at(parts, prefix, str(exc))
        return
    level = len(parts)
    for entry in entries:
        name = entry.name
        if entry.kind == "other" or (name.startswith(".") and not (level == 3 and name.startswith(prefix))):
            continue  # stray files and hidden folders are not backups
        reason = _name_reason(name, level, prefix)
        if reason is None and entry.kind == "link":
            reason = f"{shown(name)} is a symlink: not followed"
        if reason is not None:
            yield _record_at([*parts, name], prefix, reason)
        elif level == 3:
            yield f"{rel}/{name}", name
        else:
            yield from _descend(store, [*parts, name], prefix)


def list_customers(store: BackupStore) -> list[str]:
    """The customer folders: a plain name as it is; a link or a name that is not plain by its
    :func:`shown` spelling, so that the scan reports it."""
    try:
        entries = store.list_entries("")
    except Unreadable as exc:
        raise StoreError(f"{store.label}: the store's top folder cannot be listed: {exc}") from None
    return sorted(
        e.name if name_problem(e.name, max_chars=SERIES_NAME_MAX) is None else shown(e.name, SERIES_NAME_MAX)
        for e in entries
        if e.kind != "other" and not e.name.startswith(".")
    )


def _one_record_per_path(records: list[CatalogRecord], tombstone_prefix: str) -> list[CatalogRecord]:
    """A live folder beside its own tombstone (a deletion interrupted, then the folder re-created)
    gives one record, held: neither is pruned or restored until an operator looks."""
    records.sort(key=lambda r: (r.path, r.tombstoned))
    out: list[CatalogRecord] = []
    for record in records:
        if out and out[-1].path == record.path:
            out[-1].error = (
                f"{shown(tombstone_prefix + record.folder, BACKUP_NAME_MAX)} exists beside {out[-1].folder}"
                " (an interrupted deletion?): series held" + (f"; {out[-1].error}" if out[-1].error else "")
            )
            out[-1].tombstoned = False
            continue
        out.append(record)
    return out


def scan(
    store: BackupStore,
    customers: Iterable[str],
    *,
    verify_checksums: bool = False,
    tombstone_prefix: str = DEFAULT_TOMBSTONE_PREFIX,
    threads: int = 1,
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> list[CatalogRecord]:
    """Catalog records of every backup of ``customers`` (sorted by path); never raises for a bad
    manifest or folder (see the module docstring); a manifest over ``max_manifest_bytes`` is unreadable
    (each pipeline passes its setting, e.g. retention's ``scan_max_manifest_bytes``).

    Only the local filesystem uses ``threads`` > 1 (one SFTP channel is used from one thread).
    """
    found = list(backup_folders(store, customers, tombstone_prefix=tombstone_prefix))
    held = [item for item in found if isinstance(item, CatalogRecord)]
    folders = [item for item in found if not isinstance(item, CatalogRecord)]

    def one(item: tuple[str, str]) -> CatalogRecord:
        return read_backup(
            store,
            item[0],
            item[1],
            tombstone_prefix=tombstone_prefix,
            verify_checksums=verify_checksums,
            max_manifest_bytes=max_manifest_bytes,
        )

    if threads > 1 and isinstance(store, FsStore) and len(folders) > 64:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            records = list(pool.map(one, folders, chunksize=64))
    else:
        records = [one(item) for item in folders]
    return _one_record_per_path(held + records, tombstone_prefix)


XZ_MAGIC = b"\xfd7zXZ\x00"
TAR_COMPRESSIONS = ((b"\x1f\x8b", "gz"), (b"BZh", "bz2"), (XZ_MAGIC, "xz"))


@dataclass(frozen=True)
class DrCheck:
    """What ``backup_health`` checks of one backup beyond the scan (docs/pipelines/backup_health.md)."""

    checksums_verified: bool | None  # None: not verified (or the manifest could not be re-read)
    archive_readable: bool | None  # None: not checked
    problems: tuple[str, ...] = ()


def list_archive(fh: Any, kind: str) -> int:
    """The member count of an open archive by its format's own listing (``tar``: every compression
    :mod:`tarfile` reads; ``zip``); raises what the format's reader raises for a bad archive."""
    if kind == "zip":
        with zipfile.ZipFile(fh) as archive:
            return len(archive.infolist())
    head = fh.read(len(XZ_MAGIC))
    fh.seek(0)
    compression = next((name for magic, name in TAR_COMPRESSIONS if head.startswith(magic)), "")
    # the compression named by its magic bytes: tarfile's "r:*" would try gz, bz2 and xz before plain tar
    with tarfile.open(fileobj=fh, mode=f"r:{compression}") as archive:
        return sum(1 for _ in archive)


def check_backup(
    store: BackupStore,
    record: CatalogRecord,
    *,
    verify_checksums: bool,
    archive_format: Callable[[str], str | None] | None,
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> DrCheck:
    """Re-read ``record``'s manifest through the link-safe reader; with ``verify_checksums`` compare every
    file's sha256, with ``archive_format`` (file name -> ``tar`` / ``zip`` / None) list every archive.

    A backup without any file of a known archive format has no readable archive.
    """
    rel = f"{record.customer_id}/{record.cluster_id}/{record.application}/{record.folder}"
    problems: list[str] = []
    try:
        with store.folder(rel) as view:
            entries = file_entries(parse_manifest(view.read_limited(MANIFEST, max_manifest_bytes))["files"])
            verified: bool | None = None
            if verify_checksums:
                verified = True
                for name, listed, expected in entries:
                    digest = view.sha256(name, listed + 1)
                    if digest is None or not isinstance(expected, str) or digest != expected.lower():
                        problems.append(f"{name}: sha256 mismatch")
                        verified = False
    except (FileNotFoundError, Unreadable) as exc:
        return DrCheck(None, None, (f"{MANIFEST} unreadable on re-read: {exc}",))
    readable: bool | None = None
    if archive_format is not None:
        archives = [(name, kind) for name, _, _ in entries if (kind := archive_format(name)) is not None]
        readable = bool(archives)
        if not archives:
            problems.append("no file in a listable archive format")
        for name, kind in archives:
            try:
                with store.open_binary(f"{rel}/{name}") as fh:
                    if list_archive(fh, kind) == 0:
                        raise tarfile.ReadError("no member")
            except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, Unreadable, ValueError) as exc:
                problems.append(f"{shown(name)}: {kind} listing fails ({str(exc)[:120]})")
                readable = False
    return DrCheck(verified, readable, tuple(problems))
