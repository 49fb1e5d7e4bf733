"""Settings of the ``backup_retention`` pipeline, from ``include/config/retention.yaml``.

The retention rule's numbers are in ``policy.yaml`` (``di_ops.core.settings.policy``); this file holds
only how the pipeline runs: schedule, store connection, scan batching, the blast-radius guard.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from di_ops.core.settings import FrozenModel, config_dir, load_model


class GuardSettings(FrozenModel):
    # Default chosen here (the source gives no number): see include/config/retention.yaml.
    max_prune_share_per_series: float = Field(gt=0, le=1)
    max_prune_total: int = Field(ge=0)
    approval_timeout_hours: float = Field(gt=0)


class RetentionSettings(FrozenModel):
    schedule: str
    # Deprecated here (moved to pipelines.yaml backup_store; read through di_ops.core.settings.backup_store).
    store_conn_id: str | None = Field(default=None, min_length=1)
    scan_batch_size: int = Field(ge=1)
    max_scan_tasks: int = Field(ge=1, le=1024)  # Airflow's [core] max_map_length is 1024
    scan_threads: int = Field(ge=1, le=64)
    # A manifest above this many bytes is unreadable (its series held), never read into memory whole.
    scan_max_manifest_bytes: int = Field(ge=1024, le=64 * 1024 * 1024)
    bulk_plan_threshold: int = Field(ge=0)
    guard: GuardSettings
    reports_folder: str = Field(min_length=1)
    gx_folder: str = Field(min_length=1)
    tombstone_prefix: str | None = Field(default=None, pattern=r"^\.[A-Za-z0-9_.-]+$")  # deprecated here, as above


@lru_cache(maxsize=1)
def retention_settings() -> RetentionSettings:
    return load_model(RetentionSettings, config_dir() / "retention.yaml")
