"""COP requests: the lifecycle of a planned upload (``sequence``, ``notified_at``, ``last_error``,
``misses``).

Source: DOMAIN.md §2 (a change not carried out in its window is flagged and re-planned with a new
notice; the notice period counts from the sending), §5. Existing rows read sequence 0, no notice
time, no error and no miss; rows left ``missed`` by cop_0001 code are re-planned by the next run.

Revision ID: cop_0002
Revises: cop_0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "cop_0002"
down_revision = "cop_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cop_requests") as batch:
        batch.add_column(sa.Column("sequence", sa.Integer, nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text, nullable=True))
        batch.add_column(sa.Column("misses", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cop_requests") as batch:
        batch.drop_column("misses")
        batch.drop_column("last_error")
        batch.drop_column("notified_at")
        batch.drop_column("sequence")
