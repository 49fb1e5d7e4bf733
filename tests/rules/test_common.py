"""Shared rule primitives: aware datetimes only, known regions only, errors that name the accepted values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from di_ops.rules.common import known_regions, normalise_region, region_zone, require_aware


def test_require_aware() -> None:
    moment = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert require_aware(moment, "x") is moment
    with pytest.raises(ValueError, match=r"opened_at must be timezone-aware, got naive 2026-03-29T01:00:00"):
        require_aware(datetime(2026, 3, 29, 1, 0), "opened_at")
    with pytest.raises(TypeError, match="as_of must be a datetime, got date"):
        require_aware(date(2026, 3, 29), "as_of")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected"), [("AMER", "AMER"), ("emea", "EMEA"), (" Aus ", "AUS"), ("apjc", "APJC")]
)
def test_normalise_region(given: str, expected: str) -> None:
    assert normalise_region(given) == expected


@pytest.mark.parametrize("bad", ["EU", "", "LATAM", None, 3])
def test_unknown_region_names_the_known_ones(bad: object) -> None:
    with pytest.raises(ValueError, match="known regions: AMER, APJC, AUS, EMEA"):
        normalise_region(bad)  # type: ignore[arg-type]


def test_region_zone() -> None:
    assert known_regions() == ("AMER", "APJC", "AUS", "EMEA")
    assert region_zone("aus") == ZoneInfo("Australia/Sydney")
    assert region_zone("EMEA") == ZoneInfo("Europe/Amsterdam")
