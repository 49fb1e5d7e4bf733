"""Ops-DB tables of the ``capacity_audit`` pipeline (migration ``capacity_0001``).

``capacity_figures``: every run's numbers per customer and measure (configured, declared, allowed,
verdict and its reason), for the console and the managers' report. ``capacity_states``: each
customer's current verdict and since when, so a breach alert goes out once per state change
(DOMAIN.md §8; docs/pipelines/capacity.md).
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, Text

from di_ops.db.schema import metadata

capacity_figures = Table(
    "capacity_figures",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("measure", String(32), primary_key=True),  # knowledge_workers | workspace_devices
    Column("snapshot_id", String(64), nullable=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("configured", Integer, nullable=True),
    Column("declared", Integer, nullable=True),
    Column("allowed", Integer, nullable=True),
    Column("expansion", String(250), nullable=True),  # change reference of the approved expansion used
    Column("percent", Float, nullable=True),
    Column("verdict", String(16), nullable=False),  # within | warning | breach | not_declared | not_measured
    Column("reason", Text, nullable=False),
    Index("ix_capacity_figures_customer", "customer_id", "as_of"),
)

capacity_states = Table(
    "capacity_states",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("verdict", String(16), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),  # as_of of the run that entered this verdict
    Column("since_run_id", String(250), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),  # as_of of the last run that saw it
    Column("updated_run_id", String(250), nullable=False),
)
