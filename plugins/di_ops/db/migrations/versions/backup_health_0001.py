"""Backup health: per-series verdicts, nightly fleet counts, alert state.

Revision ID: backup_health_0001
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "backup_health_0001"
down_revision = "0002"
branch_labels = ("backup_health",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_health_series",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("cluster_id", sa.String(64), primary_key=True),
        sa.Column("application", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("freshness", sa.String(16), nullable=False),
        sa.Column("at_risk", sa.Boolean, nullable=False),
        sa.Column("good_backups", sa.Integer, nullable=False),
        sa.Column("latest_good_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_backup_id", sa.String(250), nullable=True),
        sa.Column("restore_ready", sa.Boolean, nullable=False),
        sa.Column("checksums_verified", sa.Boolean, nullable=True),
        sa.Column("archive_readable", sa.Boolean, nullable=True),
        sa.Column("dr_ready", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
    )
    op.create_index("ix_backup_health_series_cluster", "backup_health_series", ["customer_id", "cluster_id"])
    op.create_table(
        "backup_health_nights",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("night", sa.Date, nullable=False),
        sa.Column("series", sa.Integer, nullable=False),
        sa.Column("fresh", sa.Integer, nullable=False),
        sa.Column("missed", sa.Integer, nullable=False),
        sa.Column("overdue", sa.Integer, nullable=False),
        sa.Column("at_risk", sa.Integer, nullable=False),
        sa.Column("dr_ready", sa.Integer, nullable=False),
    )
    op.create_index("ix_backup_health_nights_night", "backup_health_nights", ["night"])
    op.create_table(
        "backup_health_alert_state",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("cluster_id", sa.String(64), primary_key=True),
        sa.Column("application", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_run_id", sa.String(250), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("backup_health_alert_state")
    op.drop_index("ix_backup_health_nights_night", table_name="backup_health_nights")
    op.drop_table("backup_health_nights")
    op.drop_index("ix_backup_health_series_cluster", table_name="backup_health_series")
    op.drop_table("backup_health_series")
