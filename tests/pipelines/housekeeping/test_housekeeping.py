"""ops_housekeeping task bodies: which outputs go, guards, dry run, crash-safe reruns, ops-DB pruning (SQLite + PostgreSQL)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, insert, select

from di_ops.core.settings import ConfigError
from di_ops.db import schema
from di_ops.db.engine import make_engine, upgrade
from di_ops.integrations.backup_store import FsStore
from di_ops.pipelines.housekeeping import outputs as hk
from di_ops.pipelines.housekeeping.history import prune_history
from di_ops.pipelines.housekeeping.settings import housekeeping_settings
from di_ops.pipelines.housekeeping.tombstones import report_tombstones

NOW = datetime(2026, 11, 27, 4, 15, tzinfo=UTC)
DAG = "ops_housekeeping"
RUN = "scheduled__2026-11-27T04:15:00+00:00"


def put(path: Path, age_days: float, *, files: dict[str, float] | None = None, now: datetime = NOW) -> Path:
    """A folder (or, for a name with a suffix and no files, a file) whose content was last written ``age_days`` ago.

    ``files`` gives sub-files their own ages (the newest decides the folder's age)."""
    stamp = (now - timedelta(days=age_days)).timestamp()
    if files is None and path.suffix:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
        os.utime(path, (stamp, stamp))
        return path
    path.mkdir(parents=True, exist_ok=True)
    for name, age in (files or {"report.html": age_days}).items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x" * 100)
        t = (now - timedelta(days=age)).timestamp()
        os.utime(f, (t, t))
    for folder in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        os.utime(folder, (stamp, stamp))
    os.utime(path, (stamp, stamp))
    return path


def gx_result(data: Path, store: str, suite: str, run_name: str, age_days: float, now: datetime = NOW) -> None:
    """A GX validation result and its Data Docs page, laid out as GX 1.x writes them."""
    run_time = "20260101T000000.000000Z"
    if store == "sla":
        validations, site = data / "gx/uncommitted/validations", data / "sla/reports/_gx_docs/validations"
    else:
        validations = data / "retention/gx/gx/uncommitted/validations"
        site = data / "retention/gx/gx/uncommitted/data_docs/local_site/validations"
    put(validations / suite / run_name / run_time, age_days, files={"src-cases.json": age_days}, now=now)
    put(site / suite / run_name / run_time, age_days, files={"src-cases.html": age_days}, now=now)
    (validations / ".ge_store_backend_id").write_text("store_backend_id = x\n")


def build_data(data: Path, now: datetime = NOW) -> set[str]:
    """Old and new outputs of every kind; returns the relative paths that must remain."""
    put(data / "retention/runs/scheduled__2026-06-01", 120, now=now)
    put(data / "retention/runs/scheduled__2026-11-01", 26, now=now)
    # old run folder with one fresh file (a run that is still going, or was retried): kept
    put(data / "retention/runs/manual__2026-05-01", 200, files={"plan.json": 200, "approved.json": 1}, now=now)
    put(data / "sla/reports/scheduled__2026-01-01", 300, now=now)
    put(data / "sla/reports/scheduled__2026-10-01", 50, now=now)
    put(data / "sla/reports/_gx_docs", 400, files={"index.html": 400, "static/a.css": 400}, now=now)
    put(data / "reports/upgrades/scheduled__2026-03-02", 270, now=now)
    put(data / "reports/upgrades/scheduled__2026-11-23", 4, now=now)
    put(data / "reports/cop_upload/scheduled__2026-01-01.json", 330, now=now)
    put(data / "reports/cop_upload/scheduled__2026-11-27.json", 0.01 + 3, now=now)
    put(data / "reports/housekeeping/scheduled__2026-07-01", 149, now=now)
    gx_result(data, "sla", "tac_cases", "scheduled__2026-01-01", 300, now=now)
    gx_result(data, "sla", "tac_cases", "scheduled__2026-10-01", 50, now=now)
    gx_result(data, "retention", "retention_catalog", "__none__", 100, now=now)
    put(data / "inventory/customers.csv", 500, now=now)  # not housekeeping's: never touched
    return {
        "retention/runs/scheduled__2026-11-01",
        "retention/runs/manual__2026-05-01",
        "sla/reports/scheduled__2026-10-01",
        "sla/reports/_gx_docs",
        "reports/upgrades/scheduled__2026-11-23",
        "reports/cop_upload/scheduled__2026-11-27.json",
        "gx/uncommitted/validations/tac_cases/scheduled__2026-10-01",
        "sla/reports/_gx_docs/validations/tac_cases/scheduled__2026-10-01",
        "inventory/customers.csv",
    }


GONE = {
    "retention/runs/scheduled__2026-06-01",
    "sla/reports/scheduled__2026-01-01",
    "reports/upgrades/scheduled__2026-03-02",
    "reports/cop_upload/scheduled__2026-01-01.json",
    "reports/housekeeping/scheduled__2026-07-01",
    "gx/uncommitted/validations/tac_cases/scheduled__2026-01-01",
    "sla/reports/_gx_docs/validations/tac_cases/scheduled__2026-01-01",
    "retention/gx/gx/uncommitted/validations/retention_catalog/__none__",
    "retention/gx/gx/uncommitted/data_docs/local_site/validations/retention_catalog/__none__",
}


def listing(data: Path) -> dict[str, set[str]]:
    """Entries of every managed folder (what a person would see with ls)."""
    folders = [
        "retention/runs",
        "sla/reports",
        "reports/upgrades",
        "reports/cop_upload",
        "gx/uncommitted/validations/tac_cases",
        "sla/reports/_gx_docs/validations/tac_cases",
        "retention/gx/gx/uncommitted/validations",
        "retention/gx/gx/uncommitted/data_docs/local_site/validations",
    ]
    return {f: {p.name for p in (data / f).iterdir()} if (data / f).is_dir() else set() for f in folders}


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    housekeeping_settings.cache_clear()
    yield
    housekeeping_settings.cache_clear()


def audit_rows(engine: Engine, action: str | None = None) -> list[dict]:
    t = schema.audit_log
    query = select(t).where(t.c.dag_id == DAG)
    if action:
        query = query.where(t.c.action == action)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.order_by(t.c.id)).mappings()]


