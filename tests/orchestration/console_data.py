"""A small ops DB for the console tests: the demo fleet's inventory and one change of each kind and
state, written through the pipelines' own tables as their code writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

AS_OF = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
# the newest retention run of the customer facts (the api-server test gives it a run folder)
RETENTION_RUN = "manual__2026-12-06T02:30:00+00:00"
CAPACITY_RUN = "scheduled__2026-11-30T05:00:00+00:00"


def _window(region: str, day: str) -> tuple[datetime, datetime]:
    from datetime import date

    from di_ops.rules.maintenance import window_opening_on

    w = window_opening_on(region, date.fromisoformat(day))
    return w.start.astimezone(UTC), w.end.astimezone(UTC)


def seed(engine: Engine, inventory_dir: Path) -> dict[str, Any]:
    """Write the inventory and the changes; return what the tests expect to see."""
    from di_ops.core.inventory import read_inventory
    from di_ops.db import schema
    from di_ops.db.tables_certificates import certificate_plans
    from di_ops.db.tables_cop import cop_requests
    from di_ops.db.tables_upgrades import upgrade_plans
    from di_ops.integrations.opsdb import store_inventory
    from include.demo.fleet import write_fleet

    write_fleet(inventory_dir)
    store_inventory(engine, read_inventory(inventory_dir), AS_OF - timedelta(days=20))
    emea_wed = _window("EMEA", "2026-12-02")
    amer_thu = _window("AMER", "2026-12-03")
    emea_past = _window("EMEA", "2026-11-24")
    aus_sat = _window("AUS", "2026-12-05")
    cert = {
        "node_id": "C004-cucm-pub",
        "serial": "0a1b",
        "revision": 0,
        "customer_id": "C004",
        "cluster_id": "C004-cucm",
        "region": "EMEA",
        "host": "c004-cucm-pub.ams.di.example",
        "port": 8443,
        "sso_enabled": False,
        "not_after": emea_wed[0] + timedelta(days=5),
        "fallbacks": [],
        "planned_as_of": AS_OF - timedelta(days=15),
        "dag_id": "certificate_sweep",
        "run_id": "scheduled__2026-11-15T05:00:00+00:00",
        "updated_at": AS_OF - timedelta(days=15),
        "reason": "planned",
    }
    notice_at = AS_OF - timedelta(days=15)
    with engine.begin() as conn:
        conn.execute(
            insert(certificate_plans).values(
                plan_id="C004-cucm-pub/0a1b/r0",
                status="scheduled",
                window_start=emea_wed[0],
                window_end=emea_wed[1],
                window_weekend=False,
                **cert,
            )
        )
        conn.execute(
            insert(certificate_plans).values(
                plan_id="c008-cucm-pub/0c0d/r0",
                status="emergency",
                window_start=aus_sat[0],
                window_end=aus_sat[1],
                window_weekend=True,
                **{**cert, "node_id": "c008-cucm-pub", "serial": "0c0d", "customer_id": "C008", "region": "AUS"},
            )
        )
        conn.execute(
            insert(schema.notices).values(
                dedupe_key="certificate:C004-cucm-pub/0a1b/r0",
                kind="certificate_notice",
                entity="C004-cucm-pub",
                recipients=["noc@partner-emea.example"],
                subject="Planned certificate renewal",
                status="sent",
                message_id="<x@di-ops>",
                dag_id="certificate_sweep",
                run_id=cert["run_id"],
                created_at=notice_at,
                sent_at=notice_at,
            )
        )
        base_upgrade = {
            "application": "CUCM",
            "from_version": "14.0 SU3",
            "target": "15.0 SU2",
            "triggers": [],
            "emergency": False,
            "reschedules": 0,
            "created_at": AS_OF - timedelta(days=20),
            "updated_at": AS_OF - timedelta(days=20),
            "created_run_id": "scheduled__2026-11-09T04:00:00+00:00",
            "updated_run_id": "scheduled__2026-11-09T04:00:00+00:00",
        }
        for upgrade_id, customer, region, state, window, seq, notified in (
            ("u-C001", "C001", "AMER", "scheduled", amer_thu, 0, AS_OF - timedelta(days=20)),
            ("u-C005", "C005", "AMER", "proposed", amer_thu, 0, None),
            ("u-C012", "C012", "EMEA", "missed", emea_past, 1, AS_OF - timedelta(days=30)),
        ):
            conn.execute(
                insert(upgrade_plans).values(
                    upgrade_id=upgrade_id,
                    customer_id=customer,
                    cluster_id=f"{customer}-cucm",
                    window_region=region,
                    state=state,
                    window_start=window[0],
                    window_end=window[1],
                    sequence=seq,
                    notified_at=notified,
                    **base_upgrade,
                )
            )
        base_cop = {
            "source": "inbox",
            "origin": "operator",
            "emergency": False,
            "cop_file": "ciscocm.security-fix-v1.cop.sgn",
            "requested_at": AS_OF - timedelta(days=14),
            "dag_id": "cop_upload",
            "run_id": "scheduled__2026-11-16T00:00:00+00:00",
            "created_at": AS_OF - timedelta(days=14),
            "updated_at": AS_OF - timedelta(days=14),
        }
        conn.execute(
            insert(cop_requests).values(
                request_id="r-planned",
                customer_id="C004",
                status="planned",
                window_start=emea_wed[0],
                window_end=emea_wed[1],
                notified_at=AS_OF - timedelta(days=14),
                **base_cop,
            )
        )
        conn.execute(
            insert(cop_requests).values(
                request_id="r-rejected", customer_id="C004", status="rejected", reason="bad name", **base_cop
            )
        )
    return {
        "emea_wed": emea_wed,
        "amer_thu": amer_thu,
        "emea_past": emea_past,
        "aus_sat": aus_sat,
        "uids": {
            "certificate-C004-cucm-pub/0a1b/r0": ("certificate", "scheduled", "EMEA"),
            "certificate-c008-cucm-pub/0c0d/r0": ("emergency", "scheduled", "AUS"),
            "upgrade-u-C001": ("upgrade", "scheduled", "AMER"),
            "upgrade-u-C005": ("upgrade", "planned", "AMER"),
            "upgrade-u-C012": ("upgrade", "missed", "EMEA"),
            "cop-r-planned": ("cop", "scheduled", "EMEA"),
        },
    }


def seed_customer_facts(engine: Engine) -> dict[str, Any]:
    """C004's certificate as seen, a retention plan of two runs, an upload receipt, an SLA audit with
    an escalation, and notices about its cluster and its COP file (after :func:`seed`)."""
    from datetime import date

    from di_ops.db import schema
    from di_ops.db.tables_backup_health import backup_health_series
    from di_ops.db.tables_capacity import capacity_figures
    from di_ops.db.tables_certificates import certificate_observations
    from di_ops.db.tables_cop import cop_uploads
    from di_ops.db.tables_inventory import contact_defects
    from di_ops.db.tables_retention import retention_plan
    from di_ops.db.tables_sla import sla_audit_runs, sla_compliance, sla_escalations, sla_watch_cases
    from di_ops.integrations.opsdb import latest_snapshot_id

    night = AS_OF.replace(hour=2, minute=30)
    with engine.begin() as conn:
        conn.execute(
            insert(certificate_observations).values(
                dag_id="certificate_sweep",
                run_id="scheduled__2026-11-30T05:00:00+00:00",
                node_id="C004-cucm-pub",
                snapshot_id="s",
                customer_id="C004",
                cluster_id="C004-cucm",
                region="EMEA",
                host="c004-cucm-pub.ams.di.example",
                port=8443,
                observed_at=AS_OF - timedelta(hours=7),
                source="tls",
                status="ok",
                trust="trusted",
                not_after=AS_OF + timedelta(days=7),
                chain_length=2,
            )
        )
        runs = (("scheduled__old", night - timedelta(days=1), 5), (RETENTION_RUN, night, 6))
        for run, as_of, days in runs:
            for i in range(days):
                taken = as_of - timedelta(days=i)
                conn.execute(
                    insert(retention_plan).values(
                        dag_id="backup_retention",
                        run_id=run,
                        path=f"C004/C004-cucm/CUCM/b{i}",
                        backup_id=f"b{i}",
                        customer_id="C004",
                        cluster_id="C004-cucm",
                        application="CUCM",
                        taken_at=taken,
                        status="FAILED" if i == 1 else "SUCCESS",
                        intact=True,
                        size_bytes=1000,
                        action="keep",
                        reasons=["one of the 3 latest good"],
                        as_of=as_of,
                    )
                )
            conn.execute(
                insert(retention_plan).values(
                    dag_id="backup_retention",
                    run_id=run,
                    path="C004/C004-imp/IMP/x",
                    backup_id="x",
                    customer_id="C004",
                    cluster_id="C004-imp",
                    application="IMP",
                    taken_at=None,
                    status=None,
                    intact=False,
                    size_bytes=None,
                    action="hold",
                    reasons=["manifest unreadable: not JSON"],
                    as_of=as_of,
                )
            )
        conn.execute(
            insert(cop_uploads).values(
                request_id="r-planned",
                customer_id="C004",
                cop_file="ciscocm.security-fix-v1.cop.sgn",
                remote_path="/upload/ciscocm.security-fix-v1.cop.sgn",
                bytes=1024,
                sha512="0" * 128,
                outcome="uploaded",
                bytes_sent=1024,
                duration_s=0.5,
                mb_per_s=2.0,
                detail={},
                dag_id="cop_upload",
                run_id="scheduled__2026-12-02T21:00:00+00:00",
                finished_at=AS_OF - timedelta(hours=1),
            )
        )
        audit_run = {"dag_id": "sla_audit", "run_id": "scheduled__2026-11-30T00:00:00+00:00"}
        conn.execute(
            insert(sla_audit_runs).values(
                **audit_run,
                as_of=AS_OF - timedelta(hours=12),
                period_start=date(2025, 12, 1),
                period_end=date(2026, 11, 29),
                snapshot_id="s",
                source_digest="d",
                rows_total=10,
                rows_rejected=0,
                rejected_share=0.0,
                quality_passed=True,
                cases_audited=10,
                report_dir="x",
                created_at=AS_OF - timedelta(hours=12),
                summary={},
            )
        )
        for dimension, group in (("overall", ""), ("customer", "C004")):
            conn.execute(
                insert(sla_compliance).values(
                    **audit_run,
                    dimension=dimension,
                    group_key=group,
                    severity="S3",
                    n=40,
                    met=39,
                    breached=1,
                    pending=2,
                    ratio=0.975,
                    low=0.871,
                    high=0.996,
                    standard=0.95,
                    meets_standard=None,
                    too_few_to_judge=True,
                )
            )
        conn.execute(
            insert(sla_escalations).values(
                **audit_run,
                case_id="TAC-4711",
                kind="breached",
                severity="S3",
                region="EMEA",
                customer_id="C004",
                opened_at=AS_OF - timedelta(days=3),
                due_at=AS_OF - timedelta(days=2),
            )
        )
        for key, entity, subject in (
            ("cop:r-planned", "C004/ciscocm.security-fix-v1.cop.sgn", "Planned maintenance for C004"),
            ("cop:C0040-other", "C0040/other.cop.sgn", "Someone else's"),  # another customer's id prefix
        ):
            conn.execute(
                insert(schema.notices).values(
                    dedupe_key=key,
                    kind="cop_notice",
                    entity=entity,
                    recipients=["noc@partner-emea.example"],
                    subject=subject,
                    status="sent",
                    message_id=f"<{key}@di-ops>",
                    dag_id="cop_upload",
                    run_id="scheduled__2026-11-16T00:00:00+00:00",
                    created_at=AS_OF - timedelta(days=14),
                    sent_at=AS_OF - timedelta(days=14),
                )
            )
        conn.execute(
            insert(sla_watch_cases).values(
                case_id="TAC-9001",
                customer_id="C004",
                region="EMEA",
                severity="S1",
                opened_at=AS_OF - timedelta(hours=1),
                first_response_at=None,
                last_update_at=None,
                closed_at=None,
                is_open=True,
                tracks_updates=False,
                channel="case manager",
                channel_deviation="S1 raised through the case manager",
                details={},
                source_file="feed.csv",
                line=2,
                first_seen_at=AS_OF - timedelta(minutes=55),
                updated_at=AS_OF - timedelta(minutes=40),
                candidate_state="no_first_response",
                candidate_since=AS_OF - timedelta(minutes=45),
                candidate_changed_at=AS_OF - timedelta(minutes=40),
                review_at=None,
            )
        )
        conn.execute(
            insert(schema.notices).values(
                dedupe_key="incident:TAC-9001:S1",
                kind="incident_notice",
                entity="TAC-9001",
                recipients=["noc@partner-emea.example"],
                subject="[S1] TAC case TAC-9001: incident at Customer 004",
                status="sent",
                message_id="<incident@di-ops>",
                dag_id="incident_watch",
                run_id="scheduled__2026-11-30T11:05:00+00:00",
                created_at=AS_OF - timedelta(minutes=53),
                sent_at=AS_OF - timedelta(minutes=53),
            )
        )
        snapshot = latest_snapshot_id(engine)
        conn.execute(
            insert(contact_defects).values(
                snapshot_id=snapshot,
                customer_id="C011",
                partner="Wattle Networks",
                missing_roles=["partner"],
                contacts_on_file=1,
                reason="customer C011 (Wattle Networks): no partner contact with a well-formed e-mail on file",
            )
        )
        for run, as_of, devices in (
            ("scheduled__old-capacity", AS_OF - timedelta(days=7), 240),
            (CAPACITY_RUN, AS_OF, 260),
        ):
            for measure, configured, declared, verdict in (
                ("knowledge_workers", 420, 600, "within"),
                ("workspace_devices", devices, 250, "breach" if devices > 250 else "warning"),
            ):
                conn.execute(
                    insert(capacity_figures).values(
                        dag_id="capacity_audit",
                        run_id=run,
                        customer_id="C004",
                        measure=measure,
                        snapshot_id=snapshot,
                        as_of=as_of,
                        configured=configured,
                        declared=declared,
                        allowed=declared,
                        expansion=None,
                        percent=100 * configured / declared,
                        verdict=verdict,
                        reason=f"{configured} configured of {declared} allowed",
                    )
                )
        for cluster, app, freshness, dr_ready, reasons in (
            ("C004-cucm", "CUCM", "fresh", True, []),
            ("C004-imp", "IMP", "overdue", False, ["no good backup in the last two nights", "no good backup"]),
        ):
            conn.execute(
                insert(backup_health_series).values(
                    dag_id="backup_health",
                    run_id="scheduled__2026-11-30T11:00:00+00:00",
                    customer_id="C004",
                    cluster_id=cluster,
                    application=app,
                    region="EMEA",
                    as_of=AS_OF - timedelta(hours=1),
                    freshness=freshness,
                    at_risk=not dr_ready,
                    good_backups=5 if dr_ready else 0,
                    latest_good_at=night if dr_ready else None,
                    latest_backup_id=None,
                    restore_ready=dr_ready,
                    checksums_verified=dr_ready,
                    archive_readable=dr_ready,
                    dr_ready=dr_ready,
                    reasons=reasons,
                )
            )
    return {"latest_good": night, "retention_run": RETENTION_RUN}
