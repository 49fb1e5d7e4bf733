"""The gauges an operations team scrapes, in Prometheus' text exposition format (``prometheus_client``).

Computed from the ops DB at scrape time (``now`` passed in), the same facts the console pages show:

| metric | labels | value |
|---|---|---|
| ``di_ops_certificate_earliest_expiry_seconds`` | customer, cluster, node, region | earliest notAfter of the node's presented chain, Unix seconds (as blackbox_exporter's ``probe_ssl_earliest_cert_expiry``) |
| ``di_ops_backup_latest_good_age_seconds`` | customer, cluster, application | age of the series' latest good backup in the newest retention plan |
| ``di_ops_backup_good`` | customer, cluster, application | good backups of the series in that plan |
| ``di_ops_sla_compliance_ratio`` | severity | share of judged cases that met their objective, newest audit, whole fleet |
| ``di_ops_sla_judged_cases`` | severity | judged cases behind that ratio |
| ``di_ops_clusters`` | train | clusters of the latest inventory per release train (``rules.releases``) |
| ``di_ops_changes_planned`` | region, window, kind | changes not done, missed or cancelled in each coming window |
| ``di_ops_changes_missed`` | kind | changes whose window closed without them |
| ``di_ops_backup_dr_ready`` | customer, cluster, application | 1 when DR-ready, 0 when not, newest backup_health run |
| ``di_ops_backup_freshness`` | customer, cluster, application, state | 1 for the series' freshness (fresh, missed, overdue) |
| ``di_ops_capacity_percent`` | customer, measure | configured share of the allowed number, newest audit |
| ``di_ops_capacity_verdict`` | customer, verdict | 1 for the customer's verdict in its newest audit |
| ``di_ops_contact_defects`` | – | customers of the latest inventory snapshot without the contacts DOMAIN.md §2 wants |
| ``di_ops_metrics_generated_seconds`` | – | when this page was computed |
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

# the DAGs whose data the metrics show: a login needs read access to every one
SOURCE_DAGS = (
    "certificate_sweep",
    "backup_retention",
    "sla_audit",
    "upgrade_eligibility",
    "cop_upload",
    "capacity_audit",
    "inventory_sync",
    "backup_health",
)


def _gauge(name: str, doc: str, labels: list[str]) -> Any:
    from prometheus_client.core import GaugeMetricFamily

    return GaugeMetricFamily(name, doc, labels=labels)


def _certificates(engine: Any) -> Any:
    from sqlalchemy import select

    from di_ops.db.tables_certificates import certificate_observations as obs
    from di_ops.orchestration.console.changes import aware

    gauge = _gauge(
        "di_ops_certificate_earliest_expiry_seconds",
        "Earliest notAfter of the node's presented certificate chain (Unix seconds), newest observation",
        ["customer", "cluster", "node", "region"],
    )
    latest: dict[str, Any] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(obs).order_by(obs.c.observed_at)).mappings():
            latest[row["node_id"]] = row
    for node, row in sorted(latest.items()):
        expiry = aware(row["chain_earliest_not_after"] or row["not_after"])
        if expiry is not None:
            gauge.add_metric([row["customer_id"], row["cluster_id"], node, row["region"]], expiry.timestamp())
    return gauge


def _backups(engine: Any, now: datetime) -> list[Any]:
    from sqlalchemy import func, select

    from di_ops.db.tables_retention import retention_plan as t
    from di_ops.orchestration.console.changes import aware

    age = _gauge(
        "di_ops_backup_latest_good_age_seconds",
        "Age of the series' latest good backup (seconds), newest retention plan",
        ["customer", "cluster", "application"],
    )
    good = _gauge(
        "di_ops_backup_good",
        "Good backups of the series, newest retention plan",
        ["customer", "cluster", "application"],
    )
    with engine.connect() as conn:
        newest = conn.execute(
            select(t.c.dag_id, t.c.run_id)
            .group_by(t.c.dag_id, t.c.run_id)
            .order_by(func.max(t.c.as_of).desc())
            .limit(1)
        ).first()
        if newest is None:
            return [age, good]
        series: dict[tuple[str, str, str], list[datetime]] = {}
        query = select(t.c.customer_id, t.c.cluster_id, t.c.application, t.c.status, t.c.intact, t.c.taken_at).where(
            t.c.dag_id == newest.dag_id, t.c.run_id == newest.run_id
        )
        for row in conn.execute(query):
            taken = aware(row.taken_at)
            found = series.setdefault((row.customer_id, row.cluster_id, row.application), [])
            if row.status == "SUCCESS" and row.intact and taken is not None:
                found.append(taken)
    for key, taken in sorted(series.items()):
        good.add_metric(list(key), len(taken))
        if taken:
            age.add_metric(list(key), (now - max(taken)).total_seconds())
    return [age, good]


def _sla(engine: Any) -> list[Any]:
    from sqlalchemy import select

    from di_ops.db.tables_sla import sla_audit_runs, sla_compliance

    ratio = _gauge("di_ops_sla_compliance_ratio", "Judged cases that met their objective, newest audit", ["severity"])
    judged = _gauge("di_ops_sla_judged_cases", "Judged cases (met + breached), newest audit", ["severity"])
    with engine.connect() as conn:
        run = conn.execute(
            select(sla_audit_runs.c.dag_id, sla_audit_runs.c.run_id)
            .order_by(sla_audit_runs.c.as_of.desc(), sla_audit_runs.c.created_at.desc())
            .limit(1)
        ).first()
        if run is None:
            return [ratio, judged]
        rows = conn.execute(
            select(sla_compliance.c.severity, sla_compliance.c.n, sla_compliance.c.ratio).where(
                sla_compliance.c.dag_id == run.dag_id,
                sla_compliance.c.run_id == run.run_id,
                sla_compliance.c.dimension == "overall",
            )
        ).all()
    for severity, n, value in sorted(rows):
        judged.add_metric([severity], n)
        if value is not None:
            ratio.add_metric([severity], value)
    return [ratio, judged]


def _trains(engine: Any, now: datetime) -> Any:
    from di_ops.integrations.opsdb import latest_snapshot_id, snapshot_rows
    from di_ops.rules.releases import assess

    gauge = _gauge("di_ops_clusters", "Clusters of the latest inventory snapshot per release train", ["train"])
    snapshot = latest_snapshot_id(engine)
    if snapshot is None:
        return gauge
    trains = Counter(
        assess(str(c["version"]), application=str(c["application"]), as_of=now).train
        for c in snapshot_rows(engine, snapshot)["clusters"]
    )
    for train, count in sorted(trains.items()):
        gauge.add_metric([train], count)
    return gauge


def _changes(engine: Any, now: datetime, coming_days: int) -> list[Any]:
    from di_ops.orchestration.console.changes import all_changes

    planned = _gauge(
        "di_ops_changes_planned",
        "Changes still to do in each coming maintenance window (window = its opening, UTC)",
        ["region", "window", "kind"],
    )
    missed = _gauge("di_ops_changes_missed", "Changes whose window closed without them", ["kind"])
    horizon = now + timedelta(days=coming_days)
    per_window: Counter[tuple[str, str, str]] = Counter()
    per_kind: Counter[str] = Counter()
    for change in all_changes(engine):
        if change.state == "missed":
            per_kind[change.kind] += 1
        elif (
            change.state in {"planned", "notified", "scheduled"}
            and change.window_end is not None
            and change.window_start is not None
            and change.window_end > now
            and change.window_start <= horizon
        ):
            opening = change.window_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
            per_window[(change.region, opening, change.kind)] += 1
    for key, count in sorted(per_window.items()):
        planned.add_metric(list(key), count)
    for kind, count in sorted(per_kind.items()):
        missed.add_metric([kind], count)
    return [planned, missed]


def _health(engine: Any) -> list[Any]:
    from sqlalchemy import func, select

    from di_ops.db.tables_backup_health import backup_health_series as t

    labels = ["customer", "cluster", "application"]
    dr = _gauge("di_ops_backup_dr_ready", "1 when the cluster's latest good backup is DR-ready", labels)
    fresh = _gauge("di_ops_backup_freshness", "1 for the series' freshness in the newest check", [*labels, "state"])
    with engine.connect() as conn:
        newest = conn.execute(
            select(t.c.dag_id, t.c.run_id)
            .group_by(t.c.dag_id, t.c.run_id)
            .order_by(func.max(t.c.as_of).desc())
            .limit(1)
        ).first()
        if newest is None:
            return [dr, fresh]
        rows = conn.execute(
            select(t.c.customer_id, t.c.cluster_id, t.c.application, t.c.dr_ready, t.c.freshness).where(
                t.c.dag_id == newest.dag_id, t.c.run_id == newest.run_id
            )
        ).all()
    for customer, cluster, application, ready, state in sorted(rows):
        dr.add_metric([customer, cluster, application], 1 if ready else 0)
        fresh.add_metric([customer, cluster, application, state], 1)
    return [dr, fresh]


def _capacity(engine: Any) -> list[Any]:
    from sqlalchemy import func, select

    from di_ops.db.tables_capacity import capacity_figures as t

    percent = _gauge(
        "di_ops_capacity_percent", "Configured share of the allowed number (%), newest audit", ["customer", "measure"]
    )
    verdict = _gauge(
        "di_ops_capacity_verdict", "1 for the customer's verdict in its newest audit", ["customer", "verdict"]
    )
    with engine.connect() as conn:
        newest = select(t.c.customer_id, func.max(t.c.as_of).label("as_of")).group_by(t.c.customer_id).subquery()
        rows = conn.execute(
            select(t.c.customer_id, t.c.measure, t.c.percent, t.c.verdict).join(
                newest, (newest.c.customer_id == t.c.customer_id) & (newest.c.as_of == t.c.as_of)
            )
        ).all()
    worst: dict[str, str] = {}
    order = ("breach", "warning", "within", "not_measured", "not_declared")
    for customer, measure, value, judged in sorted(rows):
        if value is not None:
            percent.add_metric([customer, measure], value)
        if customer not in worst or order.index(judged) < order.index(worst[customer]):
            worst[customer] = judged
    for customer, judged in sorted(worst.items()):
        verdict.add_metric([customer, judged], 1)
    return [percent, verdict]


def _contact_defects(engine: Any) -> Any:
    from sqlalchemy import func, select

    from di_ops.db.tables_inventory import contact_defects as t
    from di_ops.integrations.opsdb import latest_snapshot_id

    gauge = _gauge("di_ops_contact_defects", "Customers of the latest snapshot without the contacts notices need", [])
    snapshot = latest_snapshot_id(engine)
    if snapshot is not None:
        with engine.connect() as conn:
            gauge.add_metric([], conn.execute(select(func.count()).where(t.c.snapshot_id == snapshot)).scalar_one())
    return gauge


class OpsCollector:
    """A ``prometheus_client`` collector over the ops DB (one scrape = one pass over it)."""

    def __init__(self, engine: Any, now: datetime, coming_days: int) -> None:
        self.engine, self.now, self.coming_days = engine, now, coming_days

    def collect(self) -> Any:
        yield from [_certificates(self.engine), *_backups(self.engine, self.now), *_sla(self.engine)]
        yield _trains(self.engine, self.now)
        yield from _changes(self.engine, self.now, self.coming_days)
        yield from _health(self.engine)
        yield from _capacity(self.engine)
        yield _contact_defects(self.engine)
        generated = _gauge("di_ops_metrics_generated_seconds", "When these figures were computed (Unix seconds)", [])
        generated.add_metric([], self.now.timestamp())
        yield generated


def exposition(engine: Any, *, now: datetime, coming_days: int) -> bytes:
    """The metrics page (Prometheus' text exposition format, as prometheus_client writes it)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpsCollector(engine, now, coming_days))
    return bytes(generate_latest(registry))
