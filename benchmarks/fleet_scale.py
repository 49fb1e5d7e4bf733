"""Fleet-scale benchmark: a generated fleet through the rules and the sweeps' ops-DB writes (a script, not a test).

The fleet (seeded, reproducible): N customers x 5 clusters (CUCM, IMP, CUCxN, CER, Expressway) x
4 nodes, one certificate per node, and 200 nightly backups per cluster (N = 10,000: 50,000 clusters,
200,000 certificates, 10,000,000 backups). Backups exist only as their catalog: columnar numpy arrays
(series code, night, taken_at ns, status code, intact), never one Python object per backup.

Stages, each timed and measured (wall time, peak RSS growth sampled from /proc during the stage):

1. ``generate``      the fleet's columns;
2. ``retention``     ``di_ops.rules.retention_bulk.plan_columns`` over every backup, per chunk of
                     ``--chunk-customers`` customers (the rule turns backup ids into an object array,
                     so a chunk bounds the Python objects alive at once; ids are unique per cluster,
                     so chunking changes no decision);
3. ``certificates``  ``di_ops.rules.certificates.plan_renewal`` for every certificate expiring within
                     the sweep's ``lookahead_days`` (what ``certificate_sweep`` plans), with not_after
                     spread over 400 days (about 5 % are due);
4. ``releases``      ``di_ops.rules.releases.assess`` once per distinct (application, version), mapped
                     back to every cluster with numpy;
5. ``db:<dialect>``  the sweeps' writes into the real tables, through SQLAlchemy Core executemany in
                     batches of 5,000 rows as the pipelines do: ``retention_plan`` (one row per backup),
                     ``certificate_observations`` (one per node), ``certificate_plans`` (one per planned
                     certificate), ``upgrade_plans`` (one per cluster with an upgrade target); on SQLite
                     (a temp file, WAL, migrated with the project's Alembic migrations) and on PostgreSQL
                     (a temp database on 127.0.0.1:5432, created and dropped). ``retention_plan.reasons``
                     holds the reason codes' names, not the rendered texts (rendering is measured on a
                     sample and extrapolated).

Each size runs at N/10 and N; growth = time(N) / time(N/10) (goal: near-linear, <= ~12).

Usage: ``.venv/bin/python benchmarks/fleet_scale.py [--customers 10000] [--quick] [--skip-postgres]``
(``--quick``: 100 and 1,000 customers).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from di_ops.pipelines.certificates.settings import certificates_config  # noqa: E402
from di_ops.rules import retention as retention_rules  # noqa: E402
from di_ops.rules.certificates import plan_renewal  # noqa: E402
from di_ops.rules.releases import assess  # noqa: E402
from di_ops.rules.retention_bulk import ACTION_NAMES, plan_columns  # noqa: E402

AS_OF = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
AS_OF_NS = int(AS_OF.timestamp()) * 10**9
DAY_NS = 86_400 * 10**9
REGIONS = np.array(["AMER", "APJC", "AUS", "EMEA"], dtype=object)
APPLICATIONS = np.array(["CUCM", "IMP", "CUCxN", "CER", "Expressway"], dtype=object)
VERSIONS = {
    "CUCM": ["15.0 SU2", "15.0 SU1", "14.0 SU4", "14.0 SU3", "12.5 SU7a", "11.5 SU9"],
    "IMP": ["15.0 SU2", "14.0 SU4", "14.0 SU3", "12.5 SU7a"],
    "CUCxN": ["15.0 SU2", "15.0 SU1", "14.0 SU4", "12.5 SU7a"],
    "CER": ["15.0 SU2", "14.0 SU3", "12.5 SU7a"],
    "Expressway": ["X15.2", "X14.3"],
}
STATUS_NAMES = np.array(["SUCCESS", "FAILED", "PARTIAL"], dtype=object)
CLUSTERS_PER_CUSTOMER = len(APPLICATIONS)
NODES_PER_CLUSTER = 4
BACKUPS_PER_CLUSTER = 200
DAG_RETENTION, DAG_CERTS, DAG_UPGRADES = "backup_retention", "certificate_sweep", "upgrade_eligibility"
RUN_ID = "scheduled__2026-11-27T02:30:00+00:00"
BATCH = 5000
SQLITE_CACHE_MIB = 0  # --sqlite-cache-mib: 0 = the project's engine as it is
PG_ADMIN_URL = os.environ.get("DI_OPS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


# --- measuring -------------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples the resident set every 20 ms in a thread; ``growth`` = peak minus the RSS at start."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start


@dataclass
class Stage:
    name: str
    seconds: float
    peak_growth_mib: float
    rows: int
    note: str = ""


def measure(name: str, rows: int | None, fn: Callable[[], Any], note: str = "") -> tuple[Stage, Any]:
    """Run ``fn`` once; ``rows`` None: the result is the row count."""
    gc.collect()
    with PeakRss() as mem:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    rows = int(result) if rows is None else rows
    stage = Stage(name, seconds, mem.growth / 2**20, rows, note)
    print(
        f"  {name:<16} {seconds:9.2f} s  peak +{stage.peak_growth_mib:8.1f} MiB  {rows:>11,} rows"
        f"  {rows / seconds if seconds else 0:>12,.0f} rows/s  {note}",
        flush=True,
    )
    return stage, result


# --- the fleet -------------------------------------------------------------------------------------


@dataclass
class Fleet:
    customers: int
    customer_region: np.ndarray  # int8 region code per customer
    cluster_customer: np.ndarray  # int32 customer index per cluster
    cluster_app: np.ndarray  # int8 application code per cluster
    cluster_version: np.ndarray  # int16 index into the distinct (application, version) list
    versions: list[tuple[str, str]]
    node_cluster: np.ndarray  # int32 cluster per node (one certificate per node)
    cert_not_after_ns: np.ndarray
    cert_serial: np.ndarray  # int64
    backup_cluster: np.ndarray  # int32 series = cluster (one application per cluster)
    backup_night: np.ndarray  # int16 night number (unique per cluster: the backup id)
    backup_taken_ns: np.ndarray
    backup_status: np.ndarray  # int8 code into STATUS_NAMES
    backup_intact: np.ndarray  # bool

    @property
    def clusters(self) -> int:
        return int(self.cluster_customer.shape[0])

    def customer_id(self, i: int) -> str:
        return f"C{i:06d}"

    def cluster_id(self, c: int) -> str:
        return f"C{int(self.cluster_customer[c]):06d}-{APPLICATIONS[self.cluster_app[c]].lower()}"


def generate(customers: int, seed: int = 7) -> Fleet:
    rng = np.random.default_rng(seed)
    clusters = customers * CLUSTERS_PER_CUSTOMER
    cluster_customer = np.repeat(np.arange(customers, dtype=np.int32), CLUSTERS_PER_CUSTOMER)
    cluster_app = np.tile(np.arange(CLUSTERS_PER_CUSTOMER, dtype=np.int8), customers)
    versions = [(app, v) for app in APPLICATIONS for v in VERSIONS[app]]
    offsets = np.cumsum([0] + [len(VERSIONS[a]) for a in APPLICATIONS])
    counts = np.array([len(VERSIONS[a]) for a in APPLICATIONS])
    cluster_version = (offsets[cluster_app] + rng.integers(0, 1 << 30, clusters) % counts[cluster_app]).astype(np.int16)
    nodes = clusters * NODES_PER_CLUSTER
    node_cluster = np.repeat(np.arange(clusters, dtype=np.int32), NODES_PER_CLUSTER)
    not_after = AS_OF_NS + rng.integers(-2 * DAY_NS, 398 * DAY_NS, nodes, dtype=np.int64)
    n = clusters * BACKUPS_PER_CLUSTER
    backup_cluster = np.repeat(np.arange(clusters, dtype=np.int32), BACKUPS_PER_CLUSTER)
    night = np.tile(np.arange(BACKUPS_PER_CLUSTER, dtype=np.int16), clusters)
    # night k was taken k days before as_of at about 01:00 (+/- 30 min)
    taken = AS_OF_NS - (night.astype(np.int64) * DAY_NS) - 90 * 60 * 10**9
    taken += rng.integers(-30 * 60, 30 * 60, n, dtype=np.int64) * 10**9
    draw = rng.random(n, dtype=np.float32)
    status = np.where(draw < 0.04, 1, np.where(draw < 0.07, 2, 0)).astype(np.int8)
    intact = rng.random(n, dtype=np.float32) > 0.002
    return Fleet(
        customers=customers,
        customer_region=rng.integers(0, len(REGIONS), customers).astype(np.int8),
        cluster_customer=cluster_customer,
        cluster_app=cluster_app,
        cluster_version=cluster_version,
        versions=versions,
        node_cluster=node_cluster,
        cert_not_after_ns=not_after,
        cert_serial=rng.integers(1, 1 << 62, nodes, dtype=np.int64),
        backup_cluster=backup_cluster,
        backup_night=night,
        backup_taken_ns=taken,
        backup_status=status,
        backup_intact=intact,
    )


# --- rules -----------------------------------------------------------------------------------------


@dataclass
class RetentionResult:
    action: np.ndarray  # int8 per backup
    reason: np.ndarray  # uint8 per backup
    chunks: int


def chunk_bounds(fleet: Fleet, chunk_customers: int) -> Iterator[tuple[int, int]]:
    """Backup row ranges covering ``chunk_customers`` customers each (rows are ordered by cluster)."""
    per_customer = CLUSTERS_PER_CUSTOMER * BACKUPS_PER_CLUSTER
    for first in range(0, fleet.customers, chunk_customers):
        last = min(first + chunk_customers, fleet.customers)
        yield first * per_customer, last * per_customer


def plan_retention(fleet: Fleet, chunk_customers: int) -> RetentionResult:
    n = fleet.backup_cluster.shape[0]
    action = np.empty(n, dtype=np.int8)
    reason = np.empty(n, dtype=np.uint8)
    chunks = 0
    for lo, hi in chunk_bounds(fleet, chunk_customers):
        # id = cluster * 1000 + night: unique in the fleet, integers (no strings are built here)
        ids = fleet.backup_cluster[lo:hi].astype(np.int64) * 1000 + fleet.backup_night[lo:hi]
        plan = plan_columns(
            ids,
            fleet.backup_cluster[lo:hi],
            fleet.backup_taken_ns[lo:hi],
            STATUS_NAMES[fleet.backup_status[lo:hi]],
            fleet.backup_intact[lo:hi],
            AS_OF,
        )
        action[lo:hi] = plan.action
        reason[lo:hi] = plan.reason
        chunks += 1
    return RetentionResult(action, reason, chunks)


def due_certificates(fleet: Fleet, lookahead_days: int) -> np.ndarray:
    return np.flatnonzero(fleet.cert_not_after_ns < AS_OF_NS + lookahead_days * DAY_NS)


def plan_certificates(fleet: Fleet, due: np.ndarray) -> list[Any]:
    region = REGIONS[fleet.customer_region[fleet.cluster_customer[fleet.node_cluster[due]]]]
    not_after = fleet.cert_not_after_ns[due] // 1000
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [
        plan_renewal(epoch + timedelta(microseconds=int(us)), str(r), AS_OF)
        for us, r in zip(not_after.tolist(), region.tolist(), strict=True)
    ]


def assess_releases(fleet: Fleet) -> tuple[np.ndarray, list[Any]]:
    """One ``assess`` per distinct (application, version); the verdict index per cluster by numpy take."""
    verdicts = [assess(version, application=app, as_of=AS_OF) for app, version in fleet.versions]
    return fleet.cluster_version, verdicts


# --- ops-DB writes -----------------------------------------------------------------------------------


def reason_names() -> dict[int, list[str]]:
    """Reason-code bit -> name (retention_plan.reasons holds these names in this benchmark)."""
    names = {}
    for name in (
        "RECENT_GOOD",
        "GOOD_YOUNG",
        "GOOD_OLD",
        "BAD_YOUNG",
        "BAD_OLD",
        "HOLD_FUTURE",
        "HOLD_DUPLICATE",
        "HOLD_REQUESTED",
    ):
        names[int(getattr(retention_rules, name))] = name.lower()
    return names


def reasons_of(code: int, names: dict[int, str]) -> list[str]:
    return [name for bit, name in names.items() if code & bit]


def retention_rows(fleet: Fleet, plan: RetentionResult) -> Iterator[list[dict[str, Any]]]:
    """retention_plan rows in batches of BATCH, built from the columns one batch at a time."""
    names = reason_names()
    reason_lists = {code: reasons_of(code, names) for code in np.unique(plan.reason).tolist()}
    cluster_ids = [fleet.cluster_id(c) for c in range(fleet.clusters)]
    customer_ids = [fleet.customer_id(i) for i in range(fleet.customers)]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    n = fleet.backup_cluster.shape[0]
    for lo in range(0, n, BATCH):
        hi = min(lo + BATCH, n)
        clusters = fleet.backup_cluster[lo:hi].tolist()
        nights = fleet.backup_night[lo:hi].tolist()
        taken = (fleet.backup_taken_ns[lo:hi] // 1000).tolist()
        status = fleet.backup_status[lo:hi].tolist()
        intact = fleet.backup_intact[lo:hi].tolist()
        action = plan.action[lo:hi].tolist()
        reason = plan.reason[lo:hi].tolist()
        batch = []
        for k, c in enumerate(clusters):
            app = APPLICATIONS[fleet.cluster_app[c]]
            cust = customer_ids[fleet.cluster_customer[c]]
            backup_id = f"{cluster_ids[c]}-n{nights[k]:03d}"
            batch.append(
                {
                    "dag_id": DAG_RETENTION,
                    "run_id": RUN_ID,
                    "path": f"{cust}/{cluster_ids[c]}/{app}/{backup_id}",
                    "backup_id": backup_id,
                    "customer_id": cust,
                    "cluster_id": cluster_ids[c],
                    "application": app,
                    "taken_at": epoch + timedelta(microseconds=taken[k]),
                    "status": STATUS_NAMES[status[k]],
                    "intact": intact[k],
                    "size_bytes": 1 << 30,
                    "action": ACTION_NAMES[action[k]],
                    "reasons": reason_lists[reason[k]],
                    "as_of": AS_OF,
                }
            )
        yield batch


def observation_rows(fleet: Fleet) -> Iterator[list[dict[str, Any]]]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    nodes = fleet.node_cluster.shape[0]
    for lo in range(0, nodes, BATCH):
        batch = []
        for node in range(lo, min(lo + BATCH, nodes)):
            c = int(fleet.node_cluster[node])
            cust = int(fleet.cluster_customer[c])
            batch.append(
                {
                    "dag_id": DAG_CERTS,
                    "run_id": RUN_ID,
                    "node_id": f"{fleet.cluster_id(c)}-n{node % NODES_PER_CLUSTER}",
                    "snapshot_id": "bench",
                    "customer_id": fleet.customer_id(cust),
                    "cluster_id": fleet.cluster_id(c),
                    "region": REGIONS[fleet.customer_region[cust]],
                    "host": f"node{node}.example.net",
                    "port": 8443,
                    "observed_at": AS_OF,
                    "source": "tls",
                    "status": "ok",
                    "trust": "trusted",
                    "serial": f"{int(fleet.cert_serial[node]):x}",
                    "not_after": epoch + timedelta(microseconds=int(fleet.cert_not_after_ns[node]) // 1000),
                    "chain_length": 2,
                }
            )
        yield batch


def certificate_plan_rows(fleet: Fleet, due: np.ndarray, plans: list[Any]) -> Iterator[list[dict[str, Any]]]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    batch: list[dict[str, Any]] = []
    for node, plan in zip(due.tolist(), plans, strict=True):
        c = int(fleet.node_cluster[node])
        cust = int(fleet.cluster_customer[c])
        node_id = f"{fleet.cluster_id(c)}-n{node % NODES_PER_CLUSTER}"
        serial = f"{int(fleet.cert_serial[node]):x}"
        batch.append(
            {
                "plan_id": f"{node_id}/{serial}/r1",
                "node_id": node_id,
                "serial": serial,
                "revision": 1,
                "customer_id": fleet.customer_id(cust),
                "cluster_id": fleet.cluster_id(c),
                "region": REGIONS[fleet.customer_region[cust]],
                "host": f"node{node}.example.net",
                "port": 8443,
                "sso_enabled": False,
                "not_after": epoch + timedelta(microseconds=int(fleet.cert_not_after_ns[node]) // 1000),
                "status": plan.status,
                "window_start": plan.window.start.astimezone(UTC) if plan.window else None,
                "window_end": plan.window.end.astimezone(UTC) if plan.window else None,
                "window_weekend": plan.window.weekend if plan.window else None,
                "fallbacks": [[w.start.isoformat(), w.end.isoformat()] for w in plan.fallbacks],
                "reason": plan.reason,
                "planned_as_of": AS_OF,
                "dag_id": DAG_CERTS,
                "run_id": RUN_ID,
                "updated_at": AS_OF,
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def upgrade_plan_rows(fleet: Fleet, verdict_index: np.ndarray, verdicts: list[Any]) -> Iterator[list[dict[str, Any]]]:
    targets = np.array([v.upgrade_target is not None and not v.may_stay for v in verdicts])
    clusters = np.flatnonzero(targets[verdict_index])
    window = AS_OF + timedelta(days=16, hours=19)
    batch: list[dict[str, Any]] = []
    for c in clusters.tolist():
        app, version = fleet.versions[int(verdict_index[c])]
        verdict = verdicts[int(verdict_index[c])]
        cust = int(fleet.cluster_customer[c])
        batch.append(
            {
                "upgrade_id": f"{fleet.cluster_id(c)}~{verdict.upgrade_target}~2026-12-14",
                "customer_id": fleet.customer_id(cust),
                "cluster_id": fleet.cluster_id(c),
                "application": app,
                "window_region": REGIONS[fleet.customer_region[cust]],
                "from_version": version,
                "target": verdict.upgrade_target,
                "triggers": [{"kind": "below_n1", "reason": r} for r in verdict.reasons[:1]],
                "emergency": False,
                "state": "proposed",
                "window_start": window,
                "window_end": window + timedelta(hours=9),
                "reschedules": 0,
                "sequence": 0,
                "created_at": AS_OF,
                "updated_at": AS_OF,
                "created_run_id": RUN_ID,
                "updated_run_id": RUN_ID,
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def write_batches(engine: Any, table: Any, batches: Iterator[list[dict[str, Any]]]) -> int:
    """One transaction per table, executemany per batch (as the pipelines write their plans)."""
    from sqlalchemy import insert

    rows = 0
    with engine.begin() as conn:
        for batch in batches:
            conn.execute(insert(table), batch)
            rows += len(batch)
    return rows


def bulk_write_batches(engine: Any, table: Any, batches: Iterator[list[dict[str, Any]]]) -> int:
    """The bulk path for tables of millions of rows: SQLite DBAPI executemany of tuples, PostgreSQL COPY.

    Values go through each column's SQLAlchemy bind processor, so they are stored exactly as the Core
    path stores them (same JSON, same timestamp text on SQLite)."""
    import csv
    import io
    import json

    columns = [c.name for c in table.columns]
    dialect = engine.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    rows = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if dialect.name == "sqlite":
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for batch in batches:
                cur.executemany(
                    sql,
                    [
                        tuple(p(row.get(c)) if p else row.get(c) for c, p in zip(columns, processors, strict=True))
                        for row in batch
                    ],
                )
                rows += len(batch)
        else:
            sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
            buffer = io.StringIO()
            writer = csv.writer(buffer)

            def text(value: Any) -> Any:
                if value is None:
                    return None
                if isinstance(value, bool):
                    return "t" if value else "f"
                if isinstance(value, (list, dict)):
                    return json.dumps(value)
                if isinstance(value, datetime):
                    return value.isoformat()
                return value

            for batch in batches:
                writer.writerows([[text(row.get(c)) for c in columns] for row in batch])
                rows += len(batch)
                if buffer.tell() > 32 << 20:
                    buffer.seek(0)
                    cur.copy_expert(sql, buffer)
                    buffer.seek(0)
                    buffer.truncate()
            if buffer.tell():
                buffer.seek(0)
                cur.copy_expert(sql, buffer)
        raw.commit()
    finally:
        raw.close()
    return rows


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'ops.db'}"


class PostgresDatabase:
    """A throw-away database on 127.0.0.1:5432 (user postgres, trust), dropped at exit."""

    def __enter__(self) -> str:
        from sqlalchemy import create_engine, text

        self.name = f"di_ops_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def db_stages(
    dialect: str,
    url: str,
    fleet: Fleet,
    plan: RetentionResult,
    due: np.ndarray,
    cert_plans: list[Any],
    rel: Any,
    method: str,
) -> list[Stage]:
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.db.schema import load_all_tables

    tables = load_all_tables().tables
    engine = make_engine(url)
    if dialect == "sqlite" and SQLITE_CACHE_MIB:
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _cache(dbapi_conn: Any, _record: Any) -> None:  # the project's engine keeps SQLite's 2 MiB default
            dbapi_conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_MIB * 1024}")

    try:
        upgrade(engine)
        out = []
        for table, make in (
            ("retention_plan", lambda: retention_rows(fleet, plan)),
            ("certificate_observations", lambda: observation_rows(fleet)),
            ("certificate_plans", lambda: certificate_plan_rows(fleet, due, cert_plans)),
            ("upgrade_plans", lambda: upgrade_plan_rows(fleet, *rel)),
        ):
            write = bulk_write_batches if method == "bulk" else write_batches
            stage, _ = measure(
                f"db:{dialect}:{table}", None, lambda m=make, t=table, w=write: w(engine, tables[t], m()), method
            )
            out.append(stage)
        return out
    finally:
        engine.dispose()


# --- one size ---------------------------------------------------------------------------------------


def run_size(customers: int, *, chunk_customers: int, postgres: bool, sqlite: bool, method: str) -> list[Stage]:
    print(
        f"\n== {customers:,} customers: {customers * CLUSTERS_PER_CUSTOMER:,} clusters, "
        f"{customers * CLUSTERS_PER_CUSTOMER * NODES_PER_CLUSTER:,} certificates, "
        f"{customers * CLUSTERS_PER_CUSTOMER * BACKUPS_PER_CLUSTER:,} backups",
        flush=True,
    )
    stages: list[Stage] = []
    backups = customers * CLUSTERS_PER_CUSTOMER * BACKUPS_PER_CLUSTER
    stage, fleet = measure("generate", backups, lambda: generate(customers))
    stages.append(stage)
    columns_mib = (
        sum(getattr(fleet, f).nbytes for f in fleet.__dataclass_fields__ if isinstance(getattr(fleet, f), np.ndarray))
        / 2**20
    )
    print(f"  (fleet columns: {columns_mib:,.0f} MiB)")
    stage, plan = measure(
        "retention", backups, lambda: plan_retention(fleet, chunk_customers), f"chunks of {chunk_customers} customers"
    )
    stages.append(stage)
    counts = np.bincount(plan.action, minlength=3)
    print(f"  (keep {counts[0]:,}, prune {counts[1]:,}, hold {counts[2]:,})")
    # the sweep's horizon is derived per region from the notice policy (about 20-22 days); the
    # benchmark plans a fixed 22 days unless the deprecated override is set
    lookahead = certificates_config().sweep.lookahead_days or 22
    due = due_certificates(fleet, lookahead)
    stage, cert_plans = measure(
        "certificates", int(due.shape[0]), lambda: plan_certificates(fleet, due), f"due within {lookahead} days"
    )
    stages.append(stage)
    stage, rel = measure(
        "releases", fleet.clusters, lambda: assess_releases(fleet), f"{len(fleet.versions)} assess calls"
    )
    stages.append(stage)
    if sqlite:
        with tempfile.TemporaryDirectory(prefix="di-ops-fleet-") as tmp:
            stages += db_stages("sqlite", sqlite_url(Path(tmp)), fleet, plan, due, cert_plans, rel, method)
    if postgres:
        with PostgresDatabase() as url:
            stages += db_stages("postgresql", url, fleet, plan, due, cert_plans, rel, method)
    return stages


def check_bulk_agrees(postgres: bool) -> None:
    """The bulk path must store exactly what SQLAlchemy Core stores: a 2-customer fleet both ways, read back."""
    from sqlalchemy import select

    from di_ops.db.engine import make_engine, upgrade
    from di_ops.db.schema import load_all_tables

    tables = load_all_tables().tables
    fleet = generate(2)
    plan = plan_retention(fleet, 1000)
    due = due_certificates(fleet, 400)
    cert_plans = plan_certificates(fleet, due)
    rel = assess_releases(fleet)

    def dump(url: str, write: Callable[..., int]) -> dict[str, list[tuple[Any, ...]]]:
        engine = make_engine(url)
        upgrade(engine)
        out = {}
        for name, rows in (
            ("retention_plan", retention_rows(fleet, plan)),
            ("certificate_observations", observation_rows(fleet)),
            ("certificate_plans", certificate_plan_rows(fleet, due, cert_plans)),
            ("upgrade_plans", upgrade_plan_rows(fleet, *rel)),
        ):
            write(engine, tables[name], rows)
            with engine.connect() as conn:
                out[name] = sorted(tuple(r) for r in conn.execute(select(tables[name])))
        engine.dispose()
        return out

    with tempfile.TemporaryDirectory(prefix="di-ops-fleet-check-") as tmp:
        urls = [(sqlite_url(Path(tmp) / "core"), sqlite_url(Path(tmp) / "bulk"))]
        (Path(tmp) / "core").mkdir()
        (Path(tmp) / "bulk").mkdir()
        if postgres:
            with PostgresDatabase() as core_url, PostgresDatabase() as bulk_url:
                urls.append((core_url, bulk_url))
                for core, bulk in urls:
                    if dump(core, write_batches) != dump(bulk, bulk_write_batches):
                        raise SystemExit(f"bulk path stores other rows than SQLAlchemy Core ({core.split(':')[0]})")
        else:
            for core, bulk in urls:
                if dump(core, write_batches) != dump(bulk, bulk_write_batches):
                    raise SystemExit("bulk path stores other rows than SQLAlchemy Core (sqlite)")
    print(f"check: bulk path stores the same rows as SQLAlchemy Core ({len(urls)} dialect(s)): ok")


def reason_render_cost(sample: int = 20_000) -> float:
    """Seconds per row to render the reason texts (what the pipeline stores), on a sample."""
    fleet = generate(max(1, sample // (CLUSTERS_PER_CUSTOMER * BACKUPS_PER_CLUSTER)))
    ids = fleet.backup_cluster.astype(np.int64) * 1000 + fleet.backup_night
    plan = plan_columns(
        ids, fleet.backup_cluster, fleet.backup_taken_ns, STATUS_NAMES[fleet.backup_status], fleet.backup_intact, AS_OF
    )
    start = time.perf_counter()
    for row in range(len(plan)):
        plan.reasons(row)
    return (time.perf_counter() - start) / len(plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000, help="the large size (the small one is a tenth)")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 customers")
    parser.add_argument("--chunk-customers", type=int, default=1_000, help="customers per plan_columns call")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--sqlite-cache-mib",
        type=int,
        default=0,
        help="SQLite page cache for the DB stages (PRAGMA cache_size); 0: the project's default (2 MiB)",
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="only the PostgreSQL DB stages")
    parser.add_argument(
        "--db-method",
        choices=["bulk", "core"],
        default="bulk",
        help="bulk: DBAPI executemany (SQLite) / COPY (PostgreSQL); core: SQLAlchemy executemany as the pipelines",
    )
    args = parser.parse_args()
    global SQLITE_CACHE_MIB
    SQLITE_CACHE_MIB = args.sqlite_cache_mib
    large = 1_000 if args.quick else args.customers
    small = max(1, large // 10)
    postgres = not args.skip_postgres
    if postgres:
        import socket

        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        except OSError:
            print("PostgreSQL is not listening on 127.0.0.1:5432: PostgreSQL stages skipped")
            postgres = False
    print(f"fleet_scale: as_of {AS_OF.isoformat()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    check_bulk_agrees(postgres)
    total = time.perf_counter()
    results = {
        n: run_size(
            n,
            chunk_customers=args.chunk_customers,
            postgres=postgres,
            sqlite=not args.skip_sqlite,
            method=args.db_method,
        )
        for n in (small, large)
    }
    per_row = reason_render_cost()
    print(
        f"\nreason texts (not written above): {per_row * 1e6:.1f} us per backup rendered with ColumnarPlan.reasons"
        f" -> {per_row * large * CLUSTERS_PER_CUSTOMER * BACKUPS_PER_CLUSTER:,.0f} s for {large:,} customers"
    )
    print(f"\ngrowth {small:,} -> {large:,} customers (x{large // small} data; goal near-linear, <= ~12x time)")
    print(f"  {'stage':<34} {'small s':>9} {'large s':>9} {'growth':>7} {'peak MiB (large)':>17}")
    for a, b in zip(results[small], results[large], strict=True):
        growth = b.seconds / a.seconds if a.seconds > 0 else float("nan")
        flag = "" if growth <= 12 else "  <-- above 12x"
        print(f"  {b.name:<34} {a.seconds:9.2f} {b.seconds:9.2f} {growth:6.1f}x {b.peak_growth_mib:17.1f}{flag}")
    small_total = sum(s.seconds for s in results[small])
    large_total = sum(s.seconds for s in results[large])
    print(f"  {'all stages':<34} {small_total:9.2f} {large_total:9.2f} {large_total / small_total:6.1f}x")
    print(f"\nwall time {time.perf_counter() - total:,.0f} s; process high-water mark {_maxrss_mib():,.0f} MiB")


def _maxrss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
