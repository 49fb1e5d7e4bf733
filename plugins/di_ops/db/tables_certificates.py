"""Ops-DB tables of the certificate pipelines (``certificate_sweep``, ``certificate_renewal_<region>``).

Migrations: ``migrations/versions/certificates_0001.py`` and ``certificates_0002.py`` (branch ``certificates``).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint, false

from di_ops.db.schema import metadata

# What each sweep saw per node (one row per run and node; a rerun overwrites its own rows).
certificate_observations = Table(
    "certificate_observations",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("node_id", String(64), primary_key=True),
    Column("snapshot_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("cluster_id", String(64), nullable=False),
    Column("region", String(8), nullable=False),  # the region whose windows apply (SME: publishing region)
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),  # the run's as_of
    Column("source", String(8), nullable=False),  # tls | pem | none
    Column("status", String(24), nullable=False),  # ok | untrusted | unreachable | handshake_failed | unreadable
    Column("error", Text, nullable=True),
    Column("trust", String(24), nullable=False),
    Column("subject", Text, nullable=True),
    Column("sans", JSON, nullable=True),
    Column("issuer", Text, nullable=True),
    Column("serial", String(64), nullable=True),
    Column("not_before", DateTime(timezone=True), nullable=True),
    Column("not_after", DateTime(timezone=True), nullable=True),
    Column("chain_earliest_not_after", DateTime(timezone=True), nullable=True),
    Column("chain_length", Integer, nullable=False),
    Index("ix_certificate_observations_node", "node_id", "observed_at"),
)

# One renewal plan per certificate (node + serial) and revision; a re-plan adds a revision.
certificate_plans = Table(
    "certificate_plans",
    metadata,
    Column("plan_id", String(250), primary_key=True),  # "<node_id>/<serial>/r<revision>"
    Column("node_id", String(64), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("cluster_id", String(64), nullable=False),
    Column("region", String(8), nullable=False),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("sso_enabled", Boolean, nullable=False),
    Column("not_after", DateTime(timezone=True), nullable=False),
    # scheduled | emergency | expired (from plan_renewal); renewed | failed | missed (later)
    Column("status", String(16), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("window_weekend", Boolean, nullable=True),
    Column("fallbacks", JSON, nullable=False),  # [[start, end], ...] ISO instants
    Column("reason", Text, nullable=False),
    Column("planned_as_of", DateTime(timezone=True), nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("renewed_at", DateTime(timezone=True), nullable=True),
    Column("new_serial", String(64), nullable=True),
    Column("new_not_after", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The plan's notice could not come the full 10 business days before its window (DOMAIN.md §2).
    Column("short_notice", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("node_id", "serial", "revision", name="uq_certificate_plans_cert_revision"),
    Index("ix_certificate_plans_window", "region", "window_start"),
)

# The SSO runbook of one cluster in one window: its steps' progress and outcome.
certificate_sso_runbooks = Table(
    "certificate_sso_runbooks",
    metadata,
    Column("cluster_id", String(64), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("region", String(8), nullable=False),
    Column("status", String(16), nullable=False),  # running | done | flagged
    Column("last_step", String(32), nullable=True),  # disable | import_idp_metadata | enable | validate
    Column("steps", JSON, nullable=False),  # step -> ISO instant it completed
    Column("error", Text, nullable=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
