"""Capacity verdicts (DOMAIN.md §8): both sides of 90 % and 100 %, expansions, not declared, properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from di_ops.rules.capacity import (
    MEASURES,
    Expansion,
    MeasureFigure,
    customer_verdict,
    is_new_breach,
    judge_customer,
    judge_measure,
    latest_expansion,
)

AS_OF = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def expansion(devices: int | None = None, workers: int | None = None, *, at: datetime = AS_OF, ref: str = "CHG-1"):  # type: ignore[no-untyped-def]
    return Expansion(
        customer_id="C1",
        knowledge_workers=workers,
        workspace_devices=devices,
        approved_by="Ann",
        approved_at=at,
        change_reference=ref,
    )


@pytest.mark.parametrize(
    ("configured", "declared", "verdict"),
    [
        (0, 100, "within"),
        (89, 100, "within"),
        (90, 100, "within"),  # exactly 90 %: not above it
        (91, 100, "warning"),  # just above 90 %
        (99, 100, "warning"),
        (100, 100, "warning"),  # exactly 100 %: not above it
        (101, 100, "breach"),  # just above 100 %
        (9, 10, "within"),  # 90 % exactly, small numbers (no float rounding)
        (10, 10, "warning"),
        (11, 10, "breach"),
        (900, 1000, "within"),
        (901, 1000, "warning"),
        (1000, 1000, "warning"),
        (1001, 1000, "breach"),
        (95, 100, "warning"),  # the demo's C009
        (104, 100, "breach"),  # the demo's C010
        (0, 0, "within"),  # nothing declared, nothing configured
        (1, 0, "breach"),  # nothing allowed, one configured
    ],
)
def test_verdict_on_both_sides_of_each_boundary(configured: int, declared: int, verdict: str) -> None:
    for measure in MEASURES:
        assert judge_measure(measure, configured, declared).verdict == verdict


@pytest.mark.parametrize(
    ("configured", "verdict"),
    [(80, "within"), (81, "warning"), (100, "warning"), (101, "breach")],  # warning_percent 80 of 100
)
def test_the_warning_percent_is_a_setting(configured: int, verdict: str) -> None:
    figure = judge_measure("workspace_devices", configured, 100, warning_percent=Decimal(80))
    assert figure.verdict == verdict


def test_a_fractional_warning_percent_is_exact() -> None:
    # 90.5 % of 200 is exactly 181
    assert judge_measure("knowledge_workers", 181, 200, warning_percent=Decimal("90.5")).verdict == "within"
    assert judge_measure("knowledge_workers", 182, 200, warning_percent=Decimal("90.5")).verdict == "warning"


@pytest.mark.parametrize(
    ("configured", "raised_to", "verdict"),
    [
        (104, 120, "within"),  # 104 / 120 = 86.7 %
        (108, 120, "within"),  # exactly 90 % of the raised number
        (109, 120, "warning"),
        (120, 120, "warning"),  # exactly 100 % of the raised number
        (121, 120, "breach"),  # above even the expansion
        (104, 90, "breach"),  # an expansion never lowers the declared number (100)
    ],
)
def test_an_approved_expansion_raises_the_allowed_number(configured: int, raised_to: int, verdict: str) -> None:
    figure = judge_measure("workspace_devices", configured, 100, expansion(devices=raised_to))
    assert figure.verdict == verdict
    assert figure.allowed == max(100, raised_to)
    assert figure.expansion == ("CHG-1" if raised_to > 100 else None)
    assert ("raised by approved expansion CHG-1" in figure.reason) is (raised_to > 100)


def test_an_expansion_counts_from_its_approval_instant_and_the_latest_wins() -> None:
    just_after = expansion(devices=150, at=AS_OF + timedelta(microseconds=1), ref="LATER")
    at_as_of = expansion(devices=120, at=AS_OF, ref="AT")
    earlier = expansion(devices=200, at=AS_OF - timedelta(days=30), ref="OLD")
    other_measure = expansion(workers=500, at=AS_OF, ref="WORKERS")
    chosen = latest_expansion([just_after, at_as_of, earlier, other_measure], "C1", "workspace_devices", AS_OF)
    assert chosen is not None and chosen.change_reference == "AT"
    assert latest_expansion([just_after], "C1", "workspace_devices", AS_OF) is None
    assert latest_expansion([at_as_of], "C2", "workspace_devices", AS_OF) is None
    result = judge_customer(
        "C1",
        {"knowledge_workers": 400, "workspace_devices": 100},
        {"knowledge_workers": 450, "workspace_devices": 104},
        [just_after],
        AS_OF,
    )
    assert result.figure("workspace_devices").verdict == "breach"  # approved only after as_of


def test_undeclared_measures_are_not_judged_and_missing_counts_are_not_measured() -> None:
    none = judge_customer("C1", {}, {"knowledge_workers": 5, "workspace_devices": 5}, [], AS_OF)
    assert none.verdict == "not_declared"
    assert all(f.verdict == "not_declared" and f.allowed is None for f in none.figures)
    assert "not judged" in none.figures[0].reason
    half = judge_customer(
        "C1", {"workspace_devices": 10}, {"knowledge_workers": 999, "workspace_devices": 10}, [], AS_OF
    )
    assert half.verdict == "warning"  # judged on the declared measure only
    assert half.figure("knowledge_workers").verdict == "not_declared"
    unmeasured = judge_customer("C1", {"knowledge_workers": 4, "workspace_devices": 10}, None, [], AS_OF)
    assert unmeasured.verdict == "not_measured"
    assert unmeasured.figure("workspace_devices").allowed == 10


@pytest.mark.parametrize(
    ("verdicts", "worst"),
    [
        (("within", "within"), "within"),
        (("within", "warning"), "warning"),
        (("breach", "warning"), "breach"),
        (("not_declared", "breach"), "breach"),
        (("not_declared", "not_declared"), "not_declared"),
        (("not_measured", "not_declared"), "not_measured"),
        (("not_measured", "within"), "within"),
    ],
)
def test_the_customer_verdict_is_the_worst_judged_one(verdicts: tuple[str, str], worst: str) -> None:
    figures = [
        MeasureFigure(
            measure=m,
            configured=None,
            declared=None,
            allowed=None,
            expansion=None,
            percent=None,
            verdict=v,  # type: ignore[arg-type]
            reason="",
        )
        for m, v in zip(MEASURES, verdicts, strict=True)
    ]
    assert customer_verdict(figures) == worst


@pytest.mark.parametrize(
    ("previous", "current", "alert"),
    [
        (None, "breach", True),
        ("within", "breach", True),
        ("warning", "breach", True),
        ("not_declared", "breach", True),
        ("breach", "breach", False),  # still in breach: no second alert
        ("breach", "warning", False),
        (None, "warning", False),
        ("within", "within", False),
    ],
)
def test_one_alert_per_entry_into_breach(previous: str | None, current: str, alert: bool) -> None:
    assert is_new_breach(previous, current) is alert  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [Decimal(0), Decimal(100), Decimal(-5), Decimal(150)])
def test_a_warning_percent_outside_0_100_is_refused(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="warning_percent"):
        judge_measure("workspace_devices", 1, 10, warning_percent=bad)


def test_negative_numbers_and_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        judge_measure("workspace_devices", -1, 10)
    with pytest.raises(ValueError, match="negative"):
        judge_measure("knowledge_workers", 1, -10)
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_expansion([], "C1", "workspace_devices", AS_OF.replace(tzinfo=None))


RANK = {"within": 0, "warning": 1, "breach": 2}


@given(
    declared=st.integers(min_value=0, max_value=10**6),
    configured=st.integers(min_value=0, max_value=2 * 10**6),
    more=st.integers(min_value=0, max_value=10**5),
)
@example(declared=10, configured=9, more=1)
@example(declared=100, configured=100, more=1)
def test_more_configured_never_gives_a_milder_verdict(declared: int, configured: int, more: int) -> None:
    lower = judge_measure("workspace_devices", configured, declared)
    higher = judge_measure("workspace_devices", configured + more, declared)
    assert RANK[higher.verdict] >= RANK[lower.verdict]


@given(
    declared=st.integers(min_value=1, max_value=10**6),
    configured=st.integers(min_value=0, max_value=2 * 10**6),
    extra=st.integers(min_value=0, max_value=10**6),
)
def test_an_expansion_never_gives_a_harsher_verdict(declared: int, configured: int, extra: int) -> None:
    plain = judge_measure("knowledge_workers", configured, declared)
    expanded = judge_measure("knowledge_workers", configured, declared, expansion(workers=declared + extra))
    assert RANK[expanded.verdict] <= RANK[plain.verdict]
    assert (plain.verdict == "breach") is (configured > declared)
