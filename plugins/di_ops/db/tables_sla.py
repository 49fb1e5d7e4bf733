"""Ops-DB tables of the TAC-case pipeline: ``sla_audit`` (migration ``sla_0001``) and
``incident_watch`` (migration ``sla_0002``).

sla_audit: one row per audit run (its headline figures), the compliance figures of every group, the
quarantined rows with their reasons, and the escalation lists. A rerun of a run replaces
that run's rows in one transaction, so the history has each run once.

incident_watch (docs/pipelines/incident_watch.md): the high-water mark per export file, the state of
every case seen (severity, escalation candidate state and when it changed), and the proactive
notices per case and severity.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table, Text

from di_ops.db.schema import metadata

sla_audit_runs = Table(
    "sla_audit_runs",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("snapshot_id", String(64), nullable=True),
    Column("source_digest", String(64), nullable=False),  # sha256 of the export files, shortened
    Column("rows_total", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("rejected_share", Float, nullable=False),
    Column("quality_passed", Boolean, nullable=False),
    Column("cases_audited", Integer, nullable=False),
    Column("report_dir", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("summary", JSON, nullable=False),
)

sla_compliance = Table(
    "sla_compliance",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("dimension", String(16), primary_key=True),  # overall | region | customer | month
    Column("group_key", String(64), primary_key=True),  # "" for overall, else the region/customer/month
    Column("severity", String(2), primary_key=True),
    Column("n", Integer, nullable=False),  # judged cases (met + breached)
    Column("met", Integer, nullable=False),
    Column("breached", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("ratio", Float, nullable=True),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("standard", Float, nullable=True),  # None for S1/S2 (reported against their objective only)
    Column("meets_standard", Boolean, nullable=True),
    Column("too_few_to_judge", Boolean, nullable=False),
)

sla_quarantine = Table(
    "sla_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("source_file", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("case_id", String(128), nullable=True),
    Column("reasons", JSON, nullable=False),  # list of rule names
    Column("raw", JSON, nullable=False),
    Index("ix_sla_quarantine_run", "dag_id", "run_id"),
)

sla_escalations = Table(
    "sla_escalations",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("case_id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # breached | at_risk
    Column("severity", String(2), nullable=False),
    Column("region", String(8), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
)

# --- incident_watch (migration sla_0002): high-water marks, case state, proactive notices ---------

sla_watch_files = Table(
    "sla_watch_files",
    metadata,
    Column("file_name", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),  # nanoseconds since 1970
    Column("digest", String(64), nullable=False),  # sha256 of the bytes read
    Column("rows", Integer, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

sla_watch_cases = Table(
    "sla_watch_cases",
    metadata,
    Column("case_id", String(128), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("region", String(8), nullable=False),
    Column("severity", String(2), nullable=False),  # as last exported (filed, or raised/downgraded later)
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("first_response_at", DateTime(timezone=True), nullable=True),
    Column("last_update_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("is_open", Boolean, nullable=False),
    Column("tracks_updates", Boolean, nullable=False),  # the export had a last_update_at column
    Column("channel", String(32), nullable=True),
    Column("channel_deviation", Text, nullable=True),
    Column("details", JSON, nullable=False),  # impact, urgency; contract number, caller, partner rep
    Column("source_file", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("candidate_state", String(32), nullable=False),  # none | no_first_response | no_status_update
    Column("candidate_since", DateTime(timezone=True), nullable=True),
    Column("candidate_changed_at", DateTime(timezone=True), nullable=True),
    Column("review_at", DateTime(timezone=True), nullable=True),  # when the candidate state may next change
    Index("ix_sla_watch_cases_review", "review_at"),
    Index("ix_sla_watch_cases_opened", "opened_at"),
)

sla_watch_notices = Table(
    "sla_watch_notices",
    metadata,
    Column("case_id", String(128), primary_key=True),
    Column("severity", String(2), primary_key=True),
    Column("kind", String(32), nullable=False),  # proactive | no_partner_contact
    Column("dedupe_key", String(250), nullable=False),  # the notices table's key (integrations.mail)
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("run_id", String(250), nullable=False),
)
