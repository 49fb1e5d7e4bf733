"""Ops-DB tables of the ``backup_health`` pipeline (migration ``backup_health_0001``).

``backup_health_series``: every series a run judged (freshness, at risk, restore- and DR-readiness
with reasons). ``backup_health_nights``: one row of fleet counts per run, the report's 30-night trend.
``backup_health_alert_state``: per series and alert kind (``overdue``, ``not_dr_ready``) whether it is
active and since when; an alert is sent when it becomes active (docs/pipelines/backup_health.md).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Index, Integer, String, Table

from di_ops.db.schema import metadata

backup_health_series = Table(
    "backup_health_series",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("cluster_id", String(64), primary_key=True),
    Column("application", String(64), primary_key=True),
    Column("region", String(8), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("freshness", String(16), nullable=False),  # fresh | missed | overdue
    Column("at_risk", Boolean, nullable=False),
    Column("good_backups", Integer, nullable=False),
    Column("latest_good_at", DateTime(timezone=True), nullable=True),
    Column("latest_backup_id", String(250), nullable=True),
    Column("restore_ready", Boolean, nullable=False),
    Column("checksums_verified", Boolean, nullable=True),
    Column("archive_readable", Boolean, nullable=True),
    Column("dr_ready", Boolean, nullable=False),
    Column("reasons", JSON, nullable=False),
    Index("ix_backup_health_series_cluster", "customer_id", "cluster_id"),
)

backup_health_nights = Table(
    "backup_health_nights",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("night", Date, nullable=False),  # as_of's UTC date: the trend's x axis
    Column("series", Integer, nullable=False),
    Column("fresh", Integer, nullable=False),
    Column("missed", Integer, nullable=False),
    Column("overdue", Integer, nullable=False),
    Column("at_risk", Integer, nullable=False),
    Column("dr_ready", Integer, nullable=False),
    Index("ix_backup_health_nights_night", "night"),
)

backup_health_alert_state = Table(
    "backup_health_alert_state",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("cluster_id", String(64), primary_key=True),
    Column("application", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),  # overdue | not_dr_ready
    Column("active", Boolean, nullable=False),
    Column("since", DateTime(timezone=True), nullable=True),  # as_of of the run that made it active
    Column("updated_run_id", String(250), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
