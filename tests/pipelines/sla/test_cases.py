"""di_ops.pipelines.sla.cases, .audit, .labels and .figures: the frame forms agree with the scalar rules they apply."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from di_ops.pipelines.sla.audit import default_period, judge_cases, select_cases
from di_ops.pipelines.sla.cases import prepare_cases
from di_ops.rules.severity import impact_for_share, severity_for
from di_ops.rules.sla import response_status

IMPACT_LABELS = [
    "Widespread",
    "large",
    " Localized ",
    "PERSONALIZED",
    "Wijdverbreid",
    "groot",
    "Gelokaliseerd",
    "gepersonaliseerd",
]
URGENCY_LABELS = ["Critical", "high", "Medium ", "LOW", "Kritiek", "hoog", "Gemiddeld", "laag"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(IMPACT_LABELS + [None]),
            st.floats(min_value=0, max_value=1, allow_nan=False),
            st.sampled_from(URGENCY_LABELS),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_matrix_severity_agrees_with_the_scalar_rule(cases: list[tuple[str | None, float, str]]) -> None:
    raw = pd.DataFrame(
        [{"impact": i, "affected_share": str(share), "urgency": u, "severity": "S3"} for i, share, u in cases]
    )
    prepared, _ = prepare_cases(raw)
    for (impact, share, urgency), got in zip(cases, prepared["severity_matrix"], strict=True):
        expected_impact = impact.strip() if impact is not None else impact_for_share(share)
        assert got == severity_for(expected_impact, urgency)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["AMER", "APJC", "AUS", "EMEA"]),
            st.sampled_from(["S1", "S2", "S3", "S4"]),
            st.integers(min_value=0, max_value=60 * 24 * 20),  # opened, minutes after the start
            st.one_of(st.none(), st.integers(min_value=0, max_value=60 * 24 * 8)),  # response delay, minutes
        ),
        min_size=1,
        max_size=25,
    )
)
def test_statuses_agree_with_the_scalar_rule(cases: list[tuple[str, str, int, int | None]]) -> None:
    start = datetime(2026, 3, 20, tzinfo=UTC)  # spans the EU and US DST changes
    as_of = start + timedelta(days=15)
    rows = []
    for n, (region, severity, opened, delay) in enumerate(cases):
        at = start + timedelta(minutes=opened)
        responded = None if delay is None else (at + timedelta(minutes=delay)).isoformat()
        rows.append(
            {"case_id": str(n), "customer_id": "C1", "region": region, "opened_at": at.isoformat()}
            | {"first_response_at": responded, "impact": "Large", "urgency": "Low", "severity": severity}
            | {"closed_at": None}
        )
    prepared, _ = prepare_cases(pd.DataFrame(rows))
    cases_in, _ = select_cases(prepared, as_of, (date(2026, 1, 1), date(2026, 12, 31)))
    judged = judge_cases(cases_in, as_of, timedelta(hours=24))
    for row, status in zip(rows, judged["status"].reindex(prepared.index), strict=True):
        opened = datetime.fromisoformat(row["opened_at"])
        if opened > as_of:
            assert pd.isna(status)  # opened after as_of: out of scope
            continue
        responded = None if row["first_response_at"] is None else datetime.fromisoformat(row["first_response_at"])
        assert status == response_status(row["severity"], opened, responded, row["region"], as_of)


def test_default_period_is_the_configured_calendar_months() -> None:
    assert default_period(datetime(2026, 11, 27, 5, tzinfo=UTC), 12) == (date(2025, 12, 1), date(2026, 11, 27))
    assert default_period(datetime(2026, 1, 31, tzinfo=UTC), 1) == (date(2026, 1, 1), date(2026, 1, 31))
    assert default_period(datetime(2026, 3, 1, tzinfo=UTC), 3) == (date(2026, 1, 1), date(2026, 3, 1))


def test_case_ids_and_labels_are_stripped_and_blanks_are_missing() -> None:
    raw = pd.DataFrame(
        {
            "case_id": [" A-1 ", None, "", "B-2", 7, "C-3\u00a0", "Ü-4"],
            "region": [" emea", "AMER", "", None, "apjc", "MARS", "AUS"],
            "severity": ["Sev 3", " s4", "", None, "Ernst 2", "S9", "1"],
            "impact": ["Large", "", None, " groot ", "Widespread", "x", "Localized"],
            "affected_share": [None, "0.8", "0.1", None, None, None, None],
            "urgency": ["Low"] * 7,
        },
        dtype=object,
    )
    prepared, missing = prepare_cases(raw)
    assert "opened_at" in missing
    assert prepared["case_id"].tolist() == ["A-1", None, None, "B-2", "7", "C-3", "Ü-4"]
    assert prepared["region"].tolist() == ["emea", "AMER", None, None, "apjc", "MARS", "AUS"]
    assert prepared["region_norm"].astype(object).where(prepared["region_norm"].notna(), None).tolist() == [
        "EMEA",
        "AMER",
        None,
        None,
        "APJC",
        None,
        "AUS",
    ]
    assert prepared["severity_filed"].astype(object).where(prepared["severity_filed"].notna(), None).tolist() == [
        "S3",
        "S4",
        None,
        None,
        "S2",
        None,
        "S1",
    ]
    assert _plain(prepared["impact_norm"]) == [
        "Large",
        "Widespread",
        "Personalized",
        "Large",
        "Widespread",
        None,
        "Localized",
    ]
    assert prepared["severity_matrix"].astype(object).where(prepared["severity_matrix"].notna(), None).tolist() == [
        "S4",
        "S4",
        "S4",
        "S4",
        "S4",
        None,
        "S4",
    ]
    assert prepared["timestamps_format"].unique().tolist() == ["opened_at"]


def _reference_figures(judged: pd.DataFrame) -> dict[str, object]:
    """The aggregates by plain pandas groupby on text columns (the previous implementation)."""
    frame = judged.astype(
        {c: object for c in ("region", "customer_id", "severity", "severity_matrix", "month", "status")}
    )
    level = {f"S{n}": n for n in range(1, 5)}
    filed, matrix = frame["severity"].map(level), frame["severity_matrix"].map(level)
    frame["direction"] = [
        "downgraded" if f > m else "raised" if f < m else "matching" for f, m in zip(filed, matrix, strict=True)
    ]
    out: dict[str, object] = {}
    for by in ("region", "customer_id", "month"):
        table = frame.groupby([by, "severity", "status"]).size().unstack(fill_value=0).sort_index()
        out[f"status_{by}"] = [
            (str(k), str(s), *(int(row.get(status, 0)) for status in ("met", "breached", "pending")))
            for (k, s), row in table.iterrows()
        ]
        directions = frame.groupby([by, "direction"]).size().unstack(fill_value=0)
        out[f"direction_{by}"] = {
            str(k): {d: int(row.get(d, 0)) for d in ("matching", "downgraded", "raised")}
            for k, row in directions.iterrows()
        }
        breached = frame[frame["status"] == "breached"].groupby([by, "severity"]).size().unstack(fill_value=0)
        out[f"breached_{by}"] = {str(k): {str(s): int(n) for s, n in row.items()} for k, row in breached.iterrows()}
    out["pairs"] = [
        {"filed": f, "matrix": m, "cases": int(n)}
        for (f, m), n in frame.groupby(["severity", "severity_matrix"]).size().items()
    ]
    return out


def test_aggregates_agree_with_a_plain_groupby() -> None:
    from di_ops.pipelines.sla.figures import breaches_by, compliance_table, misclassification
    from include.demo.tac_cases import DEMO_END, case_frame

    raw = case_frame(4000, end=DEMO_END, seed=5).astype(object)
    prepared, _ = prepare_cases(raw.where(raw != "", None))
    cases, left_out = select_cases(prepared, DEMO_END, (date(2026, 1, 1), DEMO_END.date()), ["emea", "AMER", "AUS"])
    assert left_out["other_regions"] > 0 and left_out["outside_period"] > 0
    judged = judge_cases(cases, DEMO_END, timedelta(hours=24))
    expected = _reference_figures(judged)
    rows = compliance_table(judged, min_cases=20, judge_by_wilson=True)
    for by, dimension in (("region", "region"), ("customer_id", "customer"), ("month", "month")):
        got = [r for r in rows if r["dimension"] == dimension]
        assert [(r["group_key"], r["severity"], r["met"], r["breached"], r["pending"]) for r in got] == expected[
            f"status_{by}"
        ]
    figures = misclassification(judged)
    assert figures["by_region"] == expected["direction_region"]
    assert figures["by_customer"] == expected["direction_customer_id"]
    assert figures["filed_vs_matrix"] == expected["pairs"]
    assert breaches_by(judged, "region") == expected["breached_region"]
    assert breaches_by(judged, "customer_id") == expected["breached_customer_id"]


def _plain(values: pd.Series) -> list[object]:
    """A column's values with every kind of missing as None (object, Arrow-backed or Categorical alike)."""
    return [None if pd.isna(v) else v for v in values.astype(object)]


