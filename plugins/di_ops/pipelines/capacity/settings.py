"""Settings of the ``capacity_audit`` pipeline, from ``include/config/capacity.yaml``.

Validated once (cached) with :func:`di_ops.core.settings.load_model`; a bad file fails with a message
naming the file and the field. Source: DOMAIN.md §8; docs/pipelines/capacity.md.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from di_ops.core.settings import FrozenModel, config_dir, load_model, under_data_dir


class CapacitySettings(FrozenModel):
    schedule: str = Field(min_length=1)
    # DOMAIN.md §8 default ("above 90 % a warning"): configured > this % of the allowed number.
    warning_percent: Decimal = Field(default=Decimal(90), gt=0, lt=100)
    expansions_file: str = Field(default="capacity/expansions.csv", min_length=1)
    reports_folder: str = Field(default="reports/capacity", min_length=1)

    def path(self, name: Literal["expansions_file", "reports_folder"]) -> Path:
        """A configured path, absolute or under the data folder."""
        return under_data_dir(getattr(self, name))


@lru_cache(maxsize=1)
def capacity_settings() -> CapacitySettings:
    return load_model(CapacitySettings, config_dir() / "capacity.yaml")
