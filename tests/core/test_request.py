"""core.request: what every task checks about the run's request before it works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from di_ops.core.refusals import Refusal
from di_ops.core.request import (
    future_as_of_refusal,
    unknown_customers_refusal,
    unknown_keys,
    unknown_keys_refusal,
)

SLA_PARAMS = ["as_of", "customers", "export_path", "period_end", "period_start", "regions"]
START = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def test_a_misspelled_key_is_refused_naming_the_closest_param() -> None:
    refusal = unknown_keys_refusal("sla_audit", {"regoins": ["EMEA"]}, SLA_PARAMS)
    assert isinstance(refusal, Refusal) and refusal.param == "regoins"
    assert "no Param 'regoins' (did you mean 'regions'?)" in str(refusal)
    assert "its Params are as_of, customers" in str(refusal)


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({}, []),
        ({"regions": [], "as_of": None}, []),
        ({"Regions": []}, [("Regions", "regions")]),
        ({"zzz": 1}, [("zzz", None)]),  # nothing close: no guess
        ({"customer": ["C1"], "asof": "x"}, [("asof", "as_of"), ("customer", "customers")]),
    ],
)
def test_unknown_keys(conf: dict[str, object], expected: list[tuple[str, str | None]]) -> None:
    assert unknown_keys(conf, SLA_PARAMS) == expected


@pytest.mark.parametrize(
    ("as_of", "dry_run", "refused"),
    [
        (None, False, False),
        ("", False, False),
        ((START + SKEW).isoformat(), False, False),  # just inside the clock-skew allowance
        ((START + SKEW + timedelta(seconds=1)).isoformat(), False, True),  # just outside
        ((START + timedelta(days=57)).isoformat(), False, True),
        ((START + timedelta(days=57)).isoformat(), True, False),  # a dry run may look ahead
        ((START - timedelta(days=400)).isoformat(), False, False),  # the past is allowed
        ("2026-12-06T02:30:00", False, True),  # no zone: refused, not guessed
    ],
)
def test_a_future_as_of_is_refused_on_a_run_that_changes_anything(
    as_of: str | None, dry_run: bool, refused: bool
) -> None:
    refusal = future_as_of_refusal(as_of, START, dry_run=dry_run, skew=SKEW)
    assert (refusal is not None) is refused
    if refusal is not None:
        assert refusal.param == "as_of" and str(refusal).startswith("Param as_of")


def test_unknown_customers_are_named_with_their_closest_known_id() -> None:
    refusal = unknown_customers_refusal(["C001", "C0O2", "X9"], ["C001", "C002", "C003"], "inventory snapshot S1")
    assert refusal is not None and refusal.param == "customers"
    assert str(refusal) == "Param customers: 'C0O2' (did you mean 'C002'?), 'X9' not in inventory snapshot S1"
    assert unknown_customers_refusal(["C001"], ["C001"], "x") is None
    assert unknown_customers_refusal(None, [], "x") is None


def test_a_long_list_of_unknown_customers_is_cut_and_says_how_many_more() -> None:
    refusal = unknown_customers_refusal([f"Z{n:03d}" for n in range(25)], ["C001"], "the store")
    assert refusal is not None and str(refusal).endswith("and 5 more not in the store")


@pytest.mark.parametrize(
    ("as_of", "dry_run", "note"),
    [
        ((START + timedelta(days=57, hours=3)).isoformat(), True, "57 days 3 h after the run's start"),
        ((START + timedelta(days=57)).isoformat(), False, None),  # a real run is refused instead
        ((START + SKEW).isoformat(), True, None),  # within the allowance: no look-ahead
        (None, True, None),
    ],
)
def test_a_dry_run_that_looks_ahead_says_so(as_of: str | None, dry_run: bool, note: str | None) -> None:
    from di_ops.core.request import look_ahead_note

    said = look_ahead_note(as_of, START, dry_run=dry_run, skew=SKEW)
    assert (said is None) is (note is None)
    if note:
        assert said is not None and note in said and said.endswith("nothing changed")


@pytest.mark.parametrize("text", ["1600-01-01T00:00:00Z", "2026-11-27T02:30:00", "27/11/2026"])
def test_resolve_as_of_refuses_what_the_rule_refuses_in_every_pipeline(text: str) -> None:
    """An as_of the trigger form lets through (a year outside 1700-2200 is valid RFC 3339) is still a
    refusal naming the Param, not a ValueError that would be retried and page on-call."""
    from di_ops.core.tasks import resolve_as_of

    with pytest.raises(Refusal, match=r"^Param as_of ") as caught:
        resolve_as_of(text, None, START)
    assert caught.value.param == "as_of"
    assert resolve_as_of(None, None, START) == START