def test_an_export_read_with_arrow_prepares_like_the_same_strings_as_objects(tmp_path: Path) -> None:
    from di_ops.pipelines.sla.exports import read_exports
    from di_ops.pipelines.sla.labels import arrow_strings
    from include.demo.tac_cases import DEMO_END, write_exports

    write_exports(tmp_path, cases=3000, end=DEMO_END)
    with (tmp_path / "odd.jsonl").open("w") as fh:  # blanks to strip, Dutch labels, missing values, bad times
        fh.write('{"case_id": " X-1\\u00a0", "region": " emea", "severity": "Ernst 2", "impact": " groot ",')
        fh.write(
            ' "urgency": "Hoog", "opened_at": " 2026-11-02T10:00:00Z", "first_response_at": "2026-11-02T10:00Z"}\n'
        )
        fh.write('{"case_id": "", "region": "MARS", "opened_at": "2026-11-02T10:00:00+0100", "closed_at": "x"}\n')
    raw, _ = read_exports(tmp_path)
    assert arrow_strings(raw["opened_at"]) is not None
    objects = raw.astype(object).where(raw.notna(), None)
    arrow_prepared, arrow_missing = prepare_cases(raw)
    object_prepared, object_missing = prepare_cases(objects)
    assert arrow_missing == object_missing
    assert list(arrow_prepared.columns) == list(object_prepared.columns)
    for column in object_prepared.columns:
        assert _plain(arrow_prepared[column]) == _plain(object_prepared[column]), column
    assert arrow_prepared["case_id"].tolist()[-2] == "X-1"


