"""include/config/retention.yaml is validated; a bad value names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError
from di_ops.pipelines.retention.settings import retention_settings


def test_shipped_settings_load() -> None:
    retention_settings.cache_clear()
    settings = retention_settings()
    assert settings.store_conn_id == "di_backup_store"
    assert settings.max_scan_tasks <= 1024 and settings.guard.max_prune_share_per_series == 0.5
    assert settings.tombstone_prefix.startswith(".")
    assert settings.scan_max_manifest_bytes == 1 << 20


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("max_scan_tasks: 64", "max_scan_tasks: 2000", "max_scan_tasks"),
        ("max_prune_share_per_series: 0.5", "max_prune_share_per_series: 1.5", "guard.max_prune_share_per_series"),
        ('tombstone_prefix: ".tombstone."', 'tombstone_prefix: "tomb"', "tombstone_prefix"),
        ("scan_max_manifest_bytes: 1048576", "scan_max_manifest_bytes: 1023", "scan_max_manifest_bytes"),
        ("scan_max_manifest_bytes: 1048576", "scan_max_manifest_bytes: 67108865", "scan_max_manifest_bytes"),
        ("scan_max_manifest_bytes: 1048576", "scan_max_manifest_bytes: 1 MiB", "scan_max_manifest_bytes"),
    ],
)
def test_bad_values_name_file_and_field(config_copy: Path, old: str, new: str, field: str) -> None:
    path = config_copy / "retention.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    retention_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=rf"retention\.yaml: {field}"):
            retention_settings()
    finally:
        retention_settings.cache_clear()


@pytest.mark.parametrize("value", [1024, 67108864])
def test_manifest_limit_edges_are_accepted(config_copy: Path, value: int) -> None:
    path = config_copy / "retention.yaml"
    path.write_text(path.read_text().replace("scan_max_manifest_bytes: 1048576", f"scan_max_manifest_bytes: {value}"))
    retention_settings.cache_clear()
    try:
        assert retention_settings().scan_max_manifest_bytes == value
    finally:
        retention_settings.cache_clear()
