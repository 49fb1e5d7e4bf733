"""Settings of the ``ops_housekeeping`` DAG, from ``include/config/housekeeping.yaml`` (validated, cached).

Every age in that file is a default chosen here: the source (DOMAIN.md) gives no retention for the
tool's own reports, GX results and history rows. One rule of this
project (docs/pipelines/housekeeping.md): the audit log is kept longest, which the model enforces.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from di_ops.core.settings import FrozenModel, config_dir, load_model, under_data_dir

# The ops-DB history categories housekeeping knows how to prune safely, in the order it prunes
# them (di_ops.pipelines.housekeeping.history): observations before plans (plans look at kept
# observations), pipeline_runs before inventory snapshots (a pinned snapshot is kept), run-keyed
# tables before pipeline_runs.
TABLE_CATEGORIES: tuple[str, ...] = (
    "retention_plan",
    "retention_deletions",
    "certificate_observations",
    "certificate_plans",
    "certificate_sso_runbooks",
    "upgrade_plans",
    "cop_requests",
    "sla_history",
    "notices",
    "pipeline_runs",
    "inventory_snapshots",
    "audit_log",
)


class FolderRule(FrozenModel):
    """One folder of per-run outputs: its entries (folders or files) older than ``keep_days`` go."""

    path: str = Field(min_length=1)
    entries: Literal["folders", "files"]
    keep_days: int = Field(ge=1)
    pattern: str = Field(default="*", min_length=1)
    keep: tuple[str, ...] = ()


class GxStoreRule(FrozenModel):
    """A GX file Data Context's validation results (and the Data Docs site rendering them)."""

    validations: str = Field(min_length=1)
    site: str | None = None
    keep_days: int = Field(ge=1)


class TombstoneSettings(FrozenModel):
    report_after_days: int = Field(ge=0)
    scan_store: bool = True


class HousekeepingSettings(FrozenModel):
    schedule: str = Field(min_length=1)
    active_guard_hours: float = Field(ge=1)
    trash_folder: str = Field(min_length=1)
    folders: dict[str, FolderRule]
    gx_stores: dict[str, GxStoreRule] = Field(default_factory=dict)
    tombstones: TombstoneSettings
    tables: dict[str, int]
    delete_batch_size: int = Field(ge=1, le=100_000)
    reports_folder: str = Field(min_length=1)

    @model_validator(mode="after")
    def _tables_known_and_audit_longest(self) -> HousekeepingSettings:
        unknown = sorted(set(self.tables) - set(TABLE_CATEGORIES))
        if unknown:
            raise ValueError(f"tables: unknown categories {unknown}; known: {', '.join(TABLE_CATEGORIES)}")
        bad = sorted(name for name, days in self.tables.items() if days < 1)
        if bad:
            raise ValueError(f"tables: ages must be at least 1 day ({bad})")
        audit = self.tables.get("audit_log")
        if audit is None:
            raise ValueError("tables: audit_log needs an age (it is kept longest)")
        longer = sorted(name for name, days in self.tables.items() if days > audit)
        if longer:
            raise ValueError(f"tables: the audit log is kept longest, but {longer} are kept longer than {audit} days")
        return self

    def trash_dir(self) -> Path:
        return under_data_dir(self.trash_folder)

    def reports_dir(self) -> Path:
        return under_data_dir(self.reports_folder)


@lru_cache(maxsize=1)
def housekeeping_settings() -> HousekeepingSettings:
    return load_model(HousekeepingSettings, config_dir() / "housekeeping.yaml")
