"""Settings of the certificate pipelines, validated from ``include/config/certificates.yaml``."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from pydantic import EmailStr, Field, field_validator

from di_ops.core.settings import FrozenModel, config_dir, load_model, under_data_dir


class SweepSettings(FrozenModel):
    schedule: str = Field(min_length=1)
    # Deprecated override: empty (the default) derives the lead time from policy.yaml (DOMAIN.md §2).
    lookahead_days: int | None = Field(default=None, ge=1, le=3650)
    probe_timeout_seconds: float = Field(gt=0, le=120)
    probe_workers: int = Field(ge=1, le=256)
    pem_folder: str

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # type: ignore[import-untyped]

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (the sweep's lead time is derived from it)")
        return value


class RenewalSettings(FrozenModel):
    idp_metadata_folder: str
    retry_delay_seconds: int = Field(ge=1, le=3600)


class NoticeSettings(FrozenModel):
    operator_alerts: tuple[EmailStr, ...]
    contact_roles: tuple[str, ...] = Field(min_length=1)


class UcAdminSettings(FrozenModel):
    conn_id: str = Field(min_length=1)


class CertificatesConfig(FrozenModel):
    sweep: SweepSettings
    renewal: RenewalSettings
    notices: NoticeSettings
    uc_admin: UcAdminSettings


@lru_cache(maxsize=1)
def certificates_config() -> CertificatesConfig:
    return load_model(CertificatesConfig, config_dir() / "certificates.yaml")


def in_data_dir(folder: str) -> Path:
    return under_data_dir(folder)


def next_sweep(after: datetime, schedule: str | None = None) -> datetime:
    """The first run of the sweep's cron schedule (UTC) strictly after ``after``.

    The sweep plans every certificate that the next run could no longer announce with the full
    notice (DOMAIN.md §2), so its lead time follows this schedule.
    """
    from croniter import croniter  # type: ignore[import-untyped]

    cron = schedule or certificates_config().sweep.schedule
    found = croniter(cron, after.astimezone(UTC)).get_next(datetime)
    assert isinstance(found, datetime)
    return found.astimezone(UTC)
