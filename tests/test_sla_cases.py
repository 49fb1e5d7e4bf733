"""di_ops.sla_cases: the frame forms agree with the scalar rules they apply."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from di_ops.rules.severity import impact_for_share, severity_for
from di_ops.rules.sla import response_status
from di_ops.sla_cases import default_period, judge_cases, prepare_cases, select_cases

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
