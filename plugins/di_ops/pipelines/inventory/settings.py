"""Settings of ``inventory_sync``'s contact-data gate, from ``include/config/inventory.yaml``.

The schedule and the exports folder stay in ``pipelines.yaml: inventory`` (shared with the demo and
the console). Source of the gate: DOMAIN.md §2 (contact data); docs/pipelines/inventory.md.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from di_ops.core.settings import FrozenModel, config_dir, load_model, under_data_dir


class ContactGateSettings(FrozenModel):
    # DOMAIN.md §2 default: one partner and one customer contact with a well-formed e-mail.
    required_roles: tuple[Literal["partner", "customer"], ...] = Field(default=("partner", "customer"), min_length=1)


class InventoryGateSettings(FrozenModel):
    contact_gate: ContactGateSettings = Field(default_factory=ContactGateSettings)
    reports_folder: str = Field(default="reports/inventory", min_length=1)
    gx_folder: str = Field(default="inventory_gx", min_length=1)

    def path(self, name: Literal["reports_folder", "gx_folder"]) -> Path:
        """A configured folder, absolute or under the data folder."""
        return under_data_dir(getattr(self, name))


@lru_cache(maxsize=1)
def inventory_settings() -> InventoryGateSettings:
    return load_model(InventoryGateSettings, config_dir() / "inventory.yaml")
