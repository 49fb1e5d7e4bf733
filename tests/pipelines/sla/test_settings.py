"""include/config/sla.yaml is validated; a bad value names the file and the field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError
from di_ops.pipelines.sla import settings as settings_sla


@pytest.fixture
def sla_config(config_copy: Path) -> Iterator[Path]:
    settings_sla.sla_settings.cache_clear()
    yield config_copy / "sla.yaml"
    settings_sla.sla_settings.cache_clear()


def test_the_shipped_settings_load() -> None:
    cfg = settings_sla.sla_settings()
    assert 0 < cfg.quality.max_rejected_share < 1
    assert cfg.audit.about_to_breach_hours > 0 and cfg.audit.min_cases_to_judge >= 0


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("max_rejected_share: 0.05", "max_rejected_share: 1.5", "quality.max_rejected_share"),
        ("about_to_breach_hours: 24", "about_to_breach_hours: 0", "audit.about_to_breach_hours"),
        (
            "contract_number_pattern: '^[A-Za-z0-9][A-Za-z0-9-]{5,19}$'",
            "contract_number_pattern: '(['",
            "escalation.contract_number_pattern",
        ),
    ],
)
def test_a_bad_value_names_the_file_and_field(sla_config: Path, old: str, new: str, field: str) -> None:
    text = sla_config.read_text()
    assert old in text
    sla_config.write_text(text.replace(old, new))
    with pytest.raises(ConfigError, match=r"sla\.yaml: " + re.escape(field)):
        settings_sla.sla_settings()


def test_paths_are_relative_to_the_data_folder(data_dir: Path) -> None:
    assert settings_sla.export_path(None) == data_dir / "sla" / "exports"
    assert settings_sla.export_path("/abs/cases.csv") == Path("/abs/cases.csv")
    assert settings_sla.reports_dir() == data_dir / "sla" / "reports"
