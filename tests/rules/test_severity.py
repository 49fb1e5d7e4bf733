"""Impact, urgency and the severity matrix (DOMAIN.md §7)."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import ImpactBoundaries
from di_ops.rules.severity import (
    IMPACTS,
    SEVERITIES,
    URGENCIES,
    impact_for_share,
    normalise_impact,
    normalise_severity,
    normalise_urgency,
    severity_for,
)


def below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def above(x: float) -> float:
    return math.nextafter(x, math.inf)


@pytest.mark.parametrize(
    ("share", "impact"),
    [
        (0.0, "Personalized"),
        (0, "Personalized"),
        (0.1, "Personalized"),
        (below(0.25), "Personalized"),
        (0.25, "Localized"),
        (above(0.25), "Localized"),
        (below(0.5), "Localized"),
        (0.5, "Large"),
        (above(0.5), "Large"),
        (0.6, "Large"),
        (below(0.75), "Large"),
        (0.75, "Large"),
        (above(0.75), "Widespread"),
        (0.9, "Widespread"),
        (1.0, "Widespread"),
        (1, "Widespread"),
    ],
)
def test_impact_for_share_on_both_sides_of_each_boundary(share: float, impact: str) -> None:
    assert impact_for_share(share) == impact


@pytest.mark.parametrize(
    "share", [below(0.0), -0.5, above(1.0), 1.5, math.nan, math.inf, -math.inf, "0.5", None, True, False]
)
def test_impact_for_share_rejects_values_outside_the_unit_interval(share: object) -> None:
    with pytest.raises(ValueError, match="share"):
        impact_for_share(share)  # type: ignore[arg-type]


def test_impact_boundaries_come_from_settings_and_can_be_overridden() -> None:
    custom = ImpactBoundaries(widespread_above=0.9, large_from=0.6, localized_from=0.1)
    assert impact_for_share(0.8, boundaries=custom) == "Large"
    assert impact_for_share(0.59, boundaries=custom) == "Localized"
    assert impact_for_share(0.1, boundaries=custom) == "Localized"
    assert impact_for_share(0.09, boundaries=custom) == "Personalized"


MATRIX = {
    ("Critical", "Widespread"): "S1",
    ("Critical", "Large"): "S1",
    ("Critical", "Localized"): "S2",
    ("Critical", "Personalized"): "S3",
    ("High", "Widespread"): "S1",
    ("High", "Large"): "S2",
    ("High", "Localized"): "S2",
    ("High", "Personalized"): "S3",
    ("Medium", "Widespread"): "S2",
    ("Medium", "Large"): "S3",
    ("Medium", "Localized"): "S3",
    ("Medium", "Personalized"): "S3",
    ("Low", "Widespread"): "S4",
    ("Low", "Large"): "S4",
    ("Low", "Localized"): "S4",
    ("Low", "Personalized"): "S4",
}
DUTCH_IMPACT = {
    "Widespread": "Wijdverbreid",
    "Large": "Groot",
    "Localized": "Gelokaliseerd",
    "Personalized": "Gepersonaliseerd",
}
DUTCH_URGENCY = {"Critical": "Kritiek", "High": "Hoog", "Medium": "Gemiddeld", "Low": "Laag"}


@pytest.mark.parametrize(("urgency", "impact", "expected"), [(u, i, s) for (u, i), s in MATRIX.items()])
def test_every_cell_of_the_matrix(urgency: str, impact: str, expected: str) -> None:
    assert severity_for(impact, urgency) == expected
    assert severity_for(impact.upper(), urgency.lower()) == expected
    assert severity_for(f"  {impact.lower()} ", f" {urgency.upper()}  ") == expected


@pytest.mark.parametrize(("urgency", "impact", "expected"), [(u, i, s) for (u, i), s in MATRIX.items()])
def test_every_cell_with_the_dutch_labels(urgency: str, impact: str, expected: str) -> None:
    assert severity_for(DUTCH_IMPACT[impact], DUTCH_URGENCY[urgency]) == expected
    assert severity_for(DUTCH_IMPACT[impact].lower(), urgency) == expected
    assert severity_for(impact, DUTCH_URGENCY[urgency].upper()) == expected


@pytest.mark.parametrize(
    ("label", "name"), [*((dutch, name) for name, dutch in DUTCH_IMPACT.items()), ("localised", "Localized")]
)
def test_normalise_impact(label: str, name: str) -> None:
    assert normalise_impact(name) == name
    assert normalise_impact(label.upper()) == name


@pytest.mark.parametrize(("name", "label"), DUTCH_URGENCY.items())
def test_normalise_urgency(name: str, label: str) -> None:
    assert normalise_urgency(label) == name
    assert normalise_urgency(name.lower()) == name


@pytest.mark.parametrize("bad", ["Huge", "", "Critical", None, 3])
def test_unknown_impact_names_the_value_and_the_accepted_ones(bad: object) -> None:
    with pytest.raises(ValueError) as info:
        severity_for(bad, "High")  # type: ignore[arg-type]
    message = str(info.value)
    assert repr(bad) in message
    for name in (*IMPACTS, *DUTCH_IMPACT.values()):
        assert name in message


@pytest.mark.parametrize("bad", ["Urgent", "", "Large", None])
def test_unknown_urgency_names_the_value_and_the_accepted_ones(bad: object) -> None:
    with pytest.raises(ValueError) as info:
        severity_for("Large", bad)  # type: ignore[arg-type]
    message = str(info.value)
    assert repr(bad) in message
    for name in (*URGENCIES, *DUTCH_URGENCY.values()):
        assert name in message


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("S1", "S1"),
        ("s2", "S2"),
        ("3", "S3"),
        (" S4 ", "S4"),
        ("Sev 1", "S1"),
        ("sev-2", "S2"),
        ("SEVERITY 3", "S3"),
        ("Ernst 4", "S4"),
        ("ernst2", "S2"),
        ("S 1", "S1"),
    ],
)
def test_normalise_severity(label: str, severity: str) -> None:
    assert normalise_severity(label) == severity


@pytest.mark.parametrize("bad", ["S0", "S5", "0", "5", "", "SS1", "P1", "S1x", None, 1])
def test_normalise_severity_rejects_unknown_labels(bad: object) -> None:
    with pytest.raises(ValueError, match="unknown severity") as info:
        normalise_severity(bad)  # type: ignore[arg-type]
    assert all(name in str(info.value) for name in SEVERITIES)


IMPACT_ORDER = {name: rank for rank, name in enumerate(IMPACTS)}  # 0 = widest
URGENCY_ORDER = {name: rank for rank, name in enumerate(URGENCIES)}  # 0 = most urgent


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
@example(0.25, below(0.25))
@example(0.75, above(0.75))
@example(0.5, below(0.5))
def test_a_larger_share_never_gives_a_narrower_impact(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert IMPACT_ORDER[impact_for_share(high)] <= IMPACT_ORDER[impact_for_share(low)]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(IMPACTS), st.sampled_from(IMPACTS), st.sampled_from(URGENCIES), st.sampled_from(URGENCIES))
def test_wider_or_more_urgent_never_gives_a_milder_severity(i1: str, i2: str, u1: str, u2: str) -> None:
    wide, narrow = sorted((i1, i2), key=IMPACT_ORDER.__getitem__)
    urgent, calm = sorted((u1, u2), key=URGENCY_ORDER.__getitem__)
    assert severity_for(wide, urgent) <= severity_for(narrow, calm)  # "S1" < "S2" < …
