"""Settings of the ``cop_upload`` pipeline, from ``include/config/cop.yaml`` (validated, cached)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from di_ops.core.settings import FrozenModel, config_dir, load_model, under_data_dir


class TransferSettings(FrozenModel):
    packets_per_request: int = Field(ge=1, le=8)  # OpenSSH's sftp-server takes writes up to 256 KiB
    max_outstanding: int = Field(ge=1, le=256)


class InboxLimits(FrozenModel):
    """What intake reads of one inbox request (a bigger or deeper one is rejected unread)."""

    max_request_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_json_depth: int = Field(default=32, ge=2, le=500)


class CopSettings(FrozenModel):
    schedule: str
    repository: str
    inbox: str
    inbox_limits: InboxLimits = InboxLimits()
    reports: str
    checksum_files: tuple[str, ...] = Field(min_length=1)
    connection_id_template: str = Field(pattern=r"\{customer\}")
    remote_folder: str = Field(pattern=r"^/")
    pool: str = Field(min_length=1)
    pool_slots: int = Field(ge=1)
    lease_seconds: int = Field(gt=0)
    lease_wait_seconds: int = Field(ge=0)
    lease_poll_seconds: float = Field(gt=0)
    emergency_uses_open_window: bool
    default_origin: Literal["customer", "operator"]
    transfer: TransferSettings

    def folder(self, value: str) -> Path:
        return under_data_dir(value)

    def connection_id(self, customer_id: str) -> str:
        return self.connection_id_template.format(customer=customer_id.lower())


@lru_cache(maxsize=1)
def cop_settings() -> CopSettings:
    return load_model(CopSettings, config_dir() / "cop.yaml")
