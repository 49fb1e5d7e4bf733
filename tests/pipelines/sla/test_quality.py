"""GX quality checks on prepared case frames: reasons per row, escalation apart, missing columns, Data Docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from di_ops.pipelines.sla import quality as gx_quality
from di_ops.pipelines.sla.cases import prepare_cases
from di_ops.pipelines.sla.instants import parse_instants
from di_ops.pipelines.sla.settings import sla_settings
from di_ops.pipelines.sla.suite import Rule, rules

AS_OF = datetime(2026, 3, 31, 12, tzinfo=UTC)


def _rules(customers: list[str] | None = None) -> list[Rule]:
    cfg = sla_settings()
    return rules(
        not_after=AS_OF,
        future_tolerance=timedelta(minutes=5),
        known_customers=customers,
        contract_pattern=cfg.escalation.contract_number_pattern,
        phone_pattern=cfg.escalation.phone_pattern,
        email_pattern=cfg.escalation.email_pattern,
    )


def _case(case_id: str, **kw: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "case_id": case_id,
        "customer_id": "C001",
        "region": "EMEA",
        "opened_at": "2026-03-02T10:00:00+01:00",
        "first_response_at": "2026-03-02T10:30:00+01:00",
        "impact": "Large",
        "urgency": "High",
        "severity": "S2",
        "closed_at": None,
        "contract_number": "SVC-123456",
        "caller_account": "Partner",
        "contact_name": "Polder NOC",
        "contact_phone": "+31 20 555 0101",
        "contact_email": "noc@polder.example",
    }
    return row | kw


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("2026-03-02T10:00:00Z", "iso8601"),
        ("2026-03-02 10:00:00+01:00", "iso8601"),
        ("2026-03-02T10:00:00.250-0500", "iso8601"),
        ("  2026-03-02T10:00:00Z ", "iso8601"),  # blanks around are stripped
        ("  2026-03-02T10:00Z ", "invalid"),  # seconds left out (rules.timestamps: seconds required)
        ("2026-03-02T10:00:00", "invalid"),  # naive: refused, not guessed
        ("2026-03-02", "invalid"),
        ("2026-02-30T10:00:00Z", "invalid"),
        ("2026-03-02T10:00:00+25:00", "invalid"),
        ("02/03/2026 10:00 CET", "invalid"),
        ("", "empty"),
        (None, "empty"),
    ],
)
def test_timestamps_need_iso8601_with_a_zone(value: str | None, fmt: str) -> None:
    parsed, formats = parse_instants(pd.Series([value], dtype=object))
    assert formats.iloc[0] == fmt
    assert parsed.notna().iloc[0] == (fmt == "iso8601")


def test_blocking_rules_name_the_rows_and_escalation_defects_stay_apart(tmp_path: Path) -> None:
    raw = pd.DataFrame(
        [
            _case("OK-1"),
            _case("NL-1", impact="Groot", urgency="Kritiek", severity="Ernst 1", caller_account="klant"),
            _case("SHARE-1", impact=None, affected_share="0.3"),  # Localized by share
            _case("X-CUST", customer_id="C999"),
            _case("X-URG", urgency="Sometimes"),
            _case("X-SEV", severity="S9"),
            _case("X-CLOSE", closed_at="2026-03-02T09:00:00+01:00"),
            _case("X-FUT", opened_at="2026-03-31T12:06:00Z", first_response_at=None),
            _case("E-PHONE", contact_phone="call me"),
            _case("E-MAIL", contact_email="noc at polder"),
            _case("E-CALLER", caller_account="end user", contract_number=None),
            _case(None),  # type: ignore[arg-type]
        ]
    )
    prepared, missing = prepare_cases(raw)
    assert missing == []
    assert prepared.loc[2, "impact_norm"] == "Localized" and prepared.loc[1, "severity_filed"] == "S1"
    suite = _rules(["C001"])
    result = gx_quality.validate(gx_quality.gx_frame(prepared, suite), suite, run_name="t", run_time=AS_OF)
    failing = {name: sorted(raw.loc[rows, "case_id"].fillna("(none)")) for name, rows in result.failing.items() if rows}
    assert failing == {
        "case_id_present": ["(none)"],
        "customer_known": ["X-CUST"],
        "urgency_known": ["X-URG"],
        "severity_known": ["X-SEV"],
        "closed_at_not_before_opening": ["X-CLOSE"],
        "no_timestamp_in_future": ["X-FUT"],
        "contract_number_valid": ["E-CALLER"],
        "caller_is_partner_support": ["E-CALLER"],
        "contact_phone_valid": ["E-PHONE"],
        "contact_email_valid": ["E-MAIL"],
    }
    sections = {r["rule"]: r["section"] for r in result.rules}
    assert sections["contact_phone_valid"] == "escalation" and sections["urgency_known"] == "blocking"
    by_rule = {r["rule"]: r for r in result.rules}
    assert by_rule["customer_known"]["pass_rate"] == pytest.approx(11 / 12)
    assert result.docs_page is None  # ephemeral context: no Data Docs


def test_a_missing_required_column_fails_every_row_and_file_context_builds_data_docs(tmp_path: Path) -> None:
    raw = pd.DataFrame([_case("A"), _case("B")]).drop(columns=["urgency"])
    prepared, missing = prepare_cases(raw)
    assert missing == ["urgency"]
    docs = tmp_path / "reports" / "_gx_docs"
    result = gx_quality.validate(
        gx_quality.gx_frame(prepared, _rules()),
        _rules(),
        run_name="run-1",
        run_time=AS_OF,
        gx_root=tmp_path,
        docs_dir=docs,
    )
    assert result.failing["required_columns"] is None  # None = every row
    assert next(r for r in result.rules if r["rule"] == "required_columns")["failed"] == 2
    assert result.docs_page is not None and result.docs_page.is_file()
    assert result.docs_page.is_relative_to(docs)
    assert (tmp_path / "gx" / "great_expectations.yml").is_file()
    assert not (tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site").exists()  # only our site
    again = gx_quality.validate(
        gx_quality.gx_frame(prepared, _rules()),
        _rules(),
        run_name="run-1",
        run_time=AS_OF,
        gx_root=tmp_path,
        docs_dir=docs,
    )
    assert again.docs_page == result.docs_page  # a retry overwrites the same validation page


IMG = "<img src=x onerror=\"document.title='pwned'\">"
SCRIPT = "<script>document.title='pwned'</script>"


def test_data_docs_show_hostile_values_as_text_and_the_checks_see_them_raw(tmp_path: Path) -> None:
    """The Data Docs page of a run whose quarantined/invalid values are markup: the values appear
    escaped, never as tags; the checks ran on the raw values (same failing rows as without docs)."""
    raw = pd.DataFrame(
        [
            _case("OK-1"),
            _case("X-IMG", customer_id=IMG),
            _case("X-SCRIPT", customer_id=SCRIPT, contact_email=SCRIPT),
            _case("E-IMG", contact_email=IMG),
            _case(SCRIPT),
            _case(SCRIPT),  # a duplicated id: its value lands in the unexpected-values table
        ]
    )
    prepared, _ = prepare_cases(raw)
    rules = _rules(["C001", IMG])  # a hostile inventory customer id is an expectation argument: GX escapes it
    docs = tmp_path / "reports" / "_gx_docs"
    with_docs = gx_quality.validate(
        gx_quality.gx_frame(prepared, _rules()),
        rules,
        run_name="hostile",
        run_time=AS_OF,
        gx_root=tmp_path,
        docs_dir=docs,
    )
    without = gx_quality.validate(gx_quality.gx_frame(prepared, _rules()), rules, run_name="hostile", run_time=AS_OF)
    assert with_docs.failing == without.failing and with_docs.rules == without.rules
    failing = {name: sorted(raw.loc[rows, "case_id"]) for name, rows in with_docs.failing.items() if rows}
    assert failing["customer_known"] == ["X-SCRIPT"]  # IMG is a known customer: the check saw the raw text
    assert failing["contact_email_valid"] == ["E-IMG", "X-SCRIPT"]
    assert failing["case_id_unique"] == [SCRIPT, SCRIPT]
    assert with_docs.docs_page is not None
    pages = [with_docs.docs_page, docs / "index.html", *docs.glob("expectations/**/*.html")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>document" not in text and "<img src=x" not in text, page
    shown = with_docs.docs_page.read_text(encoding="utf-8")
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in shown  # shown, as text
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;" in shown
    assert "&amp;lt;" not in shown  # escaped once, not twice


def test_the_retention_gate_data_docs_copy_shows_hostile_catalog_values_as_text(tmp_path: Path) -> None:
    """Retention's gate (:mod:`di_ops.pipelines.retention.quality`) copies its Data Docs into the run folder,
    opened from disk without any CSP: a hostile backup id, status or path is escaped there too."""
    from di_ops.integrations.backup_scan import CatalogRecord
    from di_ops.pipelines.retention.quality import validate_catalog

    def record(folder: str, backup_id: str, status: str) -> CatalogRecord:
        return CatalogRecord(
            path=f"C001/cl1/CUCM/{folder}",
            customer_id="C001",
            cluster_id="cl1",
            application="CUCM",
            folder=folder,
            backup_id=backup_id,
            manifest_customer_id="C001",
            manifest_cluster_id="cl1",
            manifest_application="CUCM",
            taken_at="2026-03-01T00:00:00Z",
            taken_at_ns=int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * 10**9,
            status=status,
            size_bytes=10,
        )

    records = [record("b1", SCRIPT, IMG), record(IMG, SCRIPT, "complete")]
    run_dir = tmp_path / "run"
    out = validate_catalog(records, AS_OF, gx_root=tmp_path / "gx-root", run_dir=run_dir, run_id="r1")
    checks = {check for problems in out["failures"].values() for check, _ in problems}
    assert {"backup_id_unique", "status_allowed"} <= checks  # judged on the raw values
    pages = list((run_dir / "gx" / "data_docs").rglob("*.html"))
    assert len(pages) >= 2
    shown = False
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>document" not in text and "<img src=x" not in text, page
        shown = shown or "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in text
    assert shown  # the values are on the page, as text


def test_a_rule_whose_column_is_missing_fails_every_row() -> None:
    raw = pd.DataFrame([_case("A"), _case("B"), _case("C")]).drop(columns=["case_id"])
    prepared, missing = prepare_cases(raw)
    assert missing == ["case_id"]
    suite = _rules()
    result = gx_quality.validate(gx_quality.gx_frame(prepared, suite), suite, run_name="t", run_time=AS_OF)
    by_rule = {r["rule"]: r for r in result.rules}
    for name in ("required_columns", "case_id_present", "case_id_unique"):
        assert result.failing[name] is None and by_rule[name]["failed"] == 3, name
    assert result.failing["urgency_known"] == []


def test_a_row_check_that_disagrees_with_gx_is_refused() -> None:
    """The rows behind each count come from suite.failing_rows; a count GX does not confirm is an error."""
    prepared, _ = prepare_cases(pd.DataFrame([_case("A"), _case("B")]))
    suite = _rules()
    frame = gx_quality.gx_frame(prepared, suite)
    result = gx_quality.validate(frame, suite, run_name="t", run_time=AS_OF)
    assert all(r["failed"] == 0 for r in result.rules if r["section"] == "blocking")
    from great_expectations.core.run_identifier import RunIdentifier

    from di_ops.integrations.gx import ephemeral_context

    context = ephemeral_context()
    check = gx_quality.checkpoint(context, gx_quality.NAMES, gx_quality.build_suite(suite), gx_quality.RESULT_FORMAT)
    run = check.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name="t", run_time=AS_OF))
    (_, validation), *_ = run.run_results.items()
    other = frame.assign(case_id=pd.Series([None, "B"], index=frame.index, dtype=object))  # not what GX saw
    with pytest.raises(gx_quality.CountMismatch, match="case_id_present: GX counts 0 failing rows, the row check 1"):
        gx_quality._outcomes(validation.results, suite, other)  # noqa: SLF001 - the guard itself
