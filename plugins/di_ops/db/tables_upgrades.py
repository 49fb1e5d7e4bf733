"""Ops-DB tables of the upgrade eligibility sweeps: planned upgrades and every decision about them.

Created by the migration ``upgrades_0001`` (branch ``upgrades``).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, Table, Text

from di_ops.db.schema import metadata

upgrade_plans = Table(
    "upgrade_plans",
    metadata,
    Column("upgrade_id", String(200), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("cluster_id", String(64), nullable=False),
    Column("application", String(16), nullable=False),
    Column("window_region", String(8), nullable=False),  # SME: its publishing region
    Column("from_version", String(32), nullable=False),
    Column("target", String(32), nullable=False),
    Column("triggers", JSON, nullable=False),  # list of {kind, reason, target, emergency}
    Column("emergency", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # proposed | notified | scheduled | missed | done | cancelled
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("reschedules", Integer, nullable=False),
    Column("sequence", Integer, nullable=False),  # .ics SEQUENCE of the last notice
    Column("notified_at", DateTime(timezone=True), nullable=True),
    Column("answer_by", DateTime(timezone=True), nullable=True),  # the partner's answer deadline
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("created_run_id", String(250), nullable=False),
    Column("updated_run_id", String(250), nullable=False),
    Index("ix_upgrade_plans_cluster_state", "cluster_id", "state"),
)

upgrade_events = Table(
    "upgrade_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("upgrade_id", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # propose | notify | schedule | reschedule | miss | replan | complete | cancel
    Column("action", String(32), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=True),
    Column("reason", Text, nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("actor", String(250), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_upgrade_events_upgrade", "upgrade_id"),
    Index("ix_upgrade_events_run", "dag_id", "run_id"),
)
