"""Certificate plans: ``short_notice`` (the notice could not come 10 business days before the window).

Source: DOMAIN.md §2. Existing plans were made without the check: they read ``false``.

Revision ID: certificates_0002
Revises: certificates_0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "certificates_0002"
down_revision = "certificates_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificate_plans") as batch:
        batch.add_column(sa.Column("short_notice", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("certificate_plans") as batch:
        batch.drop_column("short_notice")
