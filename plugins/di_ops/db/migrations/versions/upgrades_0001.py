"""Upgrade eligibility sweeps: planned upgrades (state machine) and their events.

Revision ID: upgrades_0001
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "upgrades_0001"
down_revision = "0002"
branch_labels = ("upgrades",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upgrade_plans",
        sa.Column("upgrade_id", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("application", sa.String(16), nullable=False),
        sa.Column("window_region", sa.String(8), nullable=False),
        sa.Column("from_version", sa.String(32), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("triggers", sa.JSON, nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reschedules", sa.Integer, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_run_id", sa.String(250), nullable=False),
        sa.Column("updated_run_id", sa.String(250), nullable=False),
    )
    op.create_index("ix_upgrade_plans_cluster_state", "upgrade_plans", ["cluster_id", "state"])
    op.create_table(
        "upgrade_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("upgrade_id", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("actor", sa.String(250), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_upgrade_events_upgrade", "upgrade_events", ["upgrade_id"])
    op.create_index("ix_upgrade_events_run", "upgrade_events", ["dag_id", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_upgrade_events_run", table_name="upgrade_events")
    op.drop_index("ix_upgrade_events_upgrade", table_name="upgrade_events")
    op.drop_table("upgrade_events")
    op.drop_index("ix_upgrade_plans_cluster_state", table_name="upgrade_plans")
    op.drop_table("upgrade_plans")
