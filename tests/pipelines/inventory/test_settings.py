"""include/config/inventory.yaml (the contact-data gate) is validated; a bad role names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from di_ops.core.settings import ConfigError, clear_caches
from di_ops.pipelines.inventory.settings import inventory_settings


def test_shipped_settings_load(config_copy: Path, data_dir: Path) -> None:
    settings = inventory_settings()
    assert settings.contact_gate.required_roles == ("partner", "customer")  # DOMAIN.md §2 default
    assert settings.path("reports_folder") == data_dir / "reports" / "inventory"


def test_an_unknown_role_names_file_and_field(config_copy: Path) -> None:
    path = config_copy / "inventory.yaml"
    path.write_text(path.read_text().replace("[partner, customer]", "[partner, reseller]"))
    clear_caches()
    with pytest.raises(ConfigError, match=r"inventory\.yaml.*required_roles"):
        inventory_settings()
