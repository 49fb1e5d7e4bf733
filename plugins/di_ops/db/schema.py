"""Tables of the ops database: the pipelines' own state (never the Airflow metadata DB).

The schema is created and changed only by the Alembic migrations in
``di_ops/db/migrations``; this module describes the same tables for queries, and
a test checks that the migrations produce exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

inventory_snapshots = Table(
    "inventory_snapshots",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),  # sha256 of the exports' content, shortened
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),
    Column("customers", Integer, nullable=False),
    Column("clusters", Integer, nullable=False),
    Column("nodes", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region", String(8), nullable=False),
    Column("partner", Text, nullable=False),
    Column("contacts", JSON, nullable=False),  # list of {name, email, phone, role}
    ForeignKeyConstraint(["snapshot_id"], ["inventory_snapshots.snapshot_id"], ondelete="CASCADE"),
)

clusters = Table(
    "clusters",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("cluster_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("application", String(16), nullable=False),
    Column("version", String(32), nullable=False),
    Column("sso_enabled", Boolean, nullable=False),
    Column("sme_publishing_region", String(8), nullable=True),
    ForeignKeyConstraint(
        ["snapshot_id", "customer_id"], ["customers.snapshot_id", "customers.customer_id"], ondelete="CASCADE"
    ),
)

nodes = Table(
    "nodes",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("node_id", String(64), primary_key=True),
    Column("cluster_id", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("role", String(16), nullable=False),  # publisher | subscriber
    ForeignKeyConstraint(
        ["snapshot_id", "cluster_id"], ["clusters.snapshot_id", "clusters.cluster_id"], ondelete="CASCADE"
    ),
)

inventory_rejects = Table(
    "inventory_rejects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("snapshot_id", String(64), nullable=False),
    Column("source_file", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    ForeignKeyConstraint(["snapshot_id"], ["inventory_snapshots.snapshot_id"], ondelete="CASCADE"),
    Index("ix_inventory_rejects_snapshot", "snapshot_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("entity", Text, nullable=False),  # what the action touched, e.g. a backup path or a cluster id
    Column("action", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("actor", String(250), nullable=True),  # approver or operator, when a person decided
    Index("ix_audit_log_run", "dag_id", "run_id"),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("snapshot_id", String(64), nullable=True),  # the inventory snapshot the run used
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("summary", JSON, nullable=True),
)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(250), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("entity", Text, nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent | dry_run | failed
    Column("message_id", String(250), nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
)


def load_all_tables() -> MetaData:
    """Import every ``di_ops/db/tables_*.py`` module (one per pipeline) so ``metadata`` holds all tables.

    Each pipeline describes its own tables in its own module, on this same ``metadata``,
    and ships its own migration branching from revision 0002.
    """
    import importlib
    from pathlib import Path

    for path in sorted(Path(__file__).parent.glob("tables_*.py")):
        importlib.import_module(f"di_ops.db.{path.stem}")
    return metadata
