"""Backup health: is a backup series fresh, and is its cluster ready for a restore and for disaster recovery?

Source: DOMAIN.md §3 ("Freshness", "What a restore brings back", "Disaster recovery target") and §1
(regions and their zones). Guide: docs/pipelines/backup_health.md.

Interpretations (defaults chosen here):

* *the night before the check* starts at ``evening`` (18:00) local time in the series' region on the
  calendar day before the check's local date, and ends at the check (``as_of``). A good backup taken
  in ``[night start, as_of]`` makes the series *fresh*. 18:00 exists on every day in every zone (DST
  changes happen at night), so a DST night is simply one hour shorter or longer in elapsed time.
* *missed*: no good backup in that night; *overdue*: none in the night before it either (the latest
  good backup is older than 18:00 local two days before the check's local date) - "two nights in a
  row". A series that never had a good backup is overdue.
* *at risk*: fewer than ``min_good`` (3, the retention rule's "3 most recent good") good backups taken
  at or before ``as_of``; independent of freshness.
* a backup dated after ``as_of`` counts for nothing here (retention reports it).
* *restore-ready*: the latest good backup's manifest lists every component its application needs
  (component names are settings; a manifest without a ``components`` list lists none).
* *DR-ready*: restore-ready, checksums verified (every file's sha256 equals the manifest's) and the
  archive readable (the archive format's own listing succeeds).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from di_ops.rules.common import FrozenRecord, require_aware

EVENING: Final = time(18, 0)
MIN_GOOD: Final = 3


class Freshness(StrEnum):
    FRESH = "fresh"
    MISSED = "missed"
    OVERDUE = "overdue"


class SeriesHealth(FrozenRecord):
    """The freshness verdict of one series (customer × cluster × application) at ``as_of``."""

    freshness: Freshness
    at_risk: bool
    good_backups: int
    latest_good: datetime | None
    night_start: datetime
    reasons: tuple[str, ...]


class RestoreReadiness(FrozenRecord):
    ready: bool
    missing: tuple[str, ...]
    reason: str


class DrReadiness(FrozenRecord):
    ready: bool
    reasons: tuple[str, ...]


def night_start(as_of: datetime, zone: ZoneInfo, *, nights_back: int = 1, evening: time = EVENING) -> datetime:
    """``evening`` local time on the day ``nights_back`` days before ``as_of``'s local date (DOMAIN.md §3)."""
    require_aware(as_of, "as_of")
    if nights_back < 1:
        raise ValueError(f"nights_back must be at least 1, got {nights_back}")
    local_day: date = as_of.astimezone(zone).date() - timedelta(days=nights_back)
    return datetime.combine(local_day, evening, tzinfo=zone)


def series_health(
    good_taken_at: Iterable[datetime],
    as_of: datetime,
    zone: ZoneInfo,
    *,
    evening: time = EVENING,
    min_good: int = MIN_GOOD,
) -> SeriesHealth:
    """Fresh / missed / overdue and at-risk of a series from the ``taken_at`` of its good backups.

    Source: DOMAIN.md §3 "Freshness"; the readings are in the module docstring.
    """
    require_aware(as_of, "as_of")
    if min_good < 1:
        raise ValueError(f"min_good must be at least 1, got {min_good}")
    counted = sorted(t for t in (require_aware(t, "taken_at") for t in good_taken_at) if t <= as_of)
    latest = counted[-1] if counted else None
    last_night = night_start(as_of, zone, evening=evening)
    night_before = night_start(as_of, zone, nights_back=2, evening=evening)
    local = last_night.tzname()
    reasons: list[str] = []
    if latest is not None and latest >= last_night:
        freshness = Freshness.FRESH
        reasons.append(f"good backup at {latest.isoformat()} after {last_night:%Y-%m-%d %H:%M} {local}")
    elif latest is not None and latest >= night_before:
        freshness = Freshness.MISSED
        reasons.append(f"no good backup since {last_night:%Y-%m-%d %H:%M} {local}; latest {latest.isoformat()}")
    else:
        freshness = Freshness.OVERDUE
        since = "never a good backup" if latest is None else f"latest good backup {latest.isoformat()}"
        reasons.append(f"no good backup for two nights (since {night_before:%Y-%m-%d %H:%M} {local}); {since}")
    at_risk = len(counted) < min_good
    if at_risk:
        reasons.append(f"{len(counted)} good backup(s), fewer than {min_good}")
    return SeriesHealth(
        freshness=freshness,
        at_risk=at_risk,
        good_backups=len(counted),
        latest_good=latest,
        night_start=last_night,
        reasons=tuple(reasons),
    )


