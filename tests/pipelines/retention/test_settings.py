"""include/config/retention.yaml is validated; a bad value names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError, backup_store
from di_ops.pipelines.retention.settings import retention_settings


def test_shipped_settings_load(config_copy: Path) -> None:
    settings = retention_settings()
    assert settings.store_conn_id is None and settings.tombstone_prefix is None  # moved to pipelines.yaml
    assert backup_store().conn_id == "di_backup_store" and backup_store().tombstone_prefix == ".tombstone."
    assert settings.max_scan_tasks <= 1024 and settings.guard.max_prune_share_per_series == 0.5
    assert settings.scan_max_manifest_bytes == 1 << 20


def test_the_old_store_keys_in_retention_yaml_still_apply_with_a_deprecation(config_copy: Path) -> None:
    """A retention.yaml of before the shared backup_store section keeps working, and says what to move."""
    path = config_copy / "retention.yaml"
    path.write_text(path.read_text() + 'store_conn_id: old_store\ntombstone_prefix: ".gone."\n')
    with pytest.warns(DeprecationWarning, match=r"store_conn_id -> backup_store\.conn_id"):
        store = backup_store()
    assert (store.conn_id, store.tombstone_prefix) == ("old_store", ".gone.")
    assert retention_settings().store_conn_id == "old_store"  # still valid in the retention model


def test_a_bad_old_store_key_names_the_file_and_field(config_copy: Path) -> None:
    path = config_copy / "retention.yaml"
    path.write_text(path.read_text() + 'tombstone_prefix: "tomb"\n')
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match=r"retention\.yaml: tombstone_prefix"):
        backup_store()


def test_the_shared_store_settings_are_checked(config_copy: Path) -> None:
    path = config_copy / "pipelines.yaml"
    path.write_text(path.read_text().replace('tombstone_prefix: ".tombstone."', 'tombstone_prefix: "tomb"'))
    with pytest.raises(ConfigError, match=r"pipelines\.yaml: backup_store\.tombstone_prefix"):
        backup_store()


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("max_scan_tasks: 64", "max_scan_tasks: 2000", "max_scan_tasks"),
        ("max_prune_share_per_series: 0.5", "max_prune_share_per_series: 1.5", "guard.max_prune_share_per_series"),
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
