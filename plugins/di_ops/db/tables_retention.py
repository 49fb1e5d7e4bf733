"""Ops-DB tables of the ``backup_retention`` pipeline (migration ``retention_0001``).

``retention_plan``: every backup a run saw, with its action and reasons, written before anything
is deleted. ``retention_catalog_errors``: unreadable manifests and failed data-quality checks, per
series. ``retention_deletions``: the crash-safe deletion log (tombstoned → removed).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Index, String, Table, Text

from di_ops.db.schema import metadata

retention_plan = Table(
    "retention_plan",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("path", String(1000), primary_key=True),  # customer/cluster/application/backup folder
    Column("backup_id", String(250), nullable=True),
    Column("customer_id", String(64), nullable=False),
    Column("cluster_id", String(64), nullable=False),
    Column("application", String(64), nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=True),
    Column("status", String(32), nullable=True),
    Column("intact", Boolean, nullable=False),
    Column("size_bytes", BigInteger, nullable=True),
    Column("action", String(16), nullable=False),  # keep | prune | hold
    Column("reasons", JSON, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Index("ix_retention_plan_series", "customer_id", "cluster_id", "application"),
)

retention_catalog_errors = Table(
    "retention_catalog_errors",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("check", String(128), primary_key=True),  # manifest | a data-quality expectation
    Column("customer_id", String(64), nullable=False),
    Column("cluster_id", String(64), nullable=False),
    Column("application", String(64), nullable=False),
    Column("detail", Text, nullable=False),
)

retention_deletions = Table(
    "retention_deletions",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("backup_id", String(250), nullable=True),
    Column("state", String(16), nullable=False),  # tombstoned | removed | gone | restored
    Column("bytes_freed", BigInteger, nullable=False),
    Column("tombstoned_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)
