"""incident_watch: high-water marks per export file, the state of every case seen, proactive notices.

Source: DOMAIN.md §7a; docs/pipelines/incident_watch.md.

Revision ID: sla_0002
Revises: sla_0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "sla_0002"
down_revision = "sla_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_watch_files",
        sa.Column("file_name", sa.String(255), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sla_watch_cases",
        sa.Column("case_id", sa.String(128), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_update_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("tracks_updates", sa.Boolean, nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("channel_deviation", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("source_file", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("candidate_state", sa.String(32), nullable=False),
        sa.Column("candidate_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("candidate_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_sla_watch_cases_review", "sla_watch_cases", ["review_at"])
    op.create_index("ix_sla_watch_cases_opened", "sla_watch_cases", ["opened_at"])
    op.create_table(
        "sla_watch_notices",
        sa.Column("case_id", sa.String(128), primary_key=True),
        sa.Column("severity", sa.String(2), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(250), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(250), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sla_watch_notices")
    op.drop_index("ix_sla_watch_cases_opened", table_name="sla_watch_cases")
    op.drop_index("ix_sla_watch_cases_review", table_name="sla_watch_cases")
    op.drop_table("sla_watch_cases")
    op.drop_table("sla_watch_files")
