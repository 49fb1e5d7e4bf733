"""Release trains and upgrade eligibility of the UC applications.

Source: DOMAIN.md §6 (Table 5 of the source). The train is data
(``include/config/releases.yaml``); positions n / n-1 / n-2 are derived from the
order of ``releaseDate``, so announcing a release shifts them without code.

Defaults that interpret the source:

- Version strings: ``15.0 SU2``, ``v15.0-SU2``, ``14.0 su3``, ``12.5 SU7a``,
  Cisco's ``12.5(1)SU7a``, a major only (``v15 SU2``, as DOMAIN.md writes it),
  ``_`` or ``.`` as separators, and a bare cycle (``15.0``, ``15.0(1)``) meaning
  the base release before SU1. Build numbers (``15.0.1.12900-234``) are refused:
  mapping a build to an SU needs a table the catalog does not hold.
- An SU the catalog does not list for its train is *unsupported* (DOMAIN.md §6),
  except an SU of train n newer than every listed one: that is *unknown*
  (reported, no target), the same as a cycle newer than n. A cycle the catalog
  does not list and that is not newer than n is unsupported.
- *unknown* and *not assessed* get ``may_stay=True`` and no target: the tool
  reports them and never asks for an upgrade it cannot name.
- "Nearing EOL": ``as_of`` at or after ``eol − nearing_eol_days`` (elapsed
  time; the EOL date is read as 00:00 UTC of that day). A release nearing or
  past its EOL may not stay (DOMAIN.md §6: the operator starts an upgrade when
  the customer is on a release nearing EOL); if no newer release is in the
  catalog, the target stays empty and a reason says so.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from di_ops.core.settings import ReleaseCatalog, ReleasePolicy, ReleaseRecord, release_catalog
from di_ops.core.settings import policy as policy_settings
from di_ops.rules.common import require_aware

__all__ = [
    "ACCEPTED_FORMS",
    "Eligibility",
    "ReleaseCatalog",
    "ReleaseRecord",
    "Train",
    "announce_release",
    "assess",
    "parse_version",
    "train_positions",
]

Train = Literal["n", "n-1", "n-2", "unsupported", "unknown", "not assessed"]
Position = Literal["n", "n-1", "n-2", "unsupported"]
_POSITIONS: tuple[Literal["n", "n-1", "n-2"], ...] = ("n", "n-1", "n-2")

ACCEPTED_FORMS = (
    "'15.0 SU2', 'v15.0-SU2', '14.0 su3', '12.5 SU7a', '12.5(1)SU7a', 'v15 SU2', '15.0' (base release, before SU1)"
)
_VERSION = re.compile(
    r"""^v?(?P<major>\d{1,3})(?:\.(?P<minor>\d{1,3}))?(?:\(1\))?
        (?:[\s._-]*su[\s._-]*(?P<su>\d{1,3})(?P<letter>[a-z])?)?$""",
    re.IGNORECASE | re.VERBOSE,
)
_SU = re.compile(r"^su(?P<number>\d{1,3})(?P<letter>[a-z])?$", re.IGNORECASE)

SuKey = tuple[int, str]


class Eligibility(BaseModel):
    """Where a version stands on the release train and what the operator does about it."""

    model_config = ConfigDict(frozen=True)

    train: Train
    release: str | None
    may_stay: bool
    upgrade_target: str | None
    reasons: list[str] = Field(min_length=1)


def _cycle_key(cycle: str) -> tuple[int, int]:
    major, minor = cycle.split(".")
    return int(major), int(minor)


def _su_key(su: str | None) -> SuKey:
    """Order of SUs: base release (None) < SU1 < SU7 < SU7a < SU8."""
    if su is None:
        return (0, "")
    match = _SU.match(su)
    if match is None:
        raise ValueError(f"not an SU label: {su!r}")
    return int(match["number"]), (match["letter"] or "").lower()


def _su_label(su: str) -> str:
    number, letter = _su_key(su)
    return f"SU{number}{letter}"


def _label(cycle: str, su: str | None) -> str:
    return cycle if su is None else f"{cycle} {su}"


def parse_version(version: str) -> tuple[str, str | None]:
    """Parse a version string into ``(cycle, su)``, e.g. ``"v15-su2"`` -> ``("15.0", "SU2")``.

    ``su`` is None for a base release. ValueError names the value and the accepted forms.
    Source: DOMAIN.md §6 (versions such as "v12.5 SU7a", "v15 SU2").
    """
    match = _VERSION.match(version.strip()) if isinstance(version, str) else None
    if match is None:
        raise ValueError(f"cannot read the version {version!r}; accepted forms: {ACCEPTED_FORMS}")
    cycle = f"{int(match['major'])}.{int(match['minor'] or 0)}"
    if match["su"] is None:
        return cycle, None
    return cycle, f"SU{int(match['su'])}{(match['letter'] or '').lower()}"


def _ordered(catalog: ReleaseCatalog) -> list[ReleaseRecord]:
    """Releases newest first by releaseDate; the version order must agree (else targets could be downgrades)."""
    by_date = sorted(catalog.releases, key=lambda r: r.release_date, reverse=True)
    for newer, older in zip(by_date, by_date[1:], strict=False):
        if newer.release_date == older.release_date or _cycle_key(newer.release_cycle) <= _cycle_key(
            older.release_cycle
        ):
            raise ValueError(
                f"release catalog is inconsistent: {newer.release_cycle} ({newer.release_date}) and "
                f"{older.release_cycle} ({older.release_date}) must have increasing versions and dates"
            )
    return by_date


def train_positions(catalog: ReleaseCatalog | None = None) -> dict[str, Position]:
    """Map each catalog cycle to its position: newest ``n``, then ``n-1``, ``n-2``, older ``unsupported``.

    Source: DOMAIN.md §6 (positions follow the order of release; older than n-2 is unsupported).
    """
    ordered = _ordered(catalog or release_catalog())
    return {
        record.release_cycle: (_POSITIONS[index] if index < len(_POSITIONS) else "unsupported")
        for index, record in enumerate(ordered)
    }


def _upgrade_target(catalog: ReleaseCatalog) -> tuple[str, tuple[tuple[int, int], SuKey]]:
    newest = _ordered(catalog)[0]
    return _label(newest.release_cycle, _su_label(newest.latest)), (
        _cycle_key(newest.release_cycle),
        _su_key(newest.latest),
    )


def _eol_reason(record: ReleaseRecord, as_of: datetime, horizon_days: int) -> str | None:
    if record.eol is None:
        return None
    eol_at = datetime.combine(record.eol, time(0), tzinfo=UTC)
    if as_of >= eol_at:
        return f"v{record.release_cycle} is past its end-of-life date {record.eol.isoformat()}"
    if as_of >= eol_at - timedelta(days=horizon_days):
        return (
            f"v{record.release_cycle} is nearing EOL: end of life {record.eol.isoformat()} "
            f"is within {horizon_days} days"
        )
    return None


def _classify(cycle: str, su: str | None, catalog: ReleaseCatalog) -> tuple[Train, ReleaseRecord | None, str]:
    positions = train_positions(catalog)
    records = {r.release_cycle: r for r in catalog.releases}
    newest = _ordered(catalog)[0]
    label = _label(cycle, su)
    record = records.get(cycle)
    if record is None:
        if _cycle_key(cycle) > _cycle_key(newest.release_cycle):
            return (
                "unknown",
                None,
                f"{label} is newer than the catalog's n (v{newest.release_cycle}); update the catalog",
            )
        return "unsupported", None, f"v{cycle} is not a train the release catalog lists"
    position = positions[cycle]
    listed = {_su_key(s) for s in record.supported_sus}
    if _su_key(su) in listed:
        if position == "unsupported":
            return "unsupported", record, f"v{cycle} is older than n-2"
        return position, record, f"{label} is on train {position}"
    if position == "n" and _su_key(su) > max(listed):
        return (
            "unknown",
            record,
            f"{label} is newer than the latest listed SU of n ({newest.latest}); update the catalog",
        )
    supported = "/".join(_su_label(s) for s in record.supported_sus)
    shown = f"{label} (base release)" if su is None else label
    return "unsupported", record, f"{shown} is not a listed SU of v{cycle} (listed: {supported})"


def assess(
    version: str,
    *,
    application: str = "CUCM",
    catalog: ReleaseCatalog | None = None,
    as_of: datetime | None = None,
    policy: ReleasePolicy | None = None,
) -> Eligibility:
    """Assess ``version`` of ``application`` against the release train; ``as_of`` enables "nearing EOL".

    Source: DOMAIN.md §6 (Table 5; unsupported, unknown, not assessed; nearing EOL).
    """
    catalog = catalog or release_catalog()
    horizon_days = (policy or policy_settings().releases).nearing_eol_days
    if as_of is not None:
        as_of = require_aware(as_of, "as_of").astimezone(UTC)
    known_apps = {a.casefold() for a in catalog.applications}
    if application.strip().casefold() not in known_apps:
        return Eligibility(
            train="not assessed",
            release=None,
            may_stay=True,
            upgrade_target=None,
            reasons=[
                f"{application} {version!r} not assessed: the release catalog covers "
                f"{', '.join(catalog.applications)} only"
            ],
        )
    cycle, su = parse_version(version)
    train, record, reason = _classify(cycle, su, catalog)
    reasons = [reason]
    target, target_key = _upgrade_target(catalog)
    release_key = (_cycle_key(cycle), _su_key(su))

    if train == "unknown":
        reasons.append("reported only: never given a downgrade target")
        return Eligibility(train=train, release=_label(cycle, su), may_stay=True, upgrade_target=None, reasons=reasons)
    # unsupported (and anything not n / n-1 / n-2) may not stay; the others follow the catalog's policy
    may_stay = next((catalog.positions[p].may_stay for p in _POSITIONS if p == train), False)
    if train == "unsupported":
        reasons.append("unsupported releases may not stay")
    elif not may_stay:
        reasons.append(f"may not stay on {train} (current policy)")
    eol_reason = _eol_reason(record, as_of, horizon_days) if record is not None and as_of is not None else None
    if eol_reason is not None:
        reasons.append(eol_reason)
        may_stay = False
    if may_stay:
        reasons.append("may stay")
        return Eligibility(train=train, release=_label(cycle, su), may_stay=True, upgrade_target=None, reasons=reasons)
    if target_key > release_key:
        reasons.append(f"upgrade to {target}")
        upgrade_target: str | None = target
    else:
        reasons.append("no newer release in the catalog to upgrade to; announce the next release")
        upgrade_target = None
    return Eligibility(
        train=train, release=_label(cycle, su), may_stay=False, upgrade_target=upgrade_target, reasons=reasons
    )


def announce_release(
    catalog: ReleaseCatalog,
    cycle: str,
    label: str,
    release_date: date,
    supported_sus: tuple[str, ...] | list[str],
    latest: str | None = None,
) -> ReleaseCatalog:
    """Return a new catalog with release ``cycle`` added as the new n (what-if "a new release is announced").

    n becomes n-1, n-1 becomes n-2 and n-2 leaves the table (it gets an end-of-sale
    date of ``release_date`` if it had none, and its customers become unsupported).
    Source: DOMAIN.md §6 ("shift when a new release is announced: n→n-1, n-1→n-2, n-2 enters end-of-sale").
    """
    ordered = _ordered(catalog)
    newest = ordered[0]
    if any(r.release_cycle == cycle for r in catalog.releases):
        raise ValueError(f"release {cycle} is already in the catalog")
    new_cycle, _ = parse_version(cycle)
    if new_cycle != cycle:
        raise ValueError(f"release cycle must be written 'major.minor', got {cycle!r}")
    if _cycle_key(cycle) <= _cycle_key(newest.release_cycle) or release_date <= newest.release_date:
        raise ValueError(
            f"announced release {cycle} ({release_date}) must be newer than n "
            f"v{newest.release_cycle} ({newest.release_date})"
        )
    sus = tuple(_su_label(s) for s in supported_sus)
    record = ReleaseRecord.model_validate(
        {
            "releaseCycle": cycle,
            "label": label,
            "releaseDate": release_date,
            "supported_sus": sus,
            "latest": _su_label(latest) if latest is not None else (sus[-1] if sus else ""),
        }
    )
    leaving = ordered[len(_POSITIONS) - 1] if len(ordered) >= len(_POSITIONS) else None
    releases = [
        r.model_copy(update={"eoas": release_date}) if r is leaving and r.eoas is None else r for r in catalog.releases
    ]
    return catalog.model_copy(update={"releases": (record, *releases)})