def restore_readiness(components: Iterable[str] | None, required: Iterable[str]) -> RestoreReadiness:
    """Does a backup whose manifest lists ``components`` bring back every ``required`` one?

    Source: DOMAIN.md §3 "What a restore brings back" (e.g. a Unity Connection backup without
    voicemail is not restore-ready). Names compare case-insensitively; ``None`` lists nothing.
    """
    listed = {c.lower() for c in components or ()}
    needed = sorted({r.lower() for r in required})
    if not needed:
        raise ValueError("an application needs at least one component")
    missing = tuple(r for r in needed if r not in listed)
    if components is None:
        return RestoreReadiness(ready=False, missing=missing, reason="the manifest lists no components")
    if missing:
        return RestoreReadiness(ready=False, missing=missing, reason="lacks " + ", ".join(missing))
    return RestoreReadiness(ready=True, missing=(), reason="lists " + ", ".join(needed))


def dr_readiness(
    restore: RestoreReadiness | None, checksums_verified: bool | None, archive_readable: bool | None
) -> DrReadiness:
    """DR-ready: the latest good backup is restore-ready, its checksums verified and its archive readable.

    Source: DOMAIN.md §3 "Disaster recovery target". ``restore`` None: no good backup at all;
    ``checksums_verified`` / ``archive_readable`` None: not checked (which is not ready).
    """
    if restore is None:
        return DrReadiness(ready=False, reasons=("no good backup",))
    reasons: list[str] = []
    if not restore.ready:
        reasons.append(f"not restore-ready: {restore.reason}")
    if checksums_verified is None:
        reasons.append("checksums not verified")
    elif not checksums_verified:
        reasons.append("checksum mismatch")
    if archive_readable is None:
        reasons.append("archive not checked")
    elif not archive_readable:
        reasons.append("archive unreadable")
    return DrReadiness(ready=not reasons, reasons=tuple(reasons))


def verify_tonight(path: str, as_of: datetime, *, latest: bool, rotation_nights: int) -> bool:
    """Is the backup at ``path`` due for checksum verification in the run at ``as_of``?

    The latest good backup of each series every night; any other backup once every
    ``rotation_nights`` nights, spread by a stable hash of its path (the same on every machine), so
    that each night verifies about 1/``rotation_nights`` of the rest (docs/pipelines/backup_health.md).
    """
    require_aware(as_of, "as_of")
    if rotation_nights < 1:
        raise ValueError(f"rotation_nights must be at least 1, got {rotation_nights}")
    if latest:
        return True
    day = as_of.date().toordinal()
    return (zlib.crc32(path.encode()) + day) % rotation_nights == 0


def fleet_counts(verdicts: Sequence[Mapping[str, object]]) -> dict[str, int]:
    """Counts of fresh / missed / overdue / at-risk / DR-ready series in ``verdicts`` (rows with
    ``freshness``, ``at_risk``, ``dr_ready``)."""
    counts = {"series": len(verdicts), "fresh": 0, "missed": 0, "overdue": 0, "at_risk": 0, "dr_ready": 0}
    for row in verdicts:
        counts[str(row["freshness"])] += 1
        counts["at_risk"] += bool(row["at_risk"])
        counts["dr_ready"] += bool(row["dr_ready"])
    return counts
