"""Backup retention: plan, catalog errors, deletion log.

Revision ID: retention_0001
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "retention_0001"
down_revision = "0002"
branch_labels = ("retention",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_plan",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("backup_id", sa.String(250), nullable=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("intact", sa.Boolean, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_retention_plan_series", "retention_plan", ["customer_id", "cluster_id", "application"])
    op.create_table(
        "retention_catalog_errors",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("check", sa.String(128), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "retention_deletions",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("backup_id", sa.String(250), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("bytes_freed", sa.BigInteger, nullable=False),
        sa.Column("tombstoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("retention_deletions")
    op.drop_table("retention_catalog_errors")
    op.drop_index("ix_retention_plan_series", table_name="retention_plan")
    op.drop_table("retention_plan")
