"""Settings of the ``backup_health`` pipeline, from ``include/config/backup_health.yaml``.

Every default that interprets the source says so in that file (docs/pipelines/backup_health.md).
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator

from di_ops.core.settings import FrozenModel, config_dir, load_model


class BackupHealthSettings(FrozenModel):
    schedule: str = Field(min_length=1)
    evening: time
    min_good: int = Field(ge=1, le=100)
    components: dict[str, tuple[str, ...]]
    archive_formats: dict[str, Literal["tar", "zip"]] = Field(min_length=1)
    verify_rotation_nights: int = Field(ge=1, le=366)
    trend_nights: int = Field(ge=1, le=366)
    max_manifest_bytes: int = Field(ge=1024, le=64 * 1024 * 1024)
    scan_threads: int = Field(ge=1, le=64)
    reports_folder: str = Field(min_length=1)
    gx_folder: str = Field(min_length=1)

    @field_validator("components")
    @classmethod
    def _every_application_needs_something(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for application, names in value.items():
            if not names or any(not n.strip() for n in names):
                raise ValueError(f"{application}: list at least one component name")
        return {application: tuple(n.strip().lower() for n in names) for application, names in value.items()}

    @field_validator("archive_formats")
    @classmethod
    def _endings(cls, value: dict[str, str]) -> dict[str, str]:
        for ending in value:
            if not ending.startswith(".") or len(ending) < 2:
                raise ValueError(f"{ending!r}: a file-name ending starts with '.'")
        return value

    def required_components(self, application: str) -> tuple[str, ...] | None:
        """The components a restore of ``application`` needs, None when no setting names it."""
        return self.components.get(application)

    def archive_format(self, file_name: str) -> str | None:
        """The archive format of ``file_name`` by its longest configured ending, else None."""
        lowered = file_name.lower()
        endings = sorted((e for e in self.archive_formats if lowered.endswith(e.lower())), key=len, reverse=True)
        return self.archive_formats[endings[0]] if endings else None


@lru_cache(maxsize=1)
def backup_health_settings() -> BackupHealthSettings:
    return load_model(BackupHealthSettings, config_dir() / "backup_health.yaml")
