"""Certificate pipelines: observations, renewal plans, SSO runbooks.

Revision ID: certificates_0001
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "certificates_0001"
down_revision = "0002"
branch_labels = ("certificates",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate_observations",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("trust", sa.String(24), nullable=False),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("sans", sa.JSON, nullable=True),
        sa.Column("issuer", sa.Text, nullable=True),
        sa.Column("serial", sa.String(64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chain_earliest_not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chain_length", sa.Integer, nullable=False),
    )
    op.create_index("ix_certificate_observations_node", "certificate_observations", ["node_id", "observed_at"])
    op.create_table(
        "certificate_plans",
        sa.Column("plan_id", sa.String(250), primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("sso_enabled", sa.Boolean, nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_weekend", sa.Boolean, nullable=True),
        sa.Column("fallbacks", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("planned_as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_serial", sa.String(64), nullable=True),
        sa.Column("new_not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("node_id", "serial", "revision", name="uq_certificate_plans_cert_revision"),
    )
    op.create_index("ix_certificate_plans_window", "certificate_plans", ["region", "window_start"])
    op.create_table(
        "certificate_sso_runbooks",
        sa.Column("cluster_id", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_step", sa.String(32), nullable=True),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("certificate_sso_runbooks")
    op.drop_index("ix_certificate_plans_window", table_name="certificate_plans")
    op.drop_table("certificate_plans")
    op.drop_index("ix_certificate_observations_node", table_name="certificate_observations")
    op.drop_table("certificate_observations")
