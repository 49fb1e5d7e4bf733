"""Settings of the ``sla_audit`` pipeline, read from ``include/config/sla.yaml`` (validated, cached).

The SLA policy numbers (objectives, 95 % standard, impact boundaries) stay in
``policy.yaml`` (:func:`di_ops.core.settings.policy`); this file holds the audit's own knobs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from di_ops.core.settings import FrozenModel, config_dir, data_dir, load_model, under_data_dir


class QualitySettings(FrozenModel):
    max_rejected_share: float = Field(ge=0, le=1)
    future_tolerance_minutes: int = Field(ge=0)
    examples_per_rule: int = Field(ge=1, le=100)


class EscalationSettings(FrozenModel):
    contract_number_pattern: str = Field(min_length=1)
    phone_pattern: str = Field(min_length=1)
    email_pattern: str = Field(min_length=1)

    @field_validator("contract_number_pattern", "phone_pattern", "email_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class AuditSettings(FrozenModel):
    about_to_breach_hours: float = Field(gt=0)
    min_cases_to_judge: int = Field(ge=0)
    judge_by_wilson_interval: bool
    default_period_months: int = Field(ge=1, le=120)


class ReportSettings(FrozenModel):
    folder: str = Field(min_length=1)
    trend_runs: int = Field(ge=1, le=1000)


class WatchSettings(FrozenModel):
    """The ``incident_watch`` DAG's knobs (docs/pipelines/incident_watch.md)."""

    schedule: str
    lookback_hours: float = Field(gt=0)
    digest_hour_utc: int = Field(ge=0, le=23)
    report_folder: str = Field(min_length=1)


class SlaSettings(FrozenModel):
    schedule: str
    export_path: str = Field(min_length=1)
    quality: QualitySettings
    escalation: EscalationSettings
    audit: AuditSettings
    report: ReportSettings
    watch: WatchSettings


@lru_cache(maxsize=1)
def sla_settings() -> SlaSettings:
    return load_model(SlaSettings, config_dir() / "sla.yaml")


def export_path(param_value: str | None) -> Path:
    """The exports file or folder: the Param, else the configured path (relative to the data folder)."""
    return under_data_dir(param_value or sla_settings().export_path)


def reports_dir() -> Path:
    """The folder holding one sub-folder per audit run (report, CSV exports, quarantine)."""
    return under_data_dir(sla_settings().report.folder)


def watch_reports_dir() -> Path:
    """The folder holding one sub-folder per ``incident_watch`` run that found something to report."""
    return under_data_dir(sla_settings().watch.report_folder)


def gx_root() -> Path:
    """The project root of the GX file Data Context (the context itself is ``<root>/gx``)."""
    return data_dir()
