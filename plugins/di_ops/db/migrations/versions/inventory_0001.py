"""Inventory: declared capacity per customer and contact-data defects, per snapshot.

Revision ID: inventory_0001
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "inventory_0001"
down_revision = "0002"
branch_labels = ("inventory",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_declarations",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("knowledge_workers", sa.Integer, nullable=True),
        sa.Column("workspace_devices", sa.Integer, nullable=True),
        sa.ForeignKeyConstraint(
            ["snapshot_id", "customer_id"], ["customers.snapshot_id", "customers.customer_id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "contact_defects",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("partner", sa.Text, nullable=False),
        sa.Column("missing_roles", sa.JSON, nullable=False),
        sa.Column("contacts_on_file", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id", "customer_id"], ["customers.snapshot_id", "customers.customer_id"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("contact_defects")
    op.drop_table("customer_declarations")
