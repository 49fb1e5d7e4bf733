"""sla_audit task bodies: golden due times, a broken export's quarantine and figures, reruns, history."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from di_ops.db.engine import make_engine
from di_ops.db.tables_sla import sla_audit_runs, sla_compliance, sla_escalations
from di_ops.integrations.opsdb import count_rows
from di_ops.pipelines.sla import tasks as sla
from di_ops.rules.sla import response_due

AS_OF = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # a Tuesday, two days after the EU spring-forward night
COLUMNS = ["case_id", "customer_id", "region", "opened_at", "first_response_at", "impact", "affected_share"]
COLUMNS += ["urgency", "severity", "closed_at"]


def _row(case_id: str, region: str, opened: str, responded: str = "", **kw: str) -> dict[str, str]:
    row = {"case_id": case_id, "customer_id": "C001", "region": region, "opened_at": opened}
    row |= {"first_response_at": responded, "impact": "Personalized", "affected_share": "", "urgency": "Medium"}
    row |= {"severity": "S3", "closed_at": ""}
    return row | kw


GOOD = [
    _row("G-1", "EMEA", "2026-03-27T14:00:00Z", "2026-03-30T13:00:00Z"),  # Fri 15:00 CET → due Mon 15:00 CEST: met
    _row("G-2", "EMEA", "2026-03-27T14:00:00Z", "2026-03-30T13:00:01Z"),  # one second late: breached
    _row("G-3", "amer", "2026-03-27T20:00:00Z", urgency="Low", severity="S4"),  # due Wed 1 Apr 20:00Z: pending
    _row("G-4", "AUS", "2026-03-30T00:00:00Z"),  # due Tue 00:00Z, no response by as_of: breached
    _row("G-5", "APJC", "2026-03-30T23:00:00Z"),  # due 2026-03-31T23:00Z, 11 h after as_of: at risk
    _row("G-6", "EMEA", "2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z", impact="Localized", urgency="High"),  # S2→S3
    _row("G-7", "EMEA", "2026-03-02T09:00:00Z", "2026-03-02T09:40:00Z", severity="S2"),  # S3 raised to S2, late
    _row(
        "NL-1",
        "EMEA",
        "2026-03-03T10:00:00Z",
        "2026-03-03T10:10:00Z",
        impact="Gelokaliseerd",
        urgency="Hoog",
        severity="Ernst 2",
    ),
    _row(
        "SH-1",
        "EMEA",
        "2026-03-04T10:00:00Z",
        "2026-03-04T10:15:00Z",
        impact="",
        affected_share="0.8",
        urgency="Critical",
        severity="S1",
    ),
    _row("G-LATE", "AMER", "2026-04-02T10:00:00Z"),  # opened after as_of: out of scope, not quarantined
]
BROKEN = [
    (_row("B-TZ", "EMEA", "2026-03-05T10:00:00", "2026-03-05T11:00:00Z"), ["timestamps_valid"]),
    (_row("B-EARLY", "EMEA", "2026-03-05T10:00:00Z", "2026-03-05T09:00:00Z"), ["first_response_at_not_before_opening"]),
    (_row("B-REG", "Mars", "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z"), ["region_known"]),
    (_row("B-DUP", "EMEA", "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z"), ["case_id_unique"]),
    (_row("B-DUP", "AMER", "2026-03-06T10:00:00Z", "2026-03-06T11:00:00Z"), ["case_id_unique"]),
    (
        _row("B-FUT", "EMEA", "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z", closed_at="2099-04-05T10:00:00Z"),
        ["no_timestamp_in_future"],
    ),
]


@pytest.fixture
def ops_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    path = tmp_path / "ops.db"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    yield f"sqlite:///{path}"


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _run(export: Path, run_id: str, as_of: datetime = AS_OF, **params: object) -> dict[str, object]:
    plan = sla.start_audit({"export_path": str(export), "as_of": as_of.isoformat(), **params}, run_id, None, as_of)
    quality = sla.check_quality(plan)
    sla.audit_cases(plan)
    sla.write_report(plan)
    return {"plan": plan, "quality": quality}


# --- golden due times: weekends and DST nights in each region ---------------------------------------

GOLDEN = [
    ("EMEA", "S3", "2026-03-27T15:00:00+01:00", "2026-03-30T15:00:00+02:00"),  # Fri → Mon over spring-forward
    ("EMEA", "S3", "2026-10-23T15:00:00+02:00", "2026-10-26T15:00:00+01:00"),  # Fri → Mon over fall-back
    ("EMEA", "S1", "2026-03-29T01:50:00+01:00", "2026-03-29T03:05:00+02:00"),  # 15 elapsed minutes over the jump
    ("EMEA", "S3", "2026-03-28T10:00:00+01:00", "2026-03-31T00:00:00+02:00"),  # Saturday → Tuesday 00:00
    ("AMER", "S3", "2026-03-06T15:00:00-05:00", "2026-03-09T15:00:00-04:00"),  # Fri → Mon over DST start (8 Mar)
    ("AMER", "S4", "2026-10-30T12:00:00-04:00", "2026-11-04T12:00:00-05:00"),  # 3 business days over DST end (1 Nov)
    ("AMER", "S2", "2026-11-01T01:50:00-04:00", "2026-11-01T01:20:00-05:00"),  # 30 elapsed min in the repeated hour
    ("AUS", "S3", "2026-04-03T15:00:00+11:00", "2026-04-06T15:00:00+10:00"),  # Fri → Mon over DST end (5 Apr)
    ("AUS", "S4", "2026-10-02T12:00:00+10:00", "2026-10-07T12:00:00+11:00"),  # 3 business days over DST start (4 Oct)
    ("APJC", "S4", "2026-01-10T10:00:00+09:00", "2026-01-15T00:00:00+09:00"),  # Saturday → Mon, Tue, Wed whole days
    ("APJC", "S3", "2026-01-16T00:00:00+09:00", "2026-01-17T00:00:00+09:00"),  # reached at the end of Friday: Sat 00:00
    ("APJC", "S2", "2026-01-10T23:45:00+09:00", "2026-01-11T00:15:00+09:00"),  # 24×7 over a weekend night
]


def test_golden_due_times_through_the_audit_path() -> None:
    import pandas as pd

    from di_ops.pipelines.sla.audit import judge_cases, select_cases
    from di_ops.pipelines.sla.cases import prepare_cases

    raw = pd.DataFrame(
        [
            _row(f"D-{i}", region, opened, urgency="Low" if sev == "S4" else "Medium", severity=sev)
            for i, (region, sev, opened, _) in enumerate(GOLDEN)
        ]
    )
    prepared, missing = prepare_cases(raw)
    assert missing == []
    as_of = datetime(2026, 12, 1, tzinfo=UTC)
    cases, left_out = select_cases(prepared, as_of, (datetime(2026, 1, 1).date(), as_of.date()))
    assert left_out["outside_period"] == 0
    judged = judge_cases(cases, as_of, pd.Timedelta(hours=24))
    for (region, severity, opened, due), got in zip(GOLDEN, judged["response_due"], strict=True):
        expected = datetime.fromisoformat(due)
        assert got.to_pydatetime() == expected, (region, severity, opened)
        assert response_due(severity, datetime.fromisoformat(opened), region) == expected  # scalar rule agrees


# --- an export with deliberately broken rows ------------------------------------------------------


def test_broken_rows_are_quarantined_with_reasons_and_the_rest_is_audited(data_dir: Path, ops_db: str) -> None:
    export = _write_csv(data_dir / "in" / "cases.csv", GOOD + [r for r, _ in BROKEN])
    result = _run(export, "manual__golden")
    quality = result["quality"]
    assert quality == {"rows_total": 16, "rows_rejected": 6, "rejected_share": 6 / 16, "quality_passed": False}

    folder = Path(result["plan"]["run_dir"])  # type: ignore[index]
    with (folder / "quarantine.csv").open() as fh:
        got = {(r["case_id"], int(r["line"])): r["reasons"].split(";") for r in csv.DictReader(fh)}
    expected = {(row["case_id"], len(GOOD) + 2 + i): reasons for i, (row, reasons) in enumerate(BROKEN)}
    assert got == expected

    figures = json.loads((folder / sla.FIGURES).read_text())
    overall = {r["severity"]: r for r in figures["compliance"] if r["dimension"] == "overall"}
    assert (overall["S3"]["met"], overall["S3"]["breached"], overall["S3"]["pending"]) == (2, 2, 1)
    assert (overall["S4"]["n"], overall["S4"]["pending"]) == (0, 1)
    assert (overall["S2"]["met"], overall["S2"]["breached"]) == (1, 1)
    assert (overall["S1"]["met"], overall["S1"]["breached"]) == (1, 0)
    assert overall["S3"]["standard"] == 0.95 and overall["S3"]["too_few_to_judge"] is True
    assert overall["S1"]["standard"] is None and overall["S1"]["meets_standard"] is None
    assert figures["misclassification"]["total"] == {"matching": 7, "downgraded": 1, "raised": 1}
    assert figures["status_counts"] == {"met": 4, "breached": 3, "pending": 2}
    assert figures["at_risk"] == 1
    # no escalation columns in this export: every row misses them, none is quarantined for it
    assert figures["escalation_defects"]["contact_email_valid"] == 16
    assert figures["left_out"]["opened_after_as_of"] == 1
    by_customer = json.loads((folder / sla.QUALITY).read_text())["escalation_by_customer"]
    assert by_customer == {
        "C001": dict.fromkeys(
            [
                "contract_number_valid",
                "caller_is_partner_support",
                "contact_name_present",
                "contact_phone_valid",
                "contact_email_valid",
            ],
            16,
        )
    }

    with (folder / "about_to_breach.csv").open() as fh:
        assert [r["case_id"] for r in csv.DictReader(fh)] == ["G-5"]
    with (folder / "breached.csv").open() as fh:
        assert sorted(r["case_id"] for r in csv.DictReader(fh)) == ["G-2", "G-4", "G-7"]
    months = {r["group_key"] for r in figures["compliance"] if r["dimension"] == "month"}
    assert months == {"2026-03"}

    with pytest.raises(Exception, match="quarantined"):
        sla.enforce_rejected_share(quality)  # type: ignore[arg-type]


def test_a_rerun_replaces_its_rows_and_rewrites_the_same_report(data_dir: Path, ops_db: str) -> None:
    export = _write_csv(data_dir / "in" / "cases.csv", GOOD + [r for r, _ in BROKEN])
    first = _run(export, "scheduled__x")
    folder = Path(first["plan"]["run_dir"])  # type: ignore[index]
    report = (folder / sla.REPORT).read_bytes()
    _run(export, "scheduled__x")
    engine = make_engine(ops_db)
    assert count_rows(engine, "sla_audit_runs") == 1
    assert count_rows(engine, "sla_quarantine") == 6
    assert count_rows(engine, "sla_escalations") == 4  # 3 breached + 1 at risk
    assert (folder / sla.REPORT).read_bytes() == report


def test_history_gives_a_trend_over_runs_and_filters_narrow_the_audit(data_dir: Path, ops_db: str) -> None:
    export = _write_csv(data_dir / "in" / "cases.csv", GOOD)
    _run(export, "run-1", as_of=datetime(2026, 3, 20, tzinfo=UTC))
    second = _run(export, "run-2", regions=["emea"], customers=["C001"])
    engine = make_engine(ops_db)
    with engine.connect() as conn:
        runs = conn.execute(select(sla_audit_runs.c.run_id, sla_audit_runs.c.cases_audited).order_by("as_of")).all()
        kinds = conn.execute(select(sla_escalations.c.case_id, sla_escalations.c.kind)).all()
        regions = conn.execute(
            select(sla_compliance.c.group_key).where(
                sla_compliance.c.run_id == "run-2", sla_compliance.c.dimension == "region"
            )
        ).scalars()
        assert set(regions) == {"EMEA"}
    assert [r.run_id for r in runs] == ["run-1", "run-2"]
    assert runs[0].cases_audited == 4  # opened by 20 March: G-6, G-7, NL-1, SH-1
    assert runs[1].cases_audited == 6  # EMEA only
    assert ("G-2", "breached") in kinds
    html = (Path(second["plan"]["run_dir"]) / sla.REPORT).read_text()  # type: ignore[index]
    assert "S3 and S4 compliance over audit runs" in html


def test_start_audit_refuses_a_missing_export_and_a_reversed_period(data_dir: Path, ops_db: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.core.refusals import Refusal

    with pytest.raises(AirflowFailException, match="no TAC case export") as caught:
        sla.start_audit({"export_path": str(data_dir / "nothing")}, "r", None, AS_OF)
    assert isinstance(caught.value, Refusal)  # a wrong export_path Param
    export = _write_csv(data_dir / "in" / "cases.csv", GOOD)
    with pytest.raises(AirflowFailException, match="after period_end") as caught:
        sla.start_audit(
            {"export_path": str(export), "period_start": "2026-03-10", "period_end": "2026-03-01"}, "r", None, AS_OF
        )
    assert isinstance(caught.value, Refusal)
    # core.tasks.resolve_as_of names the missing zone (its wording: "no time zone", now rules.timestamps')
    with pytest.raises(AirflowFailException, match="no time zone|not a date and time with a zone") as caught:
        sla.start_audit({"export_path": str(export), "as_of": "2026-03-10T00:00:00"}, "r", None, AS_OF)
    assert isinstance(caught.value, Refusal)  # the operator's Params: refused, no retries, no alert


def test_run_folder_names_are_safe() -> None:
    """The run folder is named by di_ops.core.run_folders (one rule for every pipeline: ``+`` is kept)."""
    assert sla.run_folder_name("manual__2026-11-27T08:00:00.123+00:00") == "manual__2026-11-27T08_00_00.123+00_00"
    assert "/" not in sla.run_folder_name("a/../b")


# --- CSV formula injection: ids from the export never reach a spreadsheet as formulas ---------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_IDS = ['=HYPERLINK("http://x.example","open")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3+cmd|' /C calc'!A0"]


def _cells(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_report_csv_quotes_hostile_ids(data_dir: Path, ops_db: str) -> None:
    breached = [_row(bad, "AUS", "2026-03-30T00:00:00Z", customer_id=bad) for bad in HOSTILE_IDS]
    at_risk = [_row("\t=1+1", "APJC", "2026-03-30T23:00:00Z", customer_id="\t-C")]
    quarantined = [_row(f"{bad}Q", "Mars", "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z") for bad in HOSTILE_IDS]
    export = _write_csv(data_dir / "in" / "cases.csv", GOOD + breached + at_risk + quarantined)
    result = _run(export, "manual__hostile")
    folder = Path(result["plan"]["run_dir"])  # type: ignore[index]
    files = ["cases.csv", "breached.csv", "about_to_breach.csv", "compliance.csv", "quarantine.csv"]
    for name in files:
        rows = _cells(folder / name)
        assert rows, name
        for row in rows:
            for column, value in row.items():
                assert not value.startswith(FORMULA_STARTS), (name, column, value)
    assert {r["case_id"] for r in _cells(folder / "breached.csv")} >= {"'" + bad for bad in HOSTILE_IDS}
    assert [r["case_id"] for r in _cells(folder / "about_to_breach.csv")] == ["G-5", "'=1+1"]  # id stripped
    assert {r["case_id"] for r in _cells(folder / "quarantine.csv")} == {f"'{bad}Q" for bad in HOSTILE_IDS}
    customers = {r["group_key"] for r in _cells(folder / "compliance.csv") if r["dimension"] == "customer"}
    assert customers >= {"'" + bad for bad in HOSTILE_IDS}
    ratios = [r["ratio"] for r in _cells(folder / "compliance.csv") if r["ratio"]]
    assert all(float(v) >= 0 for v in ratios)  # numbers stay numbers (no quote)


# --- empty exports: a 0-byte file is named and refused, a header-only one is a visible warning ------


def test_a_zero_byte_export_is_refused_by_name_through_the_param(data_dir: Path, ops_db: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.core.refusals import Refusal

    folder = data_dir / "in"
    _write_csv(folder / "a_cases.csv", GOOD)
    (folder / "b_cases.csv").write_bytes(b"")
    with pytest.raises(AirflowFailException, match=r"b_cases\.csv is empty") as caught:
        sla.start_audit({"export_path": str(folder)}, "r", None, AS_OF)
    assert isinstance(caught.value, Refusal)  # the operator's path: a refusal, no alert
    (folder / "b_cases.csv").write_bytes(b"\xef\xbb\xbf\n")  # a BOM and a line end: still nothing
    with pytest.raises(AirflowFailException, match=r"b_cases\.csv is empty"):
        sla.start_audit({"export_path": str(folder / "b_cases.csv")}, "r", None, AS_OF)


def test_a_zero_byte_export_at_the_configured_path_fails_for_on_call(data_dir: Path, ops_db: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.core.refusals import Refusal

    configured = data_dir / "sla" / "exports"  # sla.yaml export_path
    configured.mkdir(parents=True)
    (configured / "cases.json").write_bytes(b"")
    with pytest.raises(AirflowFailException, match=r"cases\.json is empty") as caught:
        sla.start_audit({}, "r", None, AS_OF)
    assert not isinstance(caught.value, Refusal)


def test_a_header_only_export_warns_in_the_report_and_the_log(
    data_dir: Path, ops_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = data_dir / "in"
    _write_csv(folder / "a_cases.csv", GOOD)
    _write_csv(folder / "b_cases.csv", [])  # the header only
    with caplog.at_level("WARNING", logger="di_ops.pipelines.sla.tasks"):
        result = _run(folder, "manual__header_only")
    run_dir = Path(result["plan"]["run_dir"])  # type: ignore[index]
    expected = "export b_cases.csv has no rows (a header only): nothing from it was audited"
    assert json.loads((run_dir / sla.QUALITY).read_text())["warnings"] == [expected]
    assert json.loads((run_dir / sla.SUMMARY).read_text())["warnings"] == [expected]
    assert f'<p class="warn">Warning: {expected}</p>' in (run_dir / sla.REPORT).read_text()
    assert expected in caplog.text

    only_header = _write_csv(data_dir / "empty" / "cases.csv", [])
    result = _run(only_header, "manual__no_cases")
    run_dir = Path(result["plan"]["run_dir"])  # type: ignore[index]
    warnings = json.loads((run_dir / sla.SUMMARY).read_text())["warnings"]
    assert warnings == [
        "export cases.csv has no rows (a header only): nothing from it was audited",
        "the exports hold no cases at all: this report audits nothing",
    ]
    assert json.loads((run_dir / sla.SUMMARY).read_text())["cases_audited"] == 0
    assert 'id="warnings"' in (run_dir / sla.REPORT).read_text()


def test_a_complete_export_has_no_warnings(data_dir: Path, ops_db: str) -> None:
    result = _run(_write_csv(data_dir / "in" / "cases.csv", GOOD), "manual__complete")
    run_dir = Path(result["plan"]["run_dir"])  # type: ignore[index]
    assert json.loads((run_dir / sla.SUMMARY).read_text())["warnings"] == []
    assert 'id="warnings"' not in (run_dir / sla.REPORT).read_text()


def test_an_unknown_customer_is_refused_not_reported_as_zero_cases(data_dir: Path, ops_db: str) -> None:
    """With an inventory snapshot, a customer id it does not know is refused (naming the closest id)
    before anything is written; no 0-case report joins the managers' index."""
    from di_ops.core.inventory import read_inventory
    from di_ops.core.refusals import Refusal
    from di_ops.integrations.opsdb import ops_engine, store_inventory
    from include.demo.fleet import write_fleet

    write_fleet(data_dir / "inventory", customers=3)
    store_inventory(ops_engine(), read_inventory(data_dir / "inventory"), created_at=datetime(2026, 3, 1, tzinfo=UTC))
    export = _write_csv(data_dir / "in" / "cases.csv", GOOD)
    with pytest.raises(Refusal, match=r"Param customers: 'C0O2' \(did you mean 'C002'\?\) not in inventory snapshot"):
        _run(export, "typo", customers=["C001", "C0O2"])
    assert not list(sla.reports_dir().glob("typo*"))
    assert count_rows(make_engine(ops_db), "sla_audit_runs") == 0