def test_the_joint_table_and_the_pass_per_dimension_give_the_same_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    from di_ops.pipelines.sla import figures as sla_figures
    from di_ops.pipelines.sla.figures import breaches_by, compliance_table, misclassification
    from include.demo.tac_cases import DEMO_END, case_frame

    raw = case_frame(3000, end=DEMO_END, seed=7).astype(object)
    raw.loc[raw.index[::97], "customer_id"] = None  # missing keys are left out of their dimension only
    prepared, _ = prepare_cases(raw.where(raw != "", None))
    cases, _ = select_cases(prepared, DEMO_END, (date(2026, 1, 1), DEMO_END.date()))
    judged = judge_cases(cases, DEMO_END, timedelta(hours=24))

    def figures() -> list[object]:
        return [
            compliance_table(judged, min_cases=20, judge_by_wilson=True),
            misclassification(judged),
            breaches_by(judged, "region"),
            breaches_by(judged, "customer_id"),
        ]

    joint = figures()
    monkeypatch.setattr(sla_figures, "_MAX_CUBE_CELLS", 0)
    assert figures() == joint
    unknown = judged.assign(severity_matrix=judged["severity_matrix"].cat.set_categories(["S1", "S2", "S3"]))
    for limit in (0, 1 << 22):
        monkeypatch.setattr(sla_figures, "_MAX_CUBE_CELLS", limit)
        with pytest.raises(ValueError, match="known severity"):
            misclassification(unknown)


def test_label_codes_of_arrow_text_put_missing_values_anywhere_out() -> None:
    import pyarrow as pa

    from di_ops.pipelines.sla.labels import label_codes

    text = pd.Series(pd.arrays.ArrowStringArray(pa.array([None, "b", "a", None, "b"], type=pa.string())))
    codes, names = label_codes(text)
    assert names == ["a", "b"] and codes.tolist() == [-1, 1, 0, -1, 1]
    assert label_codes(text.astype(object))[0].tolist() == codes.tolist()
