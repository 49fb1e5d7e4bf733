"""Settings of the operations console: ``include/config/console.yaml`` (docs/console.md)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field

from di_ops.core.settings import FrozenModel, config_dir, load_model


class MetricsSettings(FrozenModel):
    auth: Literal["login", "token"] = "login"
    token_env: str = Field(default="DI_OPS_METRICS_TOKEN", pattern=r"^[A-Z_][A-Z0-9_]*$")
    coming_days: int = Field(default=42, ge=1, le=366)


class ConsoleSettings(FrozenModel):
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)


@lru_cache(maxsize=1)
def console_settings() -> ConsoleSettings:
    return load_model(ConsoleSettings, config_dir() / "console.yaml")
