"""The vectorised SLA forms agree with the scalar ones (DOMAIN.md §7, bulk forms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import Objective, policy
from di_ops.rules.sla import response_due, response_status
from di_ops.rules.sla_bulk import (
    STATUS_NAMES,
    response_due_and_status_ns,
    response_due_bulk,
    response_status_bulk,
)
from tests.rules.test_sla import GOLDEN, TRANSITIONS, US, instants, local

Case = tuple[str, str, datetime, datetime | None]  # severity label, region label, opened_at, first_response_at
SEVERITY_LABELS = ["S1", "s2", "3", "Sev 4", "S3", "Ernst 4"]
REGION_LABELS = ["AMER", "apjc", "AUS", "emea", " EMEA "]


def frame(cases: list[Case]) -> Any:
    return pd.DataFrame(
        {
            "severity": [c[0] for c in cases],
            "opened_at": pd.Series([c[2] for c in cases], dtype="datetime64[us, UTC]"),
            "first_response_at": pd.Series([c[3] for c in cases], dtype="datetime64[us, UTC]"),
            "region": [c[1] for c in cases],
        }
    )


def assert_agrees(cases: list[Case], as_of: datetime) -> None:
    data = frame(cases)
    due = response_due_bulk(data)
    status = response_status_bulk(data, as_of)
    assert str(due.dtype) == "datetime64[ns, UTC]"
    for row, (severity, region, opened, response) in enumerate(cases):
        assert due.iloc[row].to_pydatetime() == response_due(severity, opened, region)
        assert status.iloc[row] == response_status(severity, opened, response, region, as_of)


@st.composite
def cases(draw: st.DrawFn) -> list[Case]:
    result: list[Case] = []
    for _ in range(draw(st.integers(0, 25))):
        opened = draw(instants)
        wait = draw(st.none() | st.integers(0, 6 * 86_400 * 10**6))
        response = None if wait is None else opened + timedelta(microseconds=wait)
        result.append((draw(st.sampled_from(SEVERITY_LABELS)), draw(st.sampled_from(REGION_LABELS)), opened, response))
    return result


@settings(max_examples=200, deadline=None)
@given(cases(), instants)
@example([("S3", "EMEA", datetime(2025, 3, 28, 14, tzinfo=UTC), datetime(2025, 3, 31, 13, tzinfo=UTC))], TRANSITIONS[2])
@example([("S2", "AMER", datetime(2025, 11, 2, 5, 50, tzinfo=UTC), None)], datetime(2025, 11, 2, 6, 20, tzinfo=UTC))
def test_bulk_agrees_with_scalar_on_random_cases(data: list[Case], as_of: datetime) -> None:
    assert_agrees(data, as_of)


def test_bulk_agrees_on_the_golden_dst_table() -> None:
    data: list[Case] = []
    for region, severity, opened, fold_o, due, fold_d in GOLDEN:
        opened_at = local(region, *opened, fold=fold_o)
        due_at = local(region, *due, fold=fold_d).astimezone(UTC)  # + US on a fold=1 wall time drops the fold
        data += [(severity, region, opened_at, due_at), (severity, region, opened_at, due_at + US)]
    assert_agrees(data, datetime(2026, 1, 1, tzinfo=UTC))
    status = response_status_bulk(frame(data), datetime(2026, 1, 1, tzinfo=UTC))
    assert status.tolist() == ["met", "breached"] * len(GOLDEN)


def test_index_is_kept_and_empty_frames_work() -> None:
    data = frame([("S1", "EMEA", datetime(2025, 1, 1, tzinfo=UTC), None)])
    data.index = pd.Index(["case-7"])
    assert response_status_bulk(data, datetime(2025, 1, 1, tzinfo=UTC)).to_dict() == {"case-7": "pending"}
    assert response_due_bulk(data).index.tolist() == ["case-7"]
    empty = frame([])
    assert response_status_bulk(empty, datetime(2025, 1, 1, tzinfo=UTC)).tolist() == []
    assert len(response_due_bulk(empty)) == 0


def test_object_columns_of_aware_datetimes_and_other_zones() -> None:
    opened = datetime(2025, 3, 28, 15, tzinfo=UTC)
    data = pd.DataFrame(
        {
            "severity": ["S3", "S4"],
            "opened_at": pd.Series([opened, opened], dtype=object),
            "first_response_at": pd.Series([None, None], dtype=object),
            "region": ["EMEA", "AMER"],
        }
    )
    due = response_due_bulk(data)
    assert due.tolist() == [response_due("S3", opened, "EMEA"), response_due("S4", opened, "AMER")]
    data["opened_at"] = data["opened_at"].astype("datetime64[ns, UTC]").dt.tz_convert("Asia/Tokyo")
    assert response_due_bulk(data).tolist() == due.tolist()


def test_policy_override_agrees() -> None:
    what_if = policy().sla.model_copy(update={"objectives": {**policy().sla.objectives, "S4": Objective(minutes=90)}})
    opened = datetime(2025, 1, 3, 12, tzinfo=UTC)
    data = frame([("S4", "APJC", opened, None)])
    assert response_due_bulk(data, policy=what_if).tolist() == [response_due("S4", opened, "APJC", policy=what_if)]


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("opened_at", pd.Series([datetime(2025, 1, 1)], dtype="datetime64[ns]"), "timezone-aware"),
        ("opened_at", pd.Series([datetime(2025, 1, 1)], dtype=object), "must be timezone-aware"),
        ("opened_at", pd.Series([None], dtype="datetime64[ns, UTC]"), "opened_at is missing in row 0"),
        ("first_response_at", pd.Series([datetime(2024, 12, 31, tzinfo=UTC)]), "before opened_at in row 0"),
        ("severity", ["S9"], "unknown severity"),
        ("region", ["MARS"], "unknown region"),
    ],
)
def test_bad_frames_raise_value_error(column: str, values: Any, message: str) -> None:
    data = frame([("S1", "EMEA", datetime(2025, 1, 1, tzinfo=UTC), None)])
    data[column] = values
    with pytest.raises(ValueError, match=message):
        response_status_bulk(data, datetime(2025, 2, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="as_of"):
        response_status_bulk(frame([]), datetime(2025, 2, 1))


def test_many_rows_agree() -> None:
    rng = np.random.default_rng(11)
    n = 1500
    base = np.array([int(t.timestamp() * 10**6) for t in TRANSITIONS])
    opened_us = rng.choice(base, n) + rng.integers(-5 * 86_400 * 10**6, 5 * 86_400 * 10**6, n)
    wait_us = rng.integers(0, 5 * 86_400 * 10**6, n)
    opened = [datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us)) for us in opened_us]
    data: list[Case] = [
        (
            str(rng.choice(SEVERITY_LABELS)),
            str(rng.choice(REGION_LABELS)),
            opened[i],
            None if i % 5 == 0 else opened[i] + timedelta(microseconds=int(wait_us[i])),
        )
        for i in range(n)
    ]
    assert_agrees(data, TRANSITIONS[3])


@settings(max_examples=100, deadline=None)
@given(cases(), instants)
def test_due_and_status_at_once_agree_with_scalar_also_from_categoricals(data: list[Case], as_of: datetime) -> None:
    plain = frame(data)
    labelled = plain.assign(severity=plain["severity"].astype("category"), region=plain["region"].astype("category"))
    for form in (plain, labelled):
        due, code = response_due_and_status_ns(form, as_of)
        assert due.dtype == np.int64 and code.dtype == np.int8
        for row, (severity, region, opened, response) in enumerate(data):
            assert due[row] == pd.Timestamp(response_due(severity, opened, region)).as_unit("ns").value
            assert STATUS_NAMES[code[row]] == response_status(severity, opened, response, region, as_of)
    assert response_status_bulk(labelled, as_of).tolist() == response_status_bulk(plain, as_of).tolist()


def test_categorical_labels_only_normalise_the_categories_in_use() -> None:
    data = frame([("S3", "EMEA", datetime(2025, 1, 3, 15, tzinfo=UTC), None)])
    data["severity"] = pd.Categorical(["S3"], categories=["S3", "S9"])  # S9 unused: not an error
    data["region"] = pd.Categorical(["EMEA"], categories=["EMEA", "MARS"])
    assert response_due_bulk(data).tolist() == [response_due("S3", datetime(2025, 1, 3, 15, tzinfo=UTC), "EMEA")]
    data["severity"] = pd.Categorical([None], categories=["S3"])  # a missing severity is still an error
    with pytest.raises(ValueError, match="unknown severity"):
        response_due_bulk(data)
