"""Ops-DB tables of the ``inventory_sync`` pipeline beyond the core snapshot (migration ``inventory_0001``).

``customer_declarations``: what the partner declared per customer at activation (DOMAIN.md §8: knowledge
workers, workspace devices; null when the export does not declare it), per snapshot, read by
``capacity_audit``. ``contact_defects``: the customers of a snapshot without a partner or a customer
contact with a well-formed e-mail (DOMAIN.md §2), read by the console's customer page and the
managers' report (docs/pipelines/inventory.md). Both are written with the snapshot, once.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Integer, String, Table, Text

from di_ops.db.schema import metadata

customer_declarations = Table(
    "customer_declarations",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("knowledge_workers", Integer, nullable=True),
    Column("workspace_devices", Integer, nullable=True),
    ForeignKeyConstraint(
        ["snapshot_id", "customer_id"], ["customers.snapshot_id", "customers.customer_id"], ondelete="CASCADE"
    ),
)

contact_defects = Table(
    "contact_defects",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("partner", Text, nullable=False),
    Column("missing_roles", JSON, nullable=False),  # e.g. ["partner"]
    Column("contacts_on_file", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    ForeignKeyConstraint(
        ["snapshot_id", "customer_id"], ["customers.snapshot_id", "customers.customer_id"], ondelete="CASCADE"
    ),
)
