"""SLA audits: per-run figures, compliance groups, quarantine, escalation lists.

Revision ID: sla_0001
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "sla_0001"
down_revision = "0002"
branch_labels = ("sla",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_audit_runs",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("source_digest", sa.String(64), nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_rejected", sa.Integer, nullable=False),
        sa.Column("rejected_share", sa.Float, nullable=False),
        sa.Column("quality_passed", sa.Boolean, nullable=False),
        sa.Column("cases_audited", sa.Integer, nullable=False),
        sa.Column("report_dir", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )
    op.create_table(
        "sla_compliance",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("group_key", sa.String(64), primary_key=True),
        sa.Column("severity", sa.String(2), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("met", sa.Integer, nullable=False),
        sa.Column("breached", sa.Integer, nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("ratio", sa.Float, nullable=True),
        sa.Column("low", sa.Float, nullable=False),
        sa.Column("high", sa.Float, nullable=False),
        sa.Column("standard", sa.Float, nullable=True),
        sa.Column("meets_standard", sa.Boolean, nullable=True),
        sa.Column("too_few_to_judge", sa.Boolean, nullable=False),
    )
    op.create_table(
        "sla_quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("source_file", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("case_id", sa.String(128), nullable=True),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("raw", sa.JSON, nullable=False),
    )
    op.create_index("ix_sla_quarantine_run", "sla_quarantine", ["dag_id", "run_id"])
    op.create_table(
        "sla_escalations",
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("case_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sla_escalations")
    op.drop_index("ix_sla_quarantine_run", table_name="sla_quarantine")
    op.drop_table("sla_quarantine")
    op.drop_table("sla_compliance")
    op.drop_table("sla_audit_runs")
