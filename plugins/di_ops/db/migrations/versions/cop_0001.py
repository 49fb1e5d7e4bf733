"""COP uploads: requests, receipts and per-customer leases.

Revision ID: cop_0001
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "cop_0001"
down_revision = "0002"
branch_labels = ("cop",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cop_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("cop_file", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inbox_file", sa.Text, nullable=True),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("sha512", sa.String(128), nullable=True),
        sa.Column("bytes", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cop_requests_status", "cop_requests", ["status"])
    op.create_table(
        "cop_uploads",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("cop_file", sa.Text, nullable=False),
        sa.Column("remote_path", sa.Text, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("sha512", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("bytes_sent", sa.Integer, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("mb_per_s", sa.Float, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cop_leases",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(250), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cop_leases")
    op.drop_table("cop_uploads")
    op.drop_index("ix_cop_requests_status", table_name="cop_requests")
    op.drop_table("cop_requests")
