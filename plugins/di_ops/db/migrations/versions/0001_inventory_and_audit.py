"""Inventory snapshots, audit log and pipeline runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_snapshots",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("clusters", sa.Integer, nullable=False),
        sa.Column("nodes", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("partner", sa.Text, nullable=False),
        sa.Column("contacts", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["inventory_snapshots.snapshot_id"], ondelete="CASCADE"),
    )
    op.create_table(
        "clusters",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("cluster_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("application", sa.String(16), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("sso_enabled", sa.Boolean, nullable=False),
        sa.Column("sme_publishing_region", sa.String(8), nullable=True),
        sa.ForeignKeyConstraint(
            ["snapshot_id", "customer_id"], ["customers.snapshot_id", "customers.customer_id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "nodes",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id", "cluster_id"], ["clusters.snapshot_id", "clusters.cluster_id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "inventory_rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("source_file", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["inventory_snapshots.snapshot_id"], ondelete="CASCADE"),
    )
    op.create_index("ix_inventory_rejects_snapshot", "inventory_rejects", ["snapshot_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("entity", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(250), nullable=True),
    )
    op.create_index("ix_audit_log_run", "audit_log", ["dag_id", "run_id"])
    op.create_table(
        "pipeline_runs",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pipeline_runs")
    op.drop_index("ix_audit_log_run", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_inventory_rejects_snapshot", table_name="inventory_rejects")
    op.drop_table("inventory_rejects")
    op.drop_table("nodes")
    op.drop_table("clusters")
    op.drop_table("customers")
    op.drop_table("inventory_snapshots")
