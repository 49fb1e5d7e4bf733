"""Ops-DB tables of the ``cop_upload`` pipeline (migrations ``cop_0001``, ``cop_0002``)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text, text

from di_ops.db.schema import metadata

# One row per upload request (inbox file or manual trigger); request_id is a digest, so the same
# inbox file or the same manual run never makes a second request.
cop_requests = Table(
    "cop_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("source", String(16), nullable=False),  # inbox | manual
    Column("origin", String(16), nullable=False),  # customer | operator
    Column("emergency", Boolean, nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("cop_file", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("inbox_file", Text, nullable=True),
    Column("region", String(8), nullable=True),
    Column("sha512", String(128), nullable=True),
    Column("bytes", Integer, nullable=True),
    # rejected | due | planned | uploaded | failed | cancelled (lifecycle: docs/pipelines/cop.md);
    # ``missed`` only on rows of a dry run's plan and on rows written before cop_0002
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A planned upload's plan number: 0, then +1 per re-plan after a missed window; the notice's
    # dedupe key and its .ics SEQUENCE (DOMAIN.md §2: a re-plan goes out as a new notice).
    Column("sequence", Integer, nullable=False, server_default=text("0")),
    # When the change notice of the current sequence was sent (its window counts from here).
    Column("notified_at", DateTime(timezone=True), nullable=True),
    # The last failed upload attempt inside the window (cleared by a re-plan).
    Column("last_error", Text, nullable=True),
    # Every missed window, oldest first: found at, sequence, window, reason, the re-planned window
    # (a JSON list; NULL while none was missed).
    Column("misses", JSON, nullable=True),
    Index("ix_cop_requests_status", "status"),
)

# The receipt of a completed upload (one per request).
cop_uploads = Table(
    "cop_uploads",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("cop_file", Text, nullable=False),
    Column("remote_path", Text, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("sha512", String(128), nullable=False),
    Column("outcome", String(32), nullable=False),  # uploaded | resumed | already_present
    Column("bytes_sent", Integer, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("mb_per_s", Float, nullable=False),
    Column("detail", JSON, nullable=False),  # the whole receipt (verify method, host key fingerprint, cipher)
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
)

# Per-customer lease: at most one upload to a customer at a time (Airflow pools are global).
cop_leases = Table(
    "cop_leases",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("holder", String(250), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
