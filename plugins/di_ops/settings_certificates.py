"""Settings of the certificate pipelines, validated from ``include/config/certificates.yaml``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from di_ops.settings import config_dir, data_dir, load_model


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SweepSettings(_Frozen):
    schedule: str = Field(min_length=1)
    lookahead_days: int = Field(ge=1, le=3650)
    probe_timeout_seconds: float = Field(gt=0, le=120)
    probe_workers: int = Field(ge=1, le=256)
    pem_folder: str


class RenewalSettings(_Frozen):
    idp_metadata_folder: str
    retry_delay_seconds: int = Field(ge=1, le=3600)


class NoticeSettings(_Frozen):
    operator_alerts: tuple[EmailStr, ...]
    contact_roles: tuple[str, ...] = Field(min_length=1)


class UcAdminSettings(_Frozen):
    conn_id: str = Field(min_length=1)


class CertificatesConfig(_Frozen):
    sweep: SweepSettings
    renewal: RenewalSettings
    notices: NoticeSettings
    uc_admin: UcAdminSettings


@lru_cache(maxsize=1)
def certificates_config() -> CertificatesConfig:
    return load_model(CertificatesConfig, config_dir() / "certificates.yaml")


def in_data_dir(folder: str) -> Path:
    path = Path(folder)
    return path if path.is_absolute() else data_dir() / path
