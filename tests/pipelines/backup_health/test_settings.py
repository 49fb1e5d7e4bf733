"""include/config/backup_health.yaml: the defaults the guide names, errors that name file and field."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError
from di_ops.pipelines.backup_health.settings import backup_health_settings


def test_the_defaults_are_the_documented_ones() -> None:
    s = backup_health_settings()
    assert s.schedule == "0 11 * * *" and s.evening == time(18) and s.min_good == 3
    assert s.required_components("CUCxN") == ("configuration", "voicemail")
    assert s.required_components("IMP") == ("configuration",) and s.required_components("Expressway") == ("custom",)
    assert s.required_components("Unknown") is None
    assert s.verify_rotation_nights == 7 and s.trend_nights == 30
    assert s.reports_folder == "reports/backup_health"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("backup.tar", "tar"),
        ("B.TAR.GZ", "tar"),
        ("x.tgz", "tar"),
        ("backup.tar.enc", "tar"),
        ("vm.zip", "zip"),
        ("backup.ini", None),
        ("backup.enc", None),
        ("tar", None),
    ],
)
def test_the_archive_format_is_read_from_the_longest_configured_ending(name: str, kind: str | None) -> None:
    assert backup_health_settings().archive_format(name) == kind


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("min_good: 3", "min_good: 0", "min_good"),
        ("verify_rotation_nights: 7", "verify_rotation_nights: 0", "verify_rotation_nights"),
        ('evening: "18:00"', 'evening: "6 pm"', "evening"),
        ("  CUCxN: [configuration, voicemail]", "  CUCxN: []", "components"),
        ("  .zip: zip", "  .zip: rar", "archive_formats"),
        ("  .zip: zip", "  zip: zip", "archive_formats"),
    ],
)
def test_bad_values_name_file_and_field(config_copy: Path, old: str, new: str, field: str) -> None:
    path = config_copy / "backup_health.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    backup_health_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=rf"backup_health\.yaml: {field}"):
            backup_health_settings()
    finally:
        backup_health_settings.cache_clear()
