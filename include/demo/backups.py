"""Deterministic demo backup store for ``backup_retention``.

    python -m include.demo.backups --out .data/backups [--nights 42] [--as-of 2026-11-27T02:30:00+00:00 (default: the latest 02:30 UTC)]

Writes ``<root>/<customer>/<cluster>/<application>/<backup_id>/`` folders, each with a
``manifest.json`` and small (fake, "password-protected") archive files, one backup per night
for every cluster of the demo fleet (``include.demo.fleet``: a dozen customers in all four
regions). With ``anomalies`` on, the store also holds FAILED and PARTIAL backups, a truncated
archive file, a corrupt manifest and a future-dated backup (for ``backup_retention``), and a missed
night, an overdue series, a Unity Connection backup without voicemail and a corrupt archive (for
``backup_health``); :data:`ANOMALIES` names them. Each manifest lists the ``components`` a restore of
its application brings back (docs/pipelines/backup_health.md); a file named ``*.tar*`` holds a real tar
archive (a DRS archive of "password-protected" member files) of exactly the listed size.
The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import tarfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REGIONS = ("AMER", "APJC", "AUS", "EMEA")
ZONES = {"AMER": "America/New_York", "APJC": "Asia/Tokyo", "AUS": "Australia/Sydney", "EMEA": "Europe/Amsterdam"}
APPS = ("CUCM", "IMP", "CUCxN", "CER", "Expressway")


def demo_night(now: datetime | None = None) -> datetime:
    """The demo's "tonight": the latest 02:30 UTC (backup_retention's schedule) at or before ``now``.

    ``DI_OPS_DEMO_AS_OF`` pins it, so that every process of one demo or cluster session (prepare,
    trigger, the tests) agrees even across 02:30. The store is written relative to it, so the
    scheduled pruning run of the day sees the same store as the demo run: nothing stale trips the guard.
    """
    pinned = os.environ.get("DI_OPS_DEMO_AS_OF")
    if pinned:
        return datetime.fromisoformat(pinned)
    now = now or datetime.now(UTC)
    night = now.astimezone(UTC).replace(hour=2, minute=30, second=0, microsecond=0)
    return night if night <= now else night - timedelta(days=1)


DEFAULT_AS_OF = demo_night()

# (customer, application, nights ago) of each deliberate anomaly (with anomalies=True).
ANOMALIES = {
    "truncated_file": ("C001", "CUCM", 5),
    "corrupt_manifest": ("C002", "IMP", 10),
    "future_dated": ("C003", "CUCxN", -1),
    # backup_health (docs/pipelines/backup_health.md): no backup last night (the night before is good) ...
    "missed_night": ("C004", "CUCM", 1),
    # ... none for the last two nights (nights 1 and 2 not written) ...
    "overdue_series": ("C005", "IMP", 2),
    # ... last night's Unity Connection backup lists no voicemail (not restore-ready) ...
    "no_voicemail": ("C006", "CUCxN", 1),
    # ... and last night's archive is not a readable tar, though its checksum matches the manifest.
    "corrupt_archive": ("C007", "CER", 1),
}
# What a restore of each application brings back, as the demo's manifests list it (the defaults of
# include/config/backup_health.yaml: components).
COMPONENTS = {
    "CUCM": ("configuration",),
    "CUCxN": ("configuration", "voicemail"),
    "IMP": ("configuration",),
    "Expressway": ("custom",),
    "CER": ("configuration",),
    "SME": ("configuration",),
}


def backup_id_for(cluster_id: str, taken_at: datetime) -> str:
    return f"{cluster_id}-{taken_at.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M}"


def _payload(backup_id: str, name: str, size: int) -> bytes:
    seed = hashlib.sha256(f"{backup_id}/{name}".encode()).digest()
    filler = (seed * (size // len(seed) + 1))[:size]
    if ".tar" not in name or size < tarfile.BLOCKSIZE:
        return filler
    return _tar_of_size(filler, size)


def _tar_of_size(filler: bytes, size: int) -> bytes:
    """A tar archive of exactly ``size`` bytes: one member (``drs/payload.enc``) filling whole 512-byte
    blocks after its header, then zero padding shorter than a block (which tar readers ignore)."""
    member_size = (size - tarfile.BLOCKSIZE) // tarfile.BLOCKSIZE * tarfile.BLOCKSIZE
    info = tarfile.TarInfo("drs/payload.enc")
    info.size, info.mtime, info.mode = member_size, 0, 0o600
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    data = header + filler[:member_size]
    return data + bytes(size - len(data))


def write_backup(
    root: Path,
    customer_id: str,
    cluster_id: str,
    application: str,
    taken_at: datetime,
    *,
    status: str = "SUCCESS",
    backup_id: str | None = None,
    files: Iterable[tuple[str, int]] = (("backup.tar.enc", 512), ("backup.ini", 64)),
    truncate: str | None = None,
    manifest_text: str | None = None,
    components: Iterable[str] | None = None,
    corrupt: str | None = None,
) -> Path:
    """One backup folder; ``truncate`` names a file written shorter than the manifest lists, ``corrupt`` one
    whose bytes are not its format's (the manifest's checksum is of those bytes); ``components`` defaults
    to the application's :data:`COMPONENTS`."""
    backup_id = backup_id or backup_id_for(cluster_id, taken_at)
    folder = root / customer_id / cluster_id / application / backup_id
    folder.mkdir(parents=True, exist_ok=True)
    listed = []
    for name, size in files:
        data = _payload(backup_id, name, size)
        if name == corrupt:
            data = bytes(b ^ 0x5A for b in data)
        listed.append({"name": name, "size": size, "sha256": hashlib.sha256(data).hexdigest()})
        (folder / name).write_bytes(data[: size // 2] if name == truncate else data)
    manifest = {
        "backup_id": backup_id,
        "customer_id": customer_id,
        "cluster_id": cluster_id,
        "application": application,
        "taken_at": taken_at.isoformat(),
        "status": status,
        "components": list(components if components is not None else COMPONENTS.get(application, ())),
        "files": listed,
    }
    (folder / "manifest.json").write_text(manifest_text if manifest_text is not None else json.dumps(manifest))
    return folder


def write_backup_store(
    root: Path,
    *,
    as_of: datetime = DEFAULT_AS_OF,
    customers: int = 12,
    nights: int = 42,
    apps: Iterable[str] = APPS,
    anomalies: bool = True,
    seed: int = 11,
    files: Iterable[tuple[str, int]] = (("backup.tar.enc", 512), ("backup.ini", 64)),
    with_sme: bool = True,
) -> int:
    """Write the demo store; returns the number of backup folders written.

    Backups are taken nightly at 23:30 in the customer's region; night 1 is the night before
    ``as_of``. About 4 % FAILED and 3 % PARTIAL (seeded).
    """
    rng = random.Random(seed)
    file_list = tuple(files)
    count = 0
    for i in range(1, customers + 1):
        customer_id = f"C{i:03d}"
        zone = ZoneInfo(ZONES[REGIONS[(i - 1) % len(REGIONS)]])
        local_as_of = as_of.astimezone(zone)
        for app in apps:
            cluster_id = f"{customer_id}-{app.lower()}"
            night_list = list(range(1, nights + 1))
            if anomalies and (customer_id, app) == ANOMALIES["future_dated"][:2]:
                night_list.append(ANOMALIES["future_dated"][2])
            for night in night_list:
                day = (local_as_of - timedelta(days=night)).date()
                taken = datetime(day.year, day.month, day.day, 23, 30, tzinfo=zone)
                if night < 0:
                    taken = as_of + timedelta(days=-night)
                roll = rng.random()
                status = "FAILED" if roll < 0.04 else "PARTIAL" if roll < 0.07 else "SUCCESS"
                extra = _health_anomaly(customer_id, app, night) if anomalies else {}
                if extra.get("skip"):
                    continue  # the roll above is drawn all the same: every other backup keeps its status
                status = extra.get("status", status)
                truncate = manifest_text = None
                if anomalies and (customer_id, app, night) == ANOMALIES["truncated_file"]:
                    status, truncate = "SUCCESS", file_list[0][0]
                if anomalies and (customer_id, app, night) == ANOMALIES["corrupt_manifest"]:
                    manifest_text = '{"backup_id": "corrupt", "files": [ {"name": '
                write_backup(
                    root,
                    customer_id,
                    cluster_id,
                    app,
                    taken,
                    status=status,
                    files=file_list,
                    truncate=truncate,
                    manifest_text=manifest_text,
                    components=extra.get("components"),
                    corrupt=file_list[0][0] if extra.get("corrupt") else None,
                )
                count += 1
    if with_sme:
        count += _write_sme_series(root, as_of, customers, nights, seed, file_list)
    return count


def _write_sme_series(
    root: Path, as_of: datetime, customers: int, nights: int, seed: int, file_list: tuple[tuple[str, int], ...]
) -> int:
    """The SME clusters of the demo fleet (include.demo.fleet: every fourth customer, published from
    another region) are backed up nightly too, at 23:30 in their publishing region; their own seeded
    statuses, so the other series' backups are the same with or without them."""
    from include.demo.fleet import sme_publishing_region

    rng = random.Random(seed + 1)
    count = 0
    for i in range(1, customers + 1):
        region = sme_publishing_region(i)
        if region is None:
            continue
        customer_id, zone = f"C{i:03d}", ZoneInfo(ZONES[region])
        local_as_of = as_of.astimezone(zone)
        for night in range(1, nights + 1):
            day = (local_as_of - timedelta(days=night)).date()
            taken = datetime(day.year, day.month, day.day, 23, 30, tzinfo=zone)
            status = "FAILED" if rng.random() < 0.04 else "SUCCESS"
            write_backup(root, customer_id, f"{customer_id}-sme", "SME", taken, status=status, files=file_list)
            count += 1
    return count


def _health_anomaly(customer_id: str, app: str, night: int) -> dict[str, object]:
    """How backup_health's anomalies change night ``night`` of a series (see :data:`ANOMALIES`)."""
    key = (customer_id, app)
    if key == ANOMALIES["missed_night"][:2]:
        last = ANOMALIES["missed_night"][2]
        return {"skip": True} if night == last else {"status": "SUCCESS"} if night == last + 1 else {}
    if key == ANOMALIES["overdue_series"][:2]:
        return {"skip": True} if 1 <= night <= ANOMALIES["overdue_series"][2] else {}
    if (*key, night) == ANOMALIES["no_voicemail"]:
        return {"status": "SUCCESS", "components": ("configuration",)}
    if (*key, night) == ANOMALIES["corrupt_archive"]:
        return {"status": "SUCCESS", "corrupt": True}
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--nights", type=int, default=42)
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--as-of", type=datetime.fromisoformat, default=DEFAULT_AS_OF)
    args = parser.parse_args()
    count = write_backup_store(args.out, as_of=args.as_of, customers=args.customers, nights=args.nights)
    print(f"wrote {count} backups under {args.out}")


if __name__ == "__main__":
    main()
