"""Shared primitives of the rules: aware datetimes and region names.

Source: README, "The rules library" (naive datetimes raise ValueError; regions are AMER, APJC,
AUS, EMEA, case-insensitive; an unknown region raises ValueError naming them).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from di_ops.core.settings import regions_config


class FrozenRecord(BaseModel):
    """Base of the rules' result models: immutable values (unknown keys ignored, as pydantic does)."""

    model_config = ConfigDict(frozen=True)


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it carries a UTC offset; raise ValueError naming ``name`` otherwise."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def known_regions() -> tuple[str, ...]:
    return tuple(sorted(regions_config().regions))


def normalise_region(region: str) -> str:
    """Upper-case ``region`` and check it is configured; ValueError names the known regions."""
    if not isinstance(region, str):
        raise ValueError(f"region must be a string, got {region!r}; known regions: {', '.join(known_regions())}")
    name = region.strip().upper()
    if name not in regions_config().regions:
        raise ValueError(f"unknown region {region!r}; known regions: {', '.join(known_regions())}")
    return name


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def region_zone(region: str) -> ZoneInfo:
    """The IANA zone of ``region`` (settings: include/config/regions.yaml)."""
    return _zone(regions_config().regions[normalise_region(region)].zone)
