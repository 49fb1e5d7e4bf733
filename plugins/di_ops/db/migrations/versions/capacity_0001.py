"""Capacity audit: per-run figures and each customer's current verdict (alert once per state change).

Revision ID: capacity_0001
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "capacity_0001"
down_revision = "0002"
branch_labels = ("capacity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capacity_figures",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("measure", sa.String(32), primary_key=True),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("configured", sa.Integer, nullable=True),
        sa.Column("declared", sa.Integer, nullable=True),
        sa.Column("allowed", sa.Integer, nullable=True),
        sa.Column("expansion", sa.String(250), nullable=True),
        sa.Column("percent", sa.Float, nullable=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_capacity_figures_customer", "capacity_figures", ["customer_id", "as_of"])
    op.create_table(
        "capacity_states",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since_run_id", sa.String(250), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_run_id", sa.String(250), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("capacity_states")
    op.drop_index("ix_capacity_figures_customer", table_name="capacity_figures")
    op.drop_table("capacity_figures")
