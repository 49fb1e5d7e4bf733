"""Ops-DB tables of the ``sla_audit`` pipeline (migration ``sla_0001``).

One row per audit run (its headline figures), the compliance figures of every group, the
quarantined rows with their reasons, and the escalation lists. A rerun of a run replaces
that run's rows in one transaction, so the history has each run once.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table, Text

from di_ops.db.schema import metadata

sla_audit_runs = Table(
    "sla_audit_runs",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("snapshot_id", String(64), nullable=True),
    Column("source_digest", String(64), nullable=False),  # sha256 of the export files, shortened
    Column("rows_total", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("rejected_share", Float, nullable=False),
    Column("quality_passed", Boolean, nullable=False),
    Column("cases_audited", Integer, nullable=False),
    Column("report_dir", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("summary", JSON, nullable=False),
)

sla_compliance = Table(
    "sla_compliance",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("dimension", String(16), primary_key=True),  # overall | region | customer | month
    Column("group_key", String(64), primary_key=True),  # "" for overall, else the region/customer/month
    Column("severity", String(2), primary_key=True),
    Column("n", Integer, nullable=False),  # judged cases (met + breached)
    Column("met", Integer, nullable=False),
    Column("breached", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("ratio", Float, nullable=True),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("standard", Float, nullable=True),  # None for S1/S2 (reported against their objective only)
    Column("meets_standard", Boolean, nullable=True),
    Column("too_few_to_judge", Boolean, nullable=False),
)

sla_quarantine = Table(
    "sla_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("source_file", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("case_id", String(128), nullable=True),
    Column("reasons", JSON, nullable=False),  # list of rule names
    Column("raw", JSON, nullable=False),
    Index("ix_sla_quarantine_run", "dag_id", "run_id"),
)

sla_escalations = Table(
    "sla_escalations",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("case_id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # breached | at_risk
    Column("severity", String(2), nullable=False),
    Column("region", String(8), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
)