def run_outputs(engine: Engine, *, dry_run: bool = False, as_of: datetime = NOW, now: datetime = NOW) -> dict:
    return hk.prune_outputs(engine, dag_id=DAG, run_id=RUN, as_of=as_of, now=now, dry_run=dry_run)


# --- outputs ----------------------------------------------------------------------------------------


def test_exactly_the_old_idle_outputs_go_and_gx_results_go_with_their_pages(data_dir: Path, sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    keep = build_data(data_dir)
    summary = run_outputs(sqlite_engine)
    for rel in keep:
        assert (data_dir / rel).exists(), f"{rel} was deleted"
    for rel in GONE:
        assert not (data_dir / rel).exists(), f"{rel} is still there"
    assert listing(data_dir) == {
        "retention/runs": {"scheduled__2026-11-01", "manual__2026-05-01"},
        "sla/reports": {"scheduled__2026-10-01", "_gx_docs"},
        "reports/upgrades": {"scheduled__2026-11-23"},
        "reports/cop_upload": {"scheduled__2026-11-27.json"},
        "gx/uncommitted/validations/tac_cases": {"scheduled__2026-10-01"},
        "sla/reports/_gx_docs/validations/tac_cases": {"scheduled__2026-10-01"},
        "retention/gx/gx/uncommitted/validations": {".ge_store_backend_id"},  # GX's own marker stays
        "retention/gx/gx/uncommitted/data_docs/local_site/validations": set(),
    }
    assert (data_dir / "gx/uncommitted/validations/.ge_store_backend_id").exists()
    assert (data_dir / "sla/reports/_gx_docs/index.html").exists()
    assert summary["deleted"] == 7 and summary["already_gone"] == 0 and summary["bytes_freed"] > 0
    # this run's report folder (housekeeping's own output) holds the decisions, written before deleting
    decisions = json.loads((hk.run_dir(RUN) / hk.DECISIONS).read_text())["decisions"]
    by_path = {Path(d["path"]).relative_to(data_dir).as_posix(): d for d in decisions}
    assert by_path["retention/runs/manual__2026-05-01"]["reason"].startswith("active")
    assert by_path["retention/runs/scheduled__2026-11-01"]["reason"].startswith("younger than 90 days")
    assert "sla/reports/_gx_docs" not in by_path and "inventory/customers.csv" not in by_path
    deletes = audit_rows(sqlite_engine, hk.AUDIT_DELETE)
    gx_unit = "/20260101T000000.000000Z"  # a GX result is one <suite>/<run name>/<run time> folder
    assert {Path(r["entity"]).relative_to(data_dir).as_posix() for r in deletes} == {
        rel + (gx_unit if "validations/" in rel else "") for rel in GONE if "docs" not in rel
    }
    assert all(r["detail"]["dry_run"] is False for r in deletes)
    keeps = {r["entity"]: r["detail"]["kept"] for r in audit_rows(sqlite_engine, hk.AUDIT_KEEP)}
    assert keeps["outputs:retention_runs"] == {"active": 1, "younger than the limit": 1}


@pytest.mark.parametrize(
    ("age_days", "idle_hours", "keep_days", "guard_hours", "action"),
    [
        (90, 24 * 90, 90, 48, "delete"),  # exactly at the limit: old enough
        (89.99, 24 * 89.99, 90, 48, "keep"),  # just inside the limit
        (400, 47.9, 90, 48, "keep"),  # as_of says old, the real clock says written 47.9 h ago: active
        (400, 48, 90, 48, "delete"),  # guard just passed
    ],
)
def test_decide_boundaries(age_days: float, idle_hours: float, keep_days: int, guard_hours: float, action: str) -> None:
    newest = NOW - timedelta(hours=idle_hours)
    as_of = newest + timedelta(days=age_days)
    assert (
        hk.decide(newest=newest, as_of=as_of, now=NOW, keep_days=keep_days, active_guard_hours=guard_hours)[0] == action
    )


def test_an_as_of_far_ahead_never_deletes_what_was_just_written(data_dir: Path, sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    put(data_dir / "retention/runs/running", 0.05)  # written an hour ago
    summary = run_outputs(sqlite_engine, as_of=NOW + timedelta(days=1000))
    assert (data_dir / "retention/runs/running").exists()
    assert summary["deleted"] == 0


def test_dry_run_lists_and_deletes_nothing(data_dir: Path, sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    build_data(data_dir)
    (data_dir / ".housekeeping-trash").mkdir()
    (data_dir / ".housekeeping-trash" / "left-by-a-crash").write_text("x")
    before = listing(data_dir)
    summary = run_outputs(sqlite_engine, dry_run=True)
    assert listing(data_dir) == before
    assert (data_dir / ".housekeeping-trash" / "left-by-a-crash").exists()  # a dry run does not empty the trash
    assert summary["would_delete"] == 7 and summary["deleted"] == 0
    deletes = audit_rows(sqlite_engine, hk.AUDIT_DELETE)
    assert len(deletes) == 7 and all(r["detail"]["dry_run"] for r in deletes)


def test_rerun_is_idempotent_and_a_crash_between_rename_and_remove_is_finished(
    data_dir: Path, sqlite_engine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    keep = build_data(data_dir)
    real_remove = hk._remove
    calls = {"n": 0}

    def crash_on_second(path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        real_remove(path)

    monkeypatch.setattr(hk, "_remove", crash_on_second)
    with pytest.raises(RuntimeError, match="worker killed"):
        run_outputs(sqlite_engine)
    trash = data_dir / ".housekeeping-trash"
    assert len(list(trash.iterdir())) == 1  # renamed, not yet removed
    monkeypatch.setattr(hk, "_remove", real_remove)
    audit_before = len(audit_rows(sqlite_engine))
    again = run_outputs(sqlite_engine)  # the retry: finishes the trash, deletes the rest
    assert len(again["finished_from_trash"]) == 1 and list(trash.iterdir()) == []
    for rel in keep:
        assert (data_dir / rel).exists()
    for rel in GONE:
        assert not (data_dir / rel).exists()
    assert len(audit_rows(sqlite_engine)) == audit_before  # the retry repeats no audit line
    third = run_outputs(sqlite_engine)
    assert third["deleted"] == 0 and third["finished_from_trash"] == []
    assert len(audit_rows(sqlite_engine)) == audit_before


def test_delete_entry_tolerates_already_gone_and_leftovers(tmp_path: Path) -> None:
    trash = tmp_path / "trash"
    victim = put(tmp_path / "a/run-1", 10)
    assert hk.delete_entry(victim, trash) == "deleted"
    assert hk.delete_entry(victim, trash) == "gone"
    victim = put(tmp_path / "a/run-1", 10)
    (trash / hk.trash_name(victim)).mkdir(parents=True)  # a leftover of the same name
    assert hk.delete_entry(victim, trash) == "deleted" and list(trash.iterdir()) == []


# --- settings -------------------------------------------------------------------------------------


def test_the_audit_log_must_be_kept_longest(config_copy: Path) -> None:
    path = config_copy / "housekeeping.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"]["pipeline_runs"] = cfg["tables"]["audit_log"] + 1
    path.write_text(yaml.safe_dump(cfg))
    housekeeping_settings.cache_clear()
    with pytest.raises(ConfigError, match="audit log is kept longest"):
        housekeeping_settings()


def test_the_shipped_settings_are_valid() -> None:
    settings = housekeeping_settings()
    assert settings.tables["audit_log"] == max(settings.tables.values())
    assert settings.folders["sla_reports"].keep == ("_gx_docs",)


# --- ops-DB history, SQLite and PostgreSQL (the tests/db fixture pattern) ------------------------


@pytest.fixture
def ops_db(migrated_ops_db: Engine) -> Engine:
    return migrated_ops_db


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def seed_history(engine: Engine) -> None:
    """Rows just outside and just inside each table's age, plus the rows the guards must keep."""
    t = schema.load_all_tables().tables
    old_run, new_run = ("backup_retention", "old"), ("backup_retention", "new")
    with engine.begin() as conn:
        conn.execute(
            insert(t["audit_log"]),
            [
                {"at": days_ago(d), "dag_id": "x", "run_id": "r", "entity": f"e{d}", "action": "a", "detail": {}}
                for d in (401, 399)
            ],
        )
        snapshots = [("s-old", 200), ("s-pinned", 200), ("s-latest", 150), ("s-new", 10)]
        snapshots[2] = ("s-latest", 5)
        for sid, age in snapshots:
            conn.execute(
                insert(t["inventory_snapshots"]).values(
                    snapshot_id=sid, created_at=days_ago(age), source="x", customers=1, clusters=0, nodes=0, rejected=0
                )
            )
            conn.execute(
                insert(t["customers"]).values(
                    snapshot_id=sid, customer_id="C1", name="n", region="EMEA", partner="p", contacts=[]
                )
            )
        conn.execute(
            insert(t["pipeline_runs"]),
            [
                {
                    "dag_id": "d",
                    "run_id": "old",
                    "snapshot_id": "s-old",
                    "as_of": days_ago(181),
                    "started_at": days_ago(181),
                },
                {
                    "dag_id": "d",
                    "run_id": "new",
                    "snapshot_id": "s-pinned",
                    "as_of": days_ago(179),
                    "started_at": days_ago(179),
                },
            ],
        )
        conn.execute(
            insert(t["notices"]),
            [
                {
                    "dedupe_key": key,
                    "kind": "k",
                    "entity": "e",
                    "recipients": [],
                    "subject": "s",
                    "status": status,
                    "message_id": key,
                    "dag_id": "d",
                    "run_id": "r",
                    "created_at": days_ago(age),
                }
                for key, status, age in (("n-old", "sent", 401), ("n-pending", "pending", 500), ("n-new", "sent", 10))
            ],
        )
        plan_row = {
            "backup_id": "b",
            "customer_id": "C1",
            "cluster_id": "K1",
            "application": "CUCM",
            "intact": True,
            "action": "keep",
            "reasons": [],
        }
        for (dag, run), age in ((old_run, 91), (new_run, 89)):
            conn.execute(
                insert(t["retention_plan"]),
                [
                    {"dag_id": dag, "run_id": run, "path": f"C1/K1/CUCM/b{i}", "as_of": days_ago(age), **plan_row}
                    for i in range(3)
                ],
            )
            conn.execute(
                insert(t["retention_catalog_errors"]).values(
                    dag_id=dag,
                    run_id=run,
                    path="C1/K1/CUCM/b0",
                    check="manifest",
                    customer_id="C1",
                    cluster_id="K1",
                    application="CUCM",
                    detail="bad",
                )
            )
        conn.execute(
            insert(t["retention_deletions"]),
            [
                {
                    "dag_id": "d",
                    "run_id": "r",
                    "path": p,
                    "state": s,
                    "bytes_freed": 1,
                    "tombstoned_at": days_ago(a),
                    "finished_at": None if s == "tombstoned" else days_ago(a),
                }
                for p, s, a in (
                    ("gone-old", "removed", 401),
                    ("tomb-old", "tombstoned", 500),
                    ("gone-new", "removed", 3),
                )
            ],
        )
        obs = {
            "dag_id": "certificate_sweep",
            "snapshot_id": "s",
            "customer_id": "C1",
            "cluster_id": "K1",
            "region": "EMEA",
            "host": "h",
            "port": 443,
            "source": "tls",
            "status": "ok",
            "trust": "trusted",
            "chain_length": 1,
        }
        conn.execute(
            insert(t["certificate_observations"]),
            [
                {**obs, "run_id": "o-old", "node_id": "N1", "serial": "S-old", "observed_at": days_ago(91)},
                {**obs, "run_id": "o-new", "node_id": "N2", "serial": "S-seen", "observed_at": days_ago(1)},
            ],
        )
        plan = {
            "customer_id": "C1",
            "cluster_id": "K1",
            "region": "EMEA",
            "host": "h",
            "port": 443,
            "sso_enabled": False,
            "not_after": days_ago(420),
            "fallbacks": [],
            "reason": "r",
            "planned_as_of": days_ago(430),
            "dag_id": "d",
            "run_id": "r",
        }
        conn.execute(
            insert(t["certificate_plans"]),
            [
                {
                    **plan,
                    "plan_id": "N1/S-old/r1",
                    "node_id": "N1",
                    "serial": "S-old",
                    "revision": 1,
                    "status": "renewed",
                    "updated_at": days_ago(401),
                },
                {
                    **plan,
                    "plan_id": "N2/S-seen/r1",
                    "node_id": "N2",
                    "serial": "S-seen",
                    "revision": 1,
                    "status": "expired",
                    "updated_at": days_ago(401),
                },
                {
                    **plan,
                    "plan_id": "N3/S-open/r1",
                    "node_id": "N3",
                    "serial": "S-open",
                    "revision": 1,
                    "status": "scheduled",
                    "updated_at": days_ago(401),
                },
            ],
        )
        up = {
            "customer_id": "C1",
            "cluster_id": "K1",
            "application": "CUCM",
            "window_region": "EMEA",
            "from_version": "14.0",
            "target": "15.0 SU2",
            "triggers": [],
            "emergency": False,
            "window_start": days_ago(420),
            "window_end": days_ago(420),
            "reschedules": 0,
            "sequence": 0,
            "created_at": days_ago(430),
            "created_run_id": "r",
            "updated_run_id": "r",
        }
        conn.execute(
            insert(t["upgrade_plans"]),
            [
                {**up, "upgrade_id": "U-done", "state": "done", "updated_at": days_ago(401)},
                {**up, "upgrade_id": "U-open", "state": "scheduled", "updated_at": days_ago(401)},
            ],
        )
        conn.execute(
            insert(t["upgrade_events"]),
            [
                {
                    "upgrade_id": u,
                    "at": days_ago(401),
                    "action": "propose",
                    "accepted": True,
                    "reason": "r",
                    "dag_id": "d",
                    "run_id": "r",
                    "detail": {},
                }
                for u in ("U-done", "U-open")
            ],
        )
        runs = [("sla_audit", "sla-old", 401), ("sla_audit", "sla-new", 30)]
        for dag, run, age in runs:
            conn.execute(
                insert(t["sla_audit_runs"]).values(
                    dag_id=dag,
                    run_id=run,
                    as_of=days_ago(age),
                    period_start=days_ago(age).date(),
                    period_end=days_ago(age).date(),
                    source_digest="d",
                    rows_total=1,
                    rows_rejected=0,
                    rejected_share=0.0,
                    quality_passed=True,
                    cases_audited=1,
                    report_dir="x",
                    created_at=days_ago(age),
                    summary={},
                )
            )
            conn.execute(
                insert(t["sla_compliance"]).values(
                    dag_id=dag,
                    run_id=run,
                    dimension="overall",
                    group_key="",
                    severity="S3",
                    n=1,
                    met=1,
                    breached=0,
                    pending=0,
                    ratio=1.0,
                    low=0.0,
                    high=1.0,
                    too_few_to_judge=True,
                )
            )
            conn.execute(
                insert(t["sla_quarantine"]).values(dag_id=dag, run_id=run, source_file="f", line=1, reasons=[], raw={})
            )


def remaining(engine: Engine) -> dict[str, object]:
    t = schema.load_all_tables().tables
    with engine.connect() as conn:

        def col(table: str, column: str) -> set:
            return set(conn.execute(select(t[table].c[column])).scalars())

        return {
            "audit_log": {e for e in col("audit_log", "entity") if e.startswith("e")},
            "inventory_snapshots": col("inventory_snapshots", "snapshot_id"),
            "customers": col("customers", "snapshot_id"),
            "pipeline_runs": col("pipeline_runs", "run_id"),
            "notices": col("notices", "dedupe_key"),
            "retention_plan": col("retention_plan", "run_id"),
            "retention_catalog_errors": col("retention_catalog_errors", "run_id"),
            "retention_deletions": col("retention_deletions", "path"),
            "certificate_observations": col("certificate_observations", "run_id"),
            "certificate_plans": col("certificate_plans", "plan_id"),
            "upgrade_plans": col("upgrade_plans", "upgrade_id"),
            "upgrade_events": col("upgrade_events", "upgrade_id"),
            "sla_audit_runs": col("sla_audit_runs", "run_id"),
            "sla_compliance": col("sla_compliance", "run_id"),
            "sla_quarantine": col("sla_quarantine", "run_id"),
        }


EXPECTED_AFTER = {
    "audit_log": {"e399"},
    "inventory_snapshots": {"s-pinned", "s-latest", "s-new"},
    "customers": {"s-pinned", "s-latest", "s-new"},
    "pipeline_runs": {"new"},
    "notices": {"n-pending", "n-new"},
    "retention_plan": {"new"},
    "retention_catalog_errors": {"new"},
    "retention_deletions": {"tomb-old", "gone-new"},
    "certificate_observations": {"o-new"},
    "certificate_plans": {"N2/S-seen/r1", "N3/S-open/r1"},
    "upgrade_plans": {"U-open"},
    "upgrade_events": {"U-open"},
    "sla_audit_runs": {"sla-new"},
    "sla_compliance": {"sla-new"},
    "sla_quarantine": {"sla-new"},
}


def test_history_rows_are_pruned_per_table_with_their_guards(ops_db: Engine) -> None:
    seed_history(ops_db)
    before = remaining(ops_db)
    dry = prune_history(ops_db, dag_id=DAG, run_id="dry", as_of=NOW, now=NOW, dry_run=True)
    assert remaining(ops_db) == before
    assert dry["tables"]["audit_log"]["rows"] == {"audit_log": 1}
    assert dry["tables"]["retention_plan"]["rows"] == {"retention_catalog_errors": 1, "retention_plan": 3}

    result = prune_history(ops_db, dag_id=DAG, run_id=RUN, as_of=NOW, now=NOW, dry_run=False)
    assert remaining(ops_db) == EXPECTED_AFTER
    assert result["tables"]["sla_history"]["rows"] == {
        "sla_compliance": 1,
        "sla_quarantine": 1,
        "sla_escalations": 0,
        "sla_audit_runs": 1,
    }
    # the audit log names what went, per table, and the ages applied
    deletes = {r["entity"]: r["detail"] for r in audit_rows(ops_db, hk.AUDIT_DELETE) if r["run_id"] == RUN}
    assert deletes["table:audit_log"]["rows"] == {"audit_log": 1} and deletes["table:audit_log"]["days"] == 400
    assert not any(r["detail"]["dry_run"] for r in audit_rows(ops_db) if r["run_id"] == RUN)

    again = prune_history(ops_db, dag_id=DAG, run_id=RUN, as_of=NOW, now=NOW, dry_run=False)
    assert remaining(ops_db) == EXPECTED_AFTER
    assert all(not sum(info["rows"].values()) for info in again["tables"].values())
    with ops_db.connect() as conn:  # no duplicated audit line for the rerun
        n = conn.execute(
            select(func.count()).select_from(schema.audit_log).where(schema.audit_log.c.run_id == RUN)
        ).scalar()
    assert n == len(deletes) + 1


def test_tombstones_are_reported_never_touched(ops_db: Engine, tmp_path: Path) -> None:
    seed_history(ops_db)
    root = tmp_path / "store"
    (root / "C1/K1/CUCM/.tombstone.tomb-old").mkdir(parents=True)
    (root / "C1/K1/CUCM/.tombstone.b-unlogged").mkdir(parents=True)
    (root / "C1/K1/CUCM/b-live").mkdir(parents=True)
    with ops_db.begin() as conn:
        conn.execute(
            insert(schema.load_all_tables().tables["retention_deletions"]).values(
                dag_id="d",
                run_id="r",
                path="C1/K1/CUCM/tomb-old",
                state="tombstoned",
                bytes_freed=1,
                tombstoned_at=days_ago(4),
            )
        )
    report = report_tombstones(ops_db, as_of=NOW, store=FsStore(root))
    assert {r["path"] for r in report["old_in_deletion_log"]} == {"tomb-old", "C1/K1/CUCM/tomb-old"}
    assert {(r["path"], "note" in r) for r in report["in_store"]} == {
        ("C1/K1/CUCM/tomb-old", False),
        ("C1/K1/CUCM/b-unlogged", True),
    }
    assert (root / "C1/K1/CUCM/.tombstone.tomb-old").is_dir() and (root / "C1/K1/CUCM/.tombstone.b-unlogged").is_dir()
