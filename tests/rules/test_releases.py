"""Release trains and upgrade eligibility: DOMAIN.md §6 (Table 5)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import ReleasePolicy, release_catalog
from di_ops.rules.releases import (
    ACCEPTED_FORMS,
    Eligibility,
    ReleaseCatalog,
    announce_release,
    assess,
    parse_version,
    train_positions,
)

CATALOG = release_catalog()
NEW_CATALOG = announce_release(CATALOG, "16.0", "v16.0", date(2026, 3, 1), ["SU1"])


def _key(label: str) -> tuple[tuple[int, ...], tuple[int, str]]:
    """Version order written independently of the module: cycle numbers, then SU number and letter."""
    cycle, su = parse_version(label)
    match = re.fullmatch(r"SU(\d+)([a-z]?)", su or "SU0")
    assert match is not None
    return tuple(int(part) for part in cycle.split(".")), (int(match[1]), match[2])


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("15.0 SU2", ("15.0", "SU2")),
        ("v15.0-SU2", ("15.0", "SU2")),
        ("V15.0_SU2", ("15.0", "SU2")),
        ("15.0.SU2", ("15.0", "SU2")),
        ("15.0SU2", ("15.0", "SU2")),
        ("  15.0 SU2  ", ("15.0", "SU2")),
        ("14.0 su3", ("14.0", "SU3")),
        ("12.5 SU7a", ("12.5", "SU7a")),
        ("12.5 SU7A", ("12.5", "SU7a")),
        ("12.5(1)SU7a", ("12.5", "SU7a")),
        ("v15 SU2", ("15.0", "SU2")),
        ("15.0 SU02", ("15.0", "SU2")),
        ("15.0", ("15.0", None)),
        ("15.0(1)", ("15.0", None)),
        ("v15", ("15.0", None)),
    ],
)
def test_parse_version_accepts_every_documented_form(version: str, expected: tuple[str, str | None]) -> None:
    assert parse_version(version) == expected


@pytest.mark.parametrize(
    "version",
    ["", "   ", "abc", "15.0 SU", "SU2", "15.0.1.12900-234", "15.0(2)SU1", "X14.3", "15.0 SU2 ES", "15,0 SU2"],
)
def test_parse_version_refuses_the_rest_naming_the_value_and_the_forms(version: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_version(version)
    assert repr(version) in str(info.value)
    assert ACCEPTED_FORMS in str(info.value)


def test_parse_version_refuses_a_non_string() -> None:
    with pytest.raises(ValueError, match="cannot read"):
        parse_version(15.0)  # type: ignore[arg-type]


def test_positions_follow_release_dates() -> None:
    assert train_positions(CATALOG) == {"15.0": "n", "14.0": "n-1", "12.5": "n-2"}
    assert train_positions() == train_positions(CATALOG)


@pytest.mark.parametrize(
    ("version", "train", "may_stay", "target"),
    [
        ("15.0 SU2", "n", True, None),
        ("15.0 SU1", "n", True, None),
        ("v15.0-SU1", "n", True, None),
        ("14.0 SU3", "n-1", False, "15.0 SU2"),
        ("14.0 su4", "n-1", False, "15.0 SU2"),
        ("12.5 SU7a", "n-2", False, "15.0 SU2"),
        ("12.5(1)SU7a", "n-2", False, "15.0 SU2"),
        # unlisted SUs of listed trains (DOMAIN §6: unsupported)
        ("15.0", "unsupported", False, "15.0 SU2"),
        ("14.0 SU2", "unsupported", False, "15.0 SU2"),
        ("14.0 SU5", "unsupported", False, "15.0 SU2"),
        ("12.5 SU7", "unsupported", False, "15.0 SU2"),
        ("12.5 SU8", "unsupported", False, "15.0 SU2"),
        # cycles the catalog does not list
        ("11.5 SU9", "unsupported", False, "15.0 SU2"),
        ("10.5 SU2", "unsupported", False, "15.0 SU2"),
        ("14.5 SU1", "unsupported", False, "15.0 SU2"),
        # newer than n: unknown, never a (down)grade target
        ("15.0 SU3", "unknown", True, None),
        ("15.0 SU2a", "unknown", True, None),
        ("15.5 SU1", "unknown", True, None),
        ("16.0", "unknown", True, None),
    ],
)
def test_assess_places_each_version_on_its_train(version: str, train: str, may_stay: bool, target: str | None) -> None:
    result = assess(version)
    assert (result.train, result.may_stay, result.upgrade_target) == (train, may_stay, target)
    assert result.reasons and all(result.reasons)
    assert result.release == " ".join(filter(None, parse_version(version)))


@pytest.mark.parametrize("application", ["CUCM", "cucm", "IMP", "CUCxN", "CER", "SME", " sme "])
def test_every_catalog_application_is_assessed(application: str) -> None:
    assert assess("14.0 SU4", application=application).train == "n-1"


@pytest.mark.parametrize(("application", "version"), [("Expressway", "X14.3"), ("Expressway", ""), ("Webex", "45.1")])
def test_an_application_outside_the_catalog_is_not_assessed(application: str, version: str) -> None:
    result = assess(version, application=application)
    assert result == Eligibility(
        train="not assessed", release=None, may_stay=True, upgrade_target=None, reasons=result.reasons
    )
    assert application in result.reasons[0] and "not assessed" in result.reasons[0]


def test_an_unparseable_catalog_version_raises() -> None:
    with pytest.raises(ValueError, match="X14.3"):
        assess("X14.3")


# --- nearing EOL: 12.5 eol 2026-12-31, 14.0 eol 2027-05-01, 180 days ----------------------

EOL_12_5 = datetime(2026, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("as_of", "eol_reason"),
    [
        (EOL_12_5 - timedelta(days=180), "nearing EOL"),  # exactly 180 days: inside
        (EOL_12_5 - timedelta(days=180, seconds=1), None),  # one second outside
        (EOL_12_5 - timedelta(seconds=1), "nearing EOL"),
        (EOL_12_5, "past its end-of-life"),
        (EOL_12_5 + timedelta(days=400), "past its end-of-life"),
    ],
)
def test_nearing_eol_boundaries(as_of: datetime, eol_reason: str | None) -> None:
    result = assess("12.5 SU7a", as_of=as_of)
    assert (result.may_stay, result.upgrade_target) == (False, "15.0 SU2")
    found = [r for r in result.reasons if "EOL" in r or "end-of-life" in r]
    if eol_reason is None:
        assert found == []
    else:
        assert len(found) == 1 and eol_reason in found[0]


def test_eol_boundary_is_elapsed_time_whatever_the_zone_of_as_of() -> None:
    tokyo = (EOL_12_5 - timedelta(days=180)).astimezone(ZoneInfo("Asia/Tokyo"))
    assert any("nearing EOL" in r for r in assess("12.5 SU7a", as_of=tokyo).reasons)


def test_the_horizon_is_a_setting() -> None:
    as_of = EOL_12_5 - timedelta(days=200)
    assert not any("EOL" in r for r in assess("12.5 SU7a", as_of=as_of).reasons)
    assert any("EOL" in r for r in assess("12.5 SU7a", as_of=as_of, policy=ReleasePolicy(nearing_eol_days=200)).reasons)


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess("15.0 SU2", as_of=datetime(2026, 1, 1))


def _with_n_eol(eol: date) -> ReleaseCatalog:
    releases = tuple(r.model_copy(update={"eol": eol}) if r.release_cycle == "15.0" else r for r in CATALOG.releases)
    return CATALOG.model_copy(update={"releases": releases})


@pytest.mark.parametrize(
    ("version", "target", "note"),
    [
        ("15.0 SU1", "15.0 SU2", "upgrade to 15.0 SU2"),
        ("15.0 SU2", None, "no newer release in the catalog"),
    ],
)
def test_n_nearing_eol_may_not_stay(version: str, target: str | None, note: str) -> None:
    catalog = _with_n_eol(date(2027, 1, 1))
    result = assess(version, catalog=catalog, as_of=datetime(2026, 12, 1, tzinfo=UTC))
    assert (result.train, result.may_stay, result.upgrade_target) == ("n", False, target)
    assert any("nearing EOL" in r for r in result.reasons) and note in result.reasons[-1]
    assert assess(version, catalog=catalog, as_of=datetime(2026, 1, 1, tzinfo=UTC)).may_stay


def test_unknown_and_unlisted_cycles_ignore_eol() -> None:
    as_of = EOL_12_5
    assert assess("15.0 SU3", catalog=_with_n_eol(date(2026, 1, 1)), as_of=as_of).may_stay
    assert assess("11.5 SU1", as_of=as_of).reasons[-1] == "upgrade to 15.0 SU2"


# --- announcing a release ------------------------------------------------------------------


def test_announce_release_shifts_the_train() -> None:
    assert train_positions(NEW_CATALOG) == {"16.0": "n", "15.0": "n-1", "14.0": "n-2", "12.5": "unsupported"}
    assert train_positions(CATALOG)["15.0"] == "n"  # the original catalog is untouched


@pytest.mark.parametrize(
    ("version", "train", "may_stay", "target"),
    [
        ("16.0 SU1", "n", True, None),
        ("15.0 SU2", "n-1", False, "16.0 SU1"),
        ("14.0 SU4", "n-2", False, "16.0 SU1"),
        ("12.5 SU7a", "unsupported", False, "16.0 SU1"),
        ("16.0 SU2", "unknown", True, None),
    ],
)
def test_after_an_announcement(version: str, train: str, may_stay: bool, target: str | None) -> None:
    result = assess(version, catalog=NEW_CATALOG)
    assert (result.train, result.may_stay, result.upgrade_target) == (train, may_stay, target)


def test_the_leaving_train_enters_end_of_sale() -> None:
    catalog = CATALOG.model_copy(
        update={"releases": tuple(r.model_copy(update={"eoas": None}) for r in CATALOG.releases)}
    )
    shifted = {
        r.release_cycle: r.eoas for r in announce_release(catalog, "16.0", "v16", date(2026, 3, 1), ["SU1"]).releases
    }
    assert shifted == {"16.0": None, "15.0": None, "14.0": None, "12.5": date(2026, 3, 1)}
    kept = {r.release_cycle: r.eoas for r in NEW_CATALOG.releases}
    assert kept["12.5"] == date(2022, 8, 1)  # an existing end-of-sale date is kept


def test_announce_release_normalises_sus_and_picks_latest() -> None:
    catalog = announce_release(CATALOG, "16.0", "v16.0", date(2026, 3, 1), ["su1", "SU2a"])
    assert catalog.releases[0].supported_sus == ("SU1", "SU2a") and catalog.releases[0].latest == "SU2a"
    catalog = announce_release(CATALOG, "16.0", "v16.0", date(2026, 3, 1), ["SU1", "SU2"], "su1")
    assert assess("15.0 SU2", catalog=catalog).upgrade_target == "16.0 SU1"


@pytest.mark.parametrize(
    ("cycle", "released", "sus", "message"),
    [
        ("15.0", date(2026, 3, 1), ["SU1"], "already in the catalog"),
        ("14.5", date(2026, 3, 1), ["SU1"], "must be newer than n"),
        ("16.0", date(2023, 12, 1), ["SU1"], "must be newer than n"),
        ("16", date(2026, 3, 1), ["SU1"], "major.minor"),
        ("16.0", date(2026, 3, 1), [], "supported_sus"),
    ],
)
def test_announce_release_refuses_what_is_not_a_new_release(
    cycle: str, released: date, sus: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        announce_release(CATALOG, cycle, "v" + cycle, released, sus)


def test_an_inconsistent_catalog_is_refused() -> None:
    swapped = tuple(
        r.model_copy(update={"release_date": date(2025, 1, 1)}) if r.release_cycle == "14.0" else r
        for r in CATALOG.releases
    )
    with pytest.raises(ValueError, match="inconsistent"):
        train_positions(CATALOG.model_copy(update={"releases": swapped}))


def test_a_bad_su_label_in_the_catalog_is_reported() -> None:
    bad = CATALOG.model_copy(
        update={"releases": tuple(r.model_copy(update={"supported_sus": ("SP1",)}) for r in CATALOG.releases)}
    )
    with pytest.raises(ValueError, match="not an SU label"):
        assess("15.0 SU1", catalog=bad)


# --- properties ----------------------------------------------------------------------------

VERSIONS = st.builds(
    lambda major, minor, su, letter: f"{major}.{minor}" + ("" if su == 0 else f" SU{su}{letter}"),
    st.integers(8, 20),
    st.sampled_from([0, 5]),
    st.integers(0, 12),
    st.sampled_from(["", "", "a", "b"]),
)
CATALOGS = st.sampled_from([CATALOG, NEW_CATALOG])


@settings(max_examples=200, deadline=None)
@given(version=VERSIONS, catalog=CATALOGS, days=st.integers(-2000, 2000))
@example(version="15.0 SU2", catalog=CATALOG, days=0)
@example(version="15.0 SU3", catalog=CATALOG, days=0)
@example(version="16.0 SU1", catalog=NEW_CATALOG, days=0)
@example(version="12.5 SU7a", catalog=NEW_CATALOG, days=0)
def test_assess_never_gives_a_downgrade_target(version: str, catalog: ReleaseCatalog, days: int) -> None:
    result = assess(version, catalog=catalog, as_of=datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=days))
    assert result.reasons
    if result.upgrade_target is not None:
        assert not result.may_stay
        assert _key(result.upgrade_target) > _key(version)
    if result.train in ("unknown", "n"):
        assert result.upgrade_target is None or result.train == "n"
    if result.train in ("unsupported", "n-1", "n-2"):
        assert not result.may_stay and result.upgrade_target is not None


@settings(max_examples=200, deadline=None)
@given(version=VERSIONS)
@example(version="15.0")
@example(version="12.5 SU7a")
def test_parse_round_trips_through_the_label(version: str) -> None:
    cycle, su = parse_version(version)
    label = assess(version).release
    assert label is not None and parse_version(label) == (cycle, su)
    assert parse_version("v" + version.replace(" ", "-")) == (cycle, su)
