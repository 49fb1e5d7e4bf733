"""The reports hub: every pipeline's run outputs found where its settings put them, filtered and
ordered, one run found from its DAG run, and nothing served outside a run's folder."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from di_ops.core.run_folders import run_folder_name
from di_ops.orchestration.console import reports

RUNS = {
    # pipeline: (dag_id, run_id, as_of, files)
    "retention": (
        "backup_retention",
        "scheduled__2026-11-29T02:30:00+00:00",
        "2026-11-29T02:30:00+00:00",
        {
            "summary.json": None,
            "plan.csv": "path,action\n",
            "catalog/batch-0000.json": "{}",
            "gx/data_docs/index.html": "<p>",
        },
    ),
    "sla": (
        "sla_audit",
        "scheduled__2026-11-30T00:00:00+00:00",
        "2026-11-30T00:00:00+00:00",
        {"report.html": "<p>", "summary.json": None, "prepared.parquet": "x", "cases.csv": "case_id\n"},
    ),
    "upgrades": (
        "upgrade_emergency_check",
        "scheduled__2026-11-28T06:00:00+00:00",
        "2026-11-28T06:00:00+00:00",
        {"upgrades.html": "<p>", "assessment.json": None, "upgrades.csv": "customer_id\n"},
    ),
    "incidents": (
        "incident_watch",
        "scheduled__2026-11-30T11:05:00+00:00",
        "2026-11-30T11:05:00+00:00",
        {"run.json": None},
    ),
    "housekeeping": (
        "ops_housekeeping",
        "scheduled__2026-11-27T03:00:00+00:00",
        "2026-11-27T03:00:00+00:00",
        {"summary.json": None, "decisions.json": "[]"},
    ),
}


@pytest.fixture
def outputs(data_dir: Path) -> dict[str, Path]:
    made = {}
    for pipeline, (dag_id, run_id, as_of, files) in RUNS.items():
        folder = reports.source(pipeline).base() / run_folder_name(run_id)  # type: ignore[union-attr]
        for name, text in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            meta = {"dag_id": dag_id, "run_id": run_id, "as_of": as_of, "outcome": "done"}
            path.write_text(json.dumps(meta) if text is None else text, encoding="utf-8")
        made[pipeline] = folder
    snapshots = reports.source("inventory").base() / "snapshots"  # type: ignore[union-attr]
    snapshots.mkdir(parents=True)
    (snapshots / "abc.json").write_text("{}", encoding="utf-8")  # a marker, not a run
    cop = reports.source("cop").base()  # type: ignore[union-attr]
    cop.mkdir(parents=True, exist_ok=True)
    cop_run = "scheduled__2026-11-30T10:15:00+00:00"
    (cop / f"{run_folder_name(cop_run)}.json").write_text(
        json.dumps({"run_id": cop_run, "as_of": "2026-11-30T10:15:00+00:00", "uploads": []}), encoding="utf-8"
    )
    (cop / ".hidden.json").write_text("{}", encoding="utf-8")
    made["cop"] = cop
    return made


def _all() -> list[reports.Report]:
    return [r for src in reports.SOURCES for r in reports.file_reports(src)]


def test_every_pipeline_run_is_listed_newest_first(outputs: dict[str, Path]) -> None:
    listed = reports.select_reports(_all(), readable=lambda _d: True)
    assert [r.pipeline for r in listed] == ["incidents", "cop", "sla", "retention", "upgrades", "housekeeping"]
    by = {r.pipeline: r for r in listed}
    assert by["upgrades"].dag_id == "upgrade_emergency_check"  # from the run's own file, not a default
    assert by["sla"].main == "report.html" and by["retention"].main == "summary.json"
    assert by["cop"].run_id == "scheduled__2026-11-30T10:15:00+00:00" and by["cop"].main is None
    assert by["sla"].when == datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pipeline", "since", "until", "expected"),
    [
        ("sla", None, None, ["sla"]),
        (None, date(2026, 11, 29), None, ["incidents", "cop", "sla", "retention"]),
        (None, None, date(2026, 11, 28), ["upgrades", "housekeeping"]),
        (None, date(2026, 11, 28), date(2026, 11, 28), ["upgrades"]),
        ("certificates", None, None, []),
    ],
)
def test_filters_by_pipeline_and_day(
    outputs: dict[str, Path], pipeline: str | None, since: date | None, until: date | None, expected: list[str]
) -> None:
    listed = reports.select_reports(_all(), readable=lambda _d: True, pipeline=pipeline, since=since, until=until)
    assert [r.pipeline for r in listed] == expected


def test_a_reader_sees_only_the_dags_they_may_read(outputs: dict[str, Path]) -> None:
    listed = reports.select_reports(_all(), readable=lambda d: d in {"sla_audit", "cop_upload"})
    assert {r.pipeline for r in listed} == {"sla", "cop"}
    assert reports.find_run("incident_watch", RUNS["incidents"][1]) is not None


def test_a_dag_run_finds_its_report_and_its_files(outputs: dict[str, Path]) -> None:
    dag_id, run_id, _, _ = RUNS["retention"]
    src, name = reports.find_run(dag_id, run_id)  # type: ignore[misc]
    assert src.pipeline == "retention" and name == run_folder_name(run_id)
    # main files first; the scan's working batches never listed
    assert reports.run_files(src, name) == ["summary.json", "plan.csv", "gx/data_docs/index.html"]
    sla_src, sla_name = reports.find_run("sla_audit", RUNS["sla"][1])  # type: ignore[misc]
    assert "prepared.parquet" not in reports.run_files(sla_src, sla_name)
    assert reports.find_run("sla_audit", "manual__never") is None
    assert reports.find_run("inventory_sync", "anything") is None
    cop_src, cop_name = reports.find_run("cop_upload", "scheduled__2026-11-30T10:15:00+00:00")  # type: ignore[misc]
    assert cop_name.endswith(".json") and reports.summary_of(cop_src, cop_name)["uploads"] == []


@pytest.mark.parametrize(
    "rest",
    [
        "",
        "..",
        "../ops.db",
        "x/../../ops.db",
        ".hidden.json",
        "{sla}/prepared.parquet",
        "{ret}/catalog/batch-0000.json",
        "{sla}/missing.html",
        "{sla}",
    ],
)
def test_nothing_outside_a_run_folder_is_served(outputs: dict[str, Path], data_dir: Path, rest: str) -> None:
    (data_dir / "ops.db").write_text("secret")
    rest = rest.format(sla=run_folder_name(RUNS["sla"][1]), ret=run_folder_name(RUNS["retention"][1]))
    pipeline = "retention" if "batch" in rest else "sla"
    assert reports.report_file(reports.source(pipeline), rest) is None  # type: ignore[arg-type]
    assert reports.report_file(reports.source("cop"), rest) is None  # type: ignore[arg-type]


def test_a_file_beside_the_run_folders_is_not_served(outputs: dict[str, Path]) -> None:
    (outputs["sla"].parent / "notes.txt").write_text("not a run's file")
    assert reports.report_file(reports.source("sla"), "notes.txt") is None  # type: ignore[arg-type]


def test_a_link_in_a_run_folder_is_not_followed(outputs: dict[str, Path], data_dir: Path) -> None:
    secret = data_dir / "secret.txt"
    secret.write_text("secret")
    folder = outputs["sla"]
    (folder / "leak.html").symlink_to(secret)
    assert reports.report_file(reports.source("sla"), f"{folder.name}/leak.html") is None  # type: ignore[arg-type]
    assert "leak.html" not in reports.run_files(reports.source("sla"), folder.name)  # type: ignore[arg-type]
    good = reports.report_file(reports.source("sla"), f"{folder.name}/report.html")  # type: ignore[arg-type]
    assert good == folder / "report.html"
