"""Settings load from include/config and fail with the file and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from di_ops.core import settings


def test_shipped_config_loads() -> None:
    assert set(settings.regions_config().regions) == {"AMER", "APJC", "AUS", "EMEA"}
    assert settings.regions_config().regions["AUS"].zone == "Australia/Sydney"
    assert settings.policy().retention.keep_good_days == 33
    assert settings.policy().sla.objectives["S1"].minutes == 15
    assert settings.policy().certificates.renew_earliest_days_before == 7
    assert [r.release_cycle for r in settings.release_catalog().releases] == ["15.0", "14.0", "12.5"]
    assert "di-ops" in settings.pipelines().tags


@pytest.mark.parametrize(
    ("file", "old", "new", "field"),
    [
        ("policy.yaml", "keep_latest_good: 3", "keep_latest_good: -1", "retention.keep_latest_good"),
        ("policy.yaml", "S1: {minutes: 15}", "S1: {minutes: 15, business_days: 1}", "sla.objectives.S1"),
        ("regions.yaml", "zone: Asia/Tokyo", "zone: Asia/Atlantis", "regions.APJC.zone"),
        ("regions.yaml", 'opens: "21:00"', 'opens: "25:00"', "maintenance_window.opens"),
        ("releases.yaml", "latest: SU2", "latest: SU9", "releases.0"),
        ("pipelines.yaml", "default_retries: 2", "default_retries: many", "default_retries"),
    ],
)
def test_bad_config_names_file_and_field(config_copy: Path, file: str, old: str, new: str, field: str) -> None:
    path = config_copy / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    loaders = {
        "policy.yaml": settings.policy,
        "regions.yaml": settings.regions_config,
        "releases.yaml": settings.release_catalog,
        "pipelines.yaml": settings.pipelines,
    }
    with pytest.raises(settings.ConfigError) as err:
        loaders[file]()
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_missing_and_unparseable_files(config_copy: Path) -> None:
    (config_copy / "policy.yaml").unlink()
    with pytest.raises(settings.ConfigError, match="policy.yaml: config file not found"):
        settings.policy()
    (config_copy / "regions.yaml").write_text("regions: [unclosed\n")
    with pytest.raises(settings.ConfigError, match="regions.yaml: not valid YAML"):
        settings.regions_config()


def test_clear_caches_also_forgets_the_pipelines_settings(config_copy: Path) -> None:
    from di_ops.pipelines.cop.settings import cop_settings

    first = cop_settings()
    assert cop_settings() is first
    settings.clear_caches()
    assert cop_settings() is not first


def test_a_configured_path_is_absolute_or_under_the_data_folder(data_dir: Path) -> None:
    from di_ops.core.settings import under_data_dir

    assert under_data_dir("reports/x") == data_dir / "reports" / "x"
    assert under_data_dir(Path("/srv/reports")) == Path("/srv/reports")
