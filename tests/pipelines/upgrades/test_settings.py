"""include/config/upgrades.yaml is validated; a bad value fails naming the file and the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError
from di_ops.pipelines.upgrades.settings import upgrade_settings


@pytest.fixture
def fresh(config_copy: Path) -> Iterator[Path]:
    upgrade_settings.cache_clear()
    yield config_copy
    upgrade_settings.cache_clear()


def test_the_shipped_settings(fresh: Path, data_dir: Path) -> None:
    settings = upgrade_settings()
    assert settings.move_together == (("CUCM", "IMP", "CUCxN"),)
    assert set(settings.operator_start_trains) == {"n-2", "unsupported"}
    assert settings.path("advisory_feed") == data_dir / "upgrades" / "advisories.json"
    assert settings.path("reports_folder") == data_dir / "reports" / "upgrades"
    assert settings.emergency_check_schedule == "0 7 * * *" and settings.missed_grace_hours == 2


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("  - [CUCM, IMP, CUCxN]", "  - [CUCM, Fax]", "move_together"),
        ("  - [CUCM, IMP, CUCxN]", "  - [CUCM]", "move_together"),
        ("operator_start_trains: [n-2, unsupported]", "operator_start_trains: [n-3]", "operator_start_trains"),
        ("required_feeds: [advisory_feed]", "required_feeds: [tac]", "required_feeds"),
        ("missed_grace_hours: 2", "missed_grace_hours: -1", "missed_grace_hours"),
        ('emergency_check_schedule: "0 7 * * *"', 'emergency_check_schedule: ""', "emergency_check_schedule"),
    ],
)
def test_bad_values_name_the_file_and_field(fresh: Path, old: str, new: str, field: str) -> None:
    path = fresh / "upgrades.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError, match=rf"upgrades.yaml: {field}"):
        upgrade_settings()
