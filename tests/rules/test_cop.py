"""COP file names: DOMAIN.md §5 (path components and names not ending in .cop.sgn are refused)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.core.settings import CopPolicy
from di_ops.rules.cop import validate_cop_name

ACCEPTED = [
    "cmterm-devicepack15.0.1.12345-1.cop.sgn",
    "ciscocm.V15-SU1a-security-fix.k4.cop.sgn",
    "x.cop.sgn",  # one character before the suffix is enough
    "locale pack nl_NL.cop.sgn",  # inner spaces are part of Cisco names
    "a.b.cop.sgn",
    "ünïcode.cop.sgn",
]

REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    ("\t", "empty"),
    ("dir/x.cop.sgn", "path component"),
    ("/x.cop.sgn", "path component"),
    ("dir\\x.cop.sgn", "path component"),
    ("../x.cop.sgn", "path component"),
    ("..\\x.cop.sgn", "path component"),
    ("x\uff0fy.cop.sgn", "path component"),  # full-width solidus folds to "/"
    ("C:x.cop.sgn", "drive letter"),
    ("c:x.cop.sgn", "drive letter"),
    ("x.cop.sgn:stream.cop.sgn", "':'"),
    ("..x.cop.sgn", "'..'"),
    ("x..cop.sgn", "'..'"),
    ("x\u2025y.cop.sgn", "'..'"),  # two-dot leader folds to ".."
    (".hidden.cop.sgn", "hidden"),
    ("x\x00.cop.sgn", "U+0000"),
    ("x\n.cop.sgn", "U+000A"),
    ("x\x7f.cop.sgn", "U+007F"),
    ("x\u202egsn.poc.cop.sgn", "U+202E"),  # right-to-left override
    (" x.cop.sgn", "white space"),
    ("x.cop.sgn ", "white space"),
    ("x.cop", "does not end in '.cop.sgn'"),
    ("x.sgn", "does not end in '.cop.sgn'"),
    ("x.cop.sgn.zip", "does not end in '.cop.sgn'"),
    ("x.copsgn", "does not end in '.cop.sgn'"),
    ("x.COP.SGN", "case-sensitive"),
    ("x.Cop.sgn", "case-sensitive"),
    (".cop.sgn", "nothing comes before"),
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_names_are_returned_unchanged(name: str) -> None:
    assert validate_cop_name(name) == name


@pytest.mark.parametrize(("name", "reason"), REFUSED)
def test_refused_names_carry_the_reason(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match="refused") as info:
        validate_cop_name(name)
    assert reason in str(info.value)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        validate_cop_name(42)  # type: ignore[arg-type]


def test_the_suffix_comes_from_the_policy() -> None:
    assert validate_cop_name("x.zip", policy=CopPolicy(suffix=".zip")) == "x.zip"
    with pytest.raises(ValueError, match="does not end in '.zip'"):
        validate_cop_name("x.cop.sgn", policy=CopPolicy(suffix=".zip"))


SAFE_STEM = st.text(
    alphabet=st.characters(categories=["L", "N"]).filter(lambda c: c.isascii()) | st.sampled_from("-_ ")
)


@settings(max_examples=200, deadline=None)
@given(stem=SAFE_STEM.filter(lambda s: s.strip() == s and s != ""))
@example(stem="a")
@example(stem="cmterm-devicepack")
def test_a_plain_stem_with_the_suffix_is_accepted(stem: str) -> None:
    assert validate_cop_name(stem + ".cop.sgn") == stem + ".cop.sgn"


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=40))
@example(name="a/b.cop.sgn")
@example(name="a\\b.cop.sgn")
@example(name="../.cop.sgn")
@example(name="a\xa0b.cop.sgn")
def test_an_accepted_name_never_holds_a_path_component(name: str) -> None:
    try:
        accepted = validate_cop_name(name)
    except ValueError:
        return
    assert accepted == name
    assert accepted.endswith(".cop.sgn") and len(accepted) > len(".cop.sgn")
    assert not any(sep in accepted for sep in ("/", "\\", ":", "..", "\x00"))
    assert not accepted.startswith(".")
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} for c in accepted)
