"""include/config/capacity.yaml is validated; a bad value names the file and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError, clear_caches
from di_ops.pipelines.capacity.settings import capacity_settings


def test_shipped_settings_load(config_copy: Path, data_dir: Path) -> None:
    settings = capacity_settings()
    assert settings.warning_percent == Decimal(90)
    assert settings.path("expansions_file") == data_dir / "capacity" / "expansions.csv"
    assert settings.path("reports_folder") == data_dir / "reports" / "capacity"


@pytest.mark.parametrize("bad", ["100", "0", "-1", "ninety"])
def test_a_warning_percent_outside_0_100_names_file_and_field(config_copy: Path, bad: str) -> None:
    path = config_copy / "capacity.yaml"
    path.write_text(path.read_text().replace("warning_percent: 90", f"warning_percent: {bad}"))
    clear_caches()
    with pytest.raises(ConfigError, match=r"capacity\.yaml.*warning_percent"):
        capacity_settings()
