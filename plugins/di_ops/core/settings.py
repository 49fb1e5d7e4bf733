"""Typed, validated settings read from ``include/config/*.yaml``.

Every number of DOMAIN.md lives once in those files; this module loads them once
(cached) and validates them with pydantic. A bad file fails with a
:class:`ConfigError` that names the file and the field.
"""

from __future__ import annotations

import logging
import os
import warnings
from datetime import date, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

M = TypeVar("M", bound=BaseModel)
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAY_NUMBERS: dict[str, int] = {"Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4, "Sat": 5, "Sun": 6}

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG_DIR = REPO_ROOT / "include" / "config"


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid."""


class FrozenModel(BaseModel):
    """Base of every settings and rules model: immutable, unknown keys refused (they are typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- regions.yaml ---------------------------------------------------------------------------


class RegionSettings(FrozenModel):
    zone: str
    source_label: str

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class WindowSettings(FrozenModel):
    opens: time
    closes: time
    change_days: tuple[Weekday, ...]

    @property
    def change_weekdays(self) -> frozenset[int]:
        return frozenset(WEEKDAY_NUMBERS[d] for d in self.change_days)


class RegionHolidays(FrozenModel):
    country: str | None = None
    subdiv: str | None = None
    dates: tuple[date, ...] = ()


class BusinessDaySettings(FrozenModel):
    workdays: tuple[Weekday, ...]
    holidays: dict[str, RegionHolidays] = Field(default_factory=dict)

    @property
    def workday_numbers(self) -> frozenset[int]:
        return frozenset(WEEKDAY_NUMBERS[d] for d in self.workdays)


class RegionsConfig(FrozenModel):
    regions: dict[str, RegionSettings]
    maintenance_window: WindowSettings
    business_days: BusinessDaySettings

    @model_validator(mode="after")
    def _holiday_regions_known(self) -> RegionsConfig:
        unknown = set(self.business_days.holidays) - set(self.regions)
        if unknown:
            raise ValueError(f"business_days.holidays names unknown regions {sorted(unknown)}")
        return self


# --- policy.yaml ----------------------------------------------------------------------------


class RetentionPolicy(FrozenModel):
    keep_latest_good: int = Field(ge=0)
    keep_good_days: int = Field(ge=0)
    keep_bad_days: int = Field(ge=0)
    good_statuses: tuple[str, ...]
    statuses: tuple[str, ...]


class CertificatePolicy(FrozenModel):
    renew_earliest_days_before: int = Field(ge=0)
    renew_latest_days_before: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CertificatePolicy:
        if self.renew_latest_days_before > self.renew_earliest_days_before:
            raise ValueError("renew_latest_days_before must not exceed renew_earliest_days_before")
        return self


class ChangePolicy(FrozenModel):
    planned_notice_business_days: int = Field(ge=0)
    upgrade_notice_business_days: int = Field(ge=0)
    partner_answer_days: int = Field(ge=0)
    max_reschedules: int = Field(ge=0)
    reschedule_min_days_before: int = Field(ge=0)
    reschedule_allow_weekend: bool


class Objective(FrozenModel):
    minutes: int | None = Field(default=None, gt=0)
    business_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Objective:
        if (self.minutes is None) == (self.business_days is None):
            raise ValueError("an objective gives exactly one of minutes or business_days")
        return self


class ImpactBoundaries(FrozenModel):
    widespread_above: float = Field(ge=0, le=1)
    large_from: float = Field(ge=0, le=1)
    localized_from: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ImpactBoundaries:
        if not self.localized_from <= self.large_from <= self.widespread_above:
            raise ValueError("impact boundaries must satisfy localized_from <= large_from <= widespread_above")
        return self


class SlaPolicy(FrozenModel):
    objectives: dict[Literal["S1", "S2", "S3", "S4"], Objective]
    standard: float = Field(gt=0, le=1)
    standard_severities: tuple[str, ...]
    impact: ImpactBoundaries

    @field_validator("objectives")
    @classmethod
    def _all_severities(cls, value: dict[str, Objective]) -> dict[str, Objective]:
        missing = {"S1", "S2", "S3", "S4"} - set(value)
        if missing:
            raise ValueError(f"objectives missing for {sorted(missing)}")
        return value


class ReleasePolicy(FrozenModel):
    nearing_eol_days: int = Field(ge=0)


class CopPolicy(FrozenModel):
    suffix: str = Field(min_length=1)


class PolicyConfig(FrozenModel):
    retention: RetentionPolicy
    certificates: CertificatePolicy
    change: ChangePolicy
    sla: SlaPolicy
    releases: ReleasePolicy
    cop: CopPolicy


# --- releases.yaml --------------------------------------------------------------------------


class PositionPolicy(FrozenModel):
    new_deployments: bool
    may_stay: bool


class ReleaseRecord(FrozenModel):
    """One release cycle, endoflife.date style."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    release_cycle: str = Field(alias="releaseCycle", pattern=r"^\d+\.\d+$")
    label: str
    release_date: date = Field(alias="releaseDate")
    eoas: date | None = None
    eol: date | None = None
    supported_sus: tuple[str, ...] = Field(min_length=1)
    latest: str

    @model_validator(mode="after")
    def _latest_listed(self) -> ReleaseRecord:
        if self.latest not in self.supported_sus:
            raise ValueError(f"latest {self.latest!r} is not one of supported_sus {list(self.supported_sus)}")
        return self


class ReleaseCatalog(FrozenModel):
    applications: tuple[str, ...]
    positions: dict[Literal["n", "n-1", "n-2"], PositionPolicy]
    releases: tuple[ReleaseRecord, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_cycles(self) -> ReleaseCatalog:
        cycles = [r.release_cycle for r in self.releases]
        if len(set(cycles)) != len(cycles):
            raise ValueError(f"duplicate releaseCycle in {cycles}")
        missing = {"n", "n-1", "n-2"} - set(self.positions)
        if missing:
            raise ValueError(f"positions missing {sorted(missing)}")
        return self


# --- pipelines.yaml -------------------------------------------------------------------------


class InventorySettings(FrozenModel):
    schedule: str
    folder: str


class AlertSettings(FrozenModel):
    to: tuple[str, ...] = Field(min_length=1)
    smtp_conn_id: str = "smtp_default"


class DeadlineSpec(FrozenModel):
    """When a run must be finished (exactly one of the three kinds)."""

    local_time: time | None = None
    regions: tuple[str, ...] = ()
    window_close: bool = False
    after_queued: timedelta | None = Field(default=None, gt=timedelta(0))

    @model_validator(mode="after")
    def _one_kind(self) -> DeadlineSpec:
        kinds = [self.local_time is not None, self.window_close, self.after_queued is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of local_time, window_close, after_queued")
        if self.regions and self.local_time is None:
            raise ValueError("regions only goes with local_time")
        return self


class DeadlineSettings(FrozenModel):
    default: DeadlineSpec
    dags: dict[str, DeadlineSpec] = Field(default_factory=dict)

    def for_dag(self, dag_id: str, family: str | None = None) -> DeadlineSpec:
        """The DAG's own entry, else its family's (the DAG file), else the default."""
        for key in (dag_id, family):
            if key is not None and key in self.dags:
                return self.dags[key]
        return self.default


class BackupStoreSettings(FrozenModel):
    """The backup store two pipelines share: ``backup_retention`` prunes it, ``ops_housekeeping``
    reports its old tombstones."""

    # Airflow connection naming the store (conn type fs with extra.path, or sftp).
    conn_id: str = Field(default="di_backup_store", min_length=1)
    # A backup folder renamed to <prefix><name> is deleted but not yet removed (crash-safe delete).
    tombstone_prefix: str = Field(default=".tombstone.", pattern=r"^\.[A-Za-z0-9_.-]+$")


class PipelinesConfig(FrozenModel):
    owner: str
    tags: tuple[str, ...]
    change_freeze_variable: str
    default_retries: int = Field(ge=0)
    # Every task's execution_timeout unless the task sets its own: a task that hangs (a FIFO read,
    # a dead server) fails and frees the next night instead of blocking it for ever.
    default_task_timeout_minutes: int = Field(default=120, gt=0, le=24 * 60)
    inventory: InventorySettings
    alerts: AlertSettings
    deadlines: DeadlineSettings
    backup_store: BackupStoreSettings = Field(default_factory=BackupStoreSettings)
    # A run that changes anything may not decide for an as_of after its own start plus this much
    # (clocks of the operator's machine and the scheduler differ a little); a dry run may use any.
    as_of_clock_skew_minutes: float = Field(default=5, ge=0, le=24 * 60)


# --- loading --------------------------------------------------------------------------------


def config_dir() -> Path:
    """The folder holding the YAML files (``DI_OPS_CONFIG_DIR`` overrides the default)."""
    return Path(os.environ.get("DI_OPS_CONFIG_DIR", str(DEFAULT_CONFIG_DIR)))


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def load_model(model: type[M], path: Path) -> M:
    """Read ``path`` and validate it as ``model``; errors name the file and the field."""
    data = _read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc


@lru_cache(maxsize=1)
def regions_config() -> RegionsConfig:
    return load_model(RegionsConfig, config_dir() / "regions.yaml")


@lru_cache(maxsize=1)
def policy() -> PolicyConfig:
    return load_model(PolicyConfig, config_dir() / "policy.yaml")


@lru_cache(maxsize=1)
def release_catalog() -> ReleaseCatalog:
    return load_model(ReleaseCatalog, config_dir() / "releases.yaml")


@lru_cache(maxsize=1)
def pipelines() -> PipelinesConfig:
    return load_model(PipelinesConfig, config_dir() / "pipelines.yaml")


def clear_caches() -> None:
    """Forget the loaded settings, the pipelines' own (``di_ops.pipelines.<name>.settings``) included.

    Tests that point DI_OPS_CONFIG_DIR elsewhere call this.
    """
    import sys

    for fn in (regions_config, policy, release_catalog, pipelines, backup_store):
        fn.cache_clear()
    for name, module in list(sys.modules.items()):
        if name.startswith("di_ops.pipelines.") and name.endswith(".settings") and module is not None:
            for value in vars(module).values():
                if callable(value) and hasattr(value, "cache_clear"):
                    value.cache_clear()


# retention.yaml's names of the shared backup-store settings before they moved to pipelines.yaml
# (old name -> new key of ``backup_store``): still honoured, with a deprecation warning.
DEPRECATED_STORE_KEYS: dict[str, str] = {"store_conn_id": "conn_id", "tombstone_prefix": "tombstone_prefix"}


@lru_cache(maxsize=1)
def backup_store() -> BackupStoreSettings:
    """``pipelines.yaml: backup_store``; a ``store_conn_id`` / ``tombstone_prefix`` still set in
    ``retention.yaml`` (their old home) wins, with a deprecation warning naming the new key."""
    base = pipelines().backup_store
    path = config_dir() / "retention.yaml"
    raw = _read_yaml(path) if path.exists() else None
    old = {new: raw[key] for key, new in DEPRECATED_STORE_KEYS.items() if isinstance(raw, dict) and key in raw}
    if not old:
        return base
    moved = ", ".join(f"{key} -> backup_store.{new}" for key, new in DEPRECATED_STORE_KEYS.items() if new in old)
    message = f"{path}: deprecated keys, move them to pipelines.yaml ({moved}); they still apply for now"
    warnings.warn(message, DeprecationWarning, stacklevel=2)
    logging.getLogger(__name__).warning(message)
    try:
        return BackupStoreSettings.model_validate({**base.model_dump(), **old})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


def data_dir() -> Path:
    """The data folder: ops DB (SQLite mode), reports, Data Docs, inbox, demo exports."""
    return Path(os.environ.get("DI_OPS_DATA_DIR", str(REPO_ROOT / ".data")))


def under_data_dir(path: str | Path) -> Path:
    """A configured path: as it is when absolute, else under the data folder (every pipeline's folders)."""
    folder = Path(path)
    return folder if folder.is_absolute() else data_dir() / folder
