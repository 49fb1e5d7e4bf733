"""backup_retention task bodies on a real filesystem store: plan, guard, crash-safe deletion, reruns."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from di_ops.integrations.backup_scan import scan
from di_ops.integrations.backup_store import FsStore
from di_ops.pipelines.retention import delete as rd
from di_ops.pipelines.retention import tasks as rp
from di_ops.pipelines.retention.settings import retention_settings
from include.demo.backups import write_backup
from tests.pipelines.retention.fixtures import AS_OF, build_store, fs_connection, night, plan_run, remaining


@pytest.fixture
def env(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, dict[str, set[str]]]]:
    root = tmp_path / "backups"
    expected = build_store(root)
    monkeypatch.setenv("AIRFLOW_CONN_DI_BACKUP_STORE", fs_connection(root))
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "ops.db")}))
    monkeypatch.delenv(rd.CRASH_ENV, raising=False)
    retention_settings.cache_clear()
    yield root, expected
    retention_settings.cache_clear()


def test_plan_matches_the_hand_written_expectation_and_the_columnar_form_agrees(env) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    records = scan(FsStore(root), ["C001", "C002", "C003"])
    held = rp.held_series(rp.basic_checks(records, AS_OF), records)
    assert set(held) == {"C002/C002-cucm/CUCM", "C003/C003-cer/CER", "C003/C003-imp/IMP"}
    assert "manifest" in held["C002/C002-cucm/CUCM"] and "status_allowed" in held["C003/C003-imp/IMP"]
    scalar = rp.build_plan(records, AS_OF, held, bulk_threshold=10**9)
    columnar = rp.build_plan(records, AS_OF, held, bulk_threshold=0)
    assert [(r["path"], r["action"], r["reasons"]) for r in scalar] == [
        (r["path"], r["action"], r["reasons"]) for r in columnar
    ]
    kept = {}
    for row in scalar:
        if row["action"] != "prune":
            kept.setdefault(f"{row['customer_id']}/{row['cluster_id']}/{row['application']}", set()).add(
                row["path"].rsplit("/", 1)[1]
            )
    assert kept == expected
    truncated = next(r for r in scalar if r["path"].endswith("C002-imp-n1"))
    assert truncated["action"] == "keep" and "files not intact" in truncated["reasons"][0]


def test_guard_boundaries(config_copy: Path) -> None:
    retention_settings.cache_clear()

    def rows(pruned: int, total: int, series: str = "a") -> list[dict[str, object]]:
        return [
            {
                "customer_id": series,
                "cluster_id": "c",
                "application": "CUCM",
                "action": "prune" if i < pruned else "keep",
            }
            for i in range(total)
        ]

    assert not rp.guard_verdict(rows(5, 10))["tripped"]  # exactly half: not more than the share
    assert rp.guard_verdict(rows(6, 10))["tripped"]
    assert rp.guard_verdict(rows(1, 1))["series_over_share"] == ["a/c/CUCM"]  # a whole series' history
    (config_copy / "retention.yaml").write_text(
        (config_copy / "retention.yaml").read_text().replace("max_prune_total: 1000", "max_prune_total: 4")
    )
    retention_settings.cache_clear()
    assert not rp.guard_verdict(rows(2, 10, "a") + rows(2, 10, "b"))["tripped"]  # exactly the total
    verdict = rp.guard_verdict(rows(3, 10, "a") + rows(2, 10, "b"))
    assert verdict["tripped"] and verdict["prune_total"] == 5
    retention_settings.cache_clear()


@pytest.mark.parametrize("customers", [0, 1, 24, 25, 26, 10_000, 100_000])
def test_scan_batches_stay_bounded(customers: int) -> None:
    names = [f"C{i:06d}" for i in range(customers)]
    batches = rp.batch_customers(names, 25, 64)
    assert len(batches) <= 64
    assert [c for batch in batches for c in batch] == names
    assert len(batches) == (0 if not customers else min(64, -(-customers // 25)))


def test_real_run_then_rerun_is_idempotent(env) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    run_dir = plan_run("r1")
    first = rd.delete_pruned(run_dir, dry_run=False)
    assert first["removed"] == 12 and remaining(root) == expected
    again = rd.delete_pruned(run_dir, dry_run=False)  # a retry of the task changes nothing
    assert again.get("removed", 0) == 12 and again["bytes_freed"] == first["bytes_freed"]
    summary = rd.verify_and_report(run_dir, False, None)
    assert summary["verified"] and summary["deleted"] == 12
    rd.verify_and_report(run_dir, False, None)
    from di_ops.integrations.opsdb import ops_engine

    engine = ops_engine()
    from sqlalchemy import func, select

    from di_ops.db.schema import audit_log

    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 13  # written once


def test_dry_run_changes_nothing(env) -> None:  # type: ignore[no-untyped-def]
    root, _ = env
    before = remaining(root)
    run_dir = plan_run("dry", dry_run=True)
    assert rd.delete_pruned(run_dir, dry_run=True)["deleted"] == 0
    assert remaining(root) == before
    assert rd.verify_and_report(run_dir, True, None)["planned_prunes_still_present"] == 12


@pytest.mark.parametrize("step", ["rename", "record", "remove"])
@pytest.mark.parametrize("k", [1, 7])
def test_crash_at_each_step_then_rerun_converges(env, monkeypatch: pytest.MonkeyPatch, step: str, k: int) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    run_dir = plan_run("crashy")
    monkeypatch.setenv(rd.CRASH_ENV, f"{step}:{k}")
    with pytest.raises(rd.CrashInjected):
        rd.delete_pruned(run_dir, dry_run=False)
    tombstones = list(root.glob("*/*/*/.tombstone.*"))
    assert len(tombstones) == (0 if step == "remove" else 1)
    monkeypatch.delenv(rd.CRASH_ENV)
    rd.delete_pruned(run_dir, dry_run=False)  # the task's retry
    assert remaining(root) == expected
    assert not list(root.glob("*/*/*/.tombstone.*"))
    assert rd.verify_and_report(run_dir, False, None)["verified"]


@pytest.mark.parametrize("step", ["rename", "record"])
def test_a_new_run_finishes_a_crashed_deletion(env, monkeypatch: pytest.MonkeyPatch, step: str) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    monkeypatch.setenv(rd.CRASH_ENV, f"{step}:3")
    with pytest.raises(rd.CrashInjected):
        rd.delete_pruned(plan_run("crashed"), dry_run=False)
    monkeypatch.delenv(rd.CRASH_ENV)
    run_dir = plan_run("next-night")  # the scan lists the tombstone as the backup it was
    plan = json.loads((Path(run_dir) / "plan.json").read_text())
    assert sum(row["tombstoned"] for row in plan["backups"]) == 1
    rd.delete_pruned(run_dir, dry_run=False)
    assert remaining(root) == expected and not list(root.glob("*/*/*/.tombstone.*"))


def test_a_tombstone_of_a_backup_the_plan_keeps_is_restored(env) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    live = root / "C001/C001-cucm/CUCM/C001-cucm-n2"
    live.rename(live.with_name(".tombstone.C001-cucm-n2"))  # e.g. left by a run with another as_of
    run_dir = plan_run("restore")
    rd.delete_pruned(run_dir, dry_run=False)
    assert live.is_dir() and remaining(root) == expected


def test_guarded_run_without_approval_deletes_nothing(env) -> None:  # type: ignore[no-untyped-def]
    root, _ = env
    for n in range(5, 9):
        write_backup(root, "C004", "C004-cer", "CER", night(n), status="FAILED")
    before = remaining(root)
    run_dir = plan_run("guarded")
    plan = json.loads((Path(run_dir) / "plan.json").read_text())
    assert plan["guard"]["tripped"] and plan["guard"]["series_over_share"] == ["C004/C004-cer/CER"]
    assert rp.choose_path({"guard": plan["guard"]}, dry_run=False) == rp.APPROVAL_TASK_ID
    assert rp.choose_path({"guard": plan["guard"]}, dry_run=True) == rp.NO_APPROVAL_TASK_ID
    rd.delete_pruned(run_dir, dry_run=False)
    assert remaining(root) == before


def test_recheck_after_approval_drops_what_changed(env) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    run_dir = plan_run("approved")
    # After the plan, a new night arrives in series A: the fresh plan keeps one more... and an operator
    # removes one planned prune by hand.
    write_backup(root, "C001", "C001-imp", "IMP", night(0.5), status="SUCCESS")
    gone = root / "C001/C001-cucm/CUCM/C001-cucm-n40"
    for f in gone.iterdir():
        f.unlink()
    gone.rmdir()
    approval = {"chosen_options": ["Approve"], "responded_by_user": {"id": "bob", "name": "Bob"}}
    result = rp.recheck_after_approval(run_dir, approval)
    assert result["approver"] == "Bob" and result["delete"] == 11 and result["dropped"] == 1
    assert (Path(run_dir) / "approved.json").exists()
    # a later try of the re-check without an Approve (e.g. after a clear) withdraws the approval
    rejected = rp.recheck_after_approval(run_dir, {"chosen_options": ["Reject"], "responded_by_user": {"id": "bob"}})
    assert rejected["delete"] == 0 and rejected["approval"] == {
        "decision": "reject",
        "reason": "answered ['Reject']",
        "approver": "bob",
        "chosen_options": ["Reject"],
        "timed_out": False,
    }
    assert not (Path(run_dir) / "approved.json").exists()


def test_a_missing_store_connection_fails_without_retries(env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.delenv("AIRFLOW_CONN_DI_BACKUP_STORE")
    with pytest.raises(AirflowFailException, match="AIRFLOW_CONN_DI_BACKUP_STORE"):
        plan_run("no-store")


def test_customers_param_restricts_the_run(env) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    run_dir = plan_run("only-c001", customers=["C001"])
    info = json.loads((Path(run_dir) / "run.json").read_text())
    assert info["customers"] == ["C001"]
    rd.delete_pruned(run_dir, dry_run=False)
    after = remaining(root)
    assert after["C001/C001-cucm/CUCM"] == expected["C001/C001-cucm/CUCM"]
    assert len(after["C002/C002-imp/IMP"]) == 7  # other customers untouched


def test_an_unknown_customer_is_refused_before_anything_is_planned(env, data_dir) -> None:  # type: ignore[no-untyped-def]
    from di_ops.core.refusals import Refusal

    root, _ = env
    before = remaining(root)
    with pytest.raises(Refusal, match=r"Param customers: 'C999' not in the backup store") as caught:
        plan_run("unknown", customers=["C001", "C999"])
    assert caught.value.param == "customers"
    assert remaining(root) == before and not (data_dir / "retention" / "runs" / "unknown").exists()


def test_a_folder_that_changed_since_the_plan_is_not_deleted(env) -> None:  # type: ignore[no-untyped-def]
    root, expected = env
    run_dir = plan_run("changed")
    swapped = root / "C001/C001-cucm/CUCM/C001-cucm-n40/manifest.json"
    swapped.write_text(swapped.read_text().replace("C001-cucm-n40", "someone-elses-backup"))
    result = rd.delete_pruned(run_dir, dry_run=False)
    assert result["changed"] == 1 and result["removed"] == 11
    assert "C001-cucm-n40" in remaining(root)["C001/C001-cucm/CUCM"]


def test_verify_fails_when_a_kept_backup_disappeared(env) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.exceptions import AirflowFailException

    root, _ = env
    run_dir = plan_run("vanished")
    rd.delete_pruned(run_dir, dry_run=False)
    for n in (1, 2, 3):  # someone removes the 3 most recent good backups of series B
        shutil.rmtree(root / f"C001/C001-imp/IMP/C001-imp-n5{n - 1}")
    with pytest.raises(AirflowFailException, match="C001/C001-imp/IMP"):
        rd.verify_and_report(run_dir, False, None)
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    assert summary["series_below_floor"]["C001/C001-imp/IMP"] == {"good_before": 5, "good_after": 0}
    assert not summary["verified"] and len(summary["kept_backups_missing"]) == 3


def test_the_plan_csv_starts_no_cell_with_a_formula(tmp_path: Path) -> None:
    """Backup ids and folder names come from the store: a hostile one must not become a formula."""
    import csv

    from di_ops.pipelines.retention.plan import PLAN_FIELDS, write_plan_reports

    hostile = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3+cmd", "\tx", "\rx"]
    rows = [{k: ([value] if k == "reasons" else value) for k in PLAN_FIELDS} for value in hostile]
    write_plan_reports(tmp_path, {"run": "t"}, rows)
    with (tmp_path / "plan.csv").open(newline="", encoding="utf-8") as fh:
        cells = [cell for row in list(csv.reader(fh))[1:] for cell in row]
    assert len(cells) == len(hostile) * len(PLAN_FIELDS)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {c.lstrip("'") for c in cells} == set(hostile)
