"""di_ops.integrations.gx: the one GX set-up — analytics off, contexts, get-or-create, escaped Data Docs.

Real GX Core contexts (file and ephemeral) on real frames; nothing mocked.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from di_ops.integrations import gx as gx_setup
from di_ops.integrations.gx import (
    DocsSite,
    Names,
    build_escaped_docs,
    checkpoint,
    display_escaped,
    docs_page,
    ephemeral_context,
    file_context,
    import_gx,
)

NAMES = Names(datasource="things", asset="rows", batch="all_rows", suite="things_suite", checkpoint="things_check")
SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\">"


def _expectations() -> list[object]:
    gxe = import_gx().expectations
    return [gxe.ExpectColumnValuesToNotBeNull(column="id"), gxe.ExpectColumnValuesToBeUnique(column="id")]


def _run(context: object, frame: pd.DataFrame, run_name: str = "r1") -> object:
    from great_expectations.core.run_identifier import RunIdentifier

    check = checkpoint(context, NAMES, _expectations(), {"result_format": "BASIC"})
    run_id = RunIdentifier(run_name=run_name, run_time=datetime(2026, 3, 1, tzinfo=UTC))
    return check.run(batch_parameters={"dataframe": frame}, run_id=run_id)


def test_analytics_are_off_whatever_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "True")
    import_gx()
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"
    monkeypatch.delenv("GX_ANALYTICS_ENABLED")
    ephemeral_context()
    assert os.environ["GX_ANALYTICS_ENABLED"] == gx_setup.ANALYTICS_OFF == "false"


def test_an_ephemeral_context_validates_and_counts() -> None:
    result = _run(ephemeral_context(), pd.DataFrame({"id": ["a", "b", "b", None]}))
    (_, validation), *_ = result.run_results.items()
    counts = {r.expectation_config.type: r.result["unexpected_count"] for r in validation.results}
    assert counts == {"expect_column_values_to_not_be_null": 1, "expect_column_values_to_be_unique": 2}
    assert not result.success
    assert all("unexpected_index_list" not in r.result for r in validation.results)  # BASIC: counts, no rows


def test_get_or_create_finds_the_same_objects_on_a_retry(tmp_path: Path) -> None:
    context = file_context(tmp_path)
    assert (tmp_path / "gx" / "great_expectations.yml").is_file()
    first = _run(context, pd.DataFrame({"id": ["a", "b"]}))
    again = _run(file_context(tmp_path), pd.DataFrame({"id": ["a", "b"]}))  # a new context reads the stored ones
    assert first.success and again.success
    reopened = file_context(tmp_path)
    assert [s.name for s in reopened.data_sources.all().values()] == ["things"]
    assert reopened.data_sources.get("things").get_asset("rows").get_batch_definition("all_rows").name == "all_rows"
    assert [s.name for s in reopened.suites.all()] == ["things_suite"]
    assert [c.name for c in reopened.checkpoints.all()] == ["things_check"]
    assert len(reopened.suites.get("things_suite").expectations) == 2  # replaced, not appended


def test_a_docs_site_is_the_only_one_and_moves_with_its_folder(tmp_path: Path) -> None:
    default = file_context(tmp_path)
    assert "local_site" in (default.get_config().data_docs_sites or {})  # without a site: GX's own stays
    first = tmp_path / "docs-1"
    context = file_context(tmp_path, DocsSite("reports", first))
    assert list(context.get_config().data_docs_sites) == ["reports"]
    second = tmp_path / "docs-2"
    moved = file_context(tmp_path, DocsSite("reports", second))
    site = moved.get_config().data_docs_sites["reports"]
    assert site["store_backend"]["base_directory"] == str(second)


def test_the_docs_page_shows_hostile_values_as_text(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    context = file_context(tmp_path, DocsSite("reports", docs))
    run_name = "manual__2026-03-01T00_00_00+00_00"  # a run folder name: "+" is "%2B" in GX's URL
    result = _run(context, pd.DataFrame({"id": [SCRIPT, SCRIPT, IMG, None]}), run_name=run_name)
    (identifier, validation), *_ = result.run_results.items()
    build_escaped_docs(context, identifier, validation, site_names=["reports"])
    page = docs_page(context, identifier, "reports")
    assert page is not None and page.is_file() and page.is_relative_to(docs)
    assert run_name in page.parts
    text = page.read_text(encoding="utf-8")
    assert "<script>document" not in text and "<img src=x" not in text
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in text  # shown, as text
    assert "&amp;lt;" not in text  # escaped once, not twice
    assert validation.results[1].result["partial_unexpected_list"][0] == SCRIPT  # the checks saw the raw value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (IMG, "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;"),
        ("a & b", "a &amp; b"),
        (["<b>", {"value": "<i>", "count": 2}], ["&lt;b&gt;", {"value": "&lt;i&gt;", "count": 2}]),
        (("x<", 3), ["x&lt;", 3]),
        (None, None),
        (1.5, 1.5),
    ],
)
def test_display_escaped_escapes_every_string_inside(value: object, shown: object) -> None:
    assert display_escaped(value) == shown


def test_a_built_docs_page_loads_nothing_remote_and_names_assets_that_exist(tmp_path: Path) -> None:
    """Every resource the page and its site's index load is local; the app's asset route can serve each one."""
    import re

    docs = tmp_path / "docs"
    context = file_context(tmp_path, DocsSite("reports", docs))
    assert context.get_config().data_docs_sites["reports"]["show_how_to_buttons"] is False
    result = _run(context, pd.DataFrame({"id": ["a", "a", None]}))
    (identifier, validation), *_ = result.run_results.items()
    build_escaped_docs(context, identifier, validation, site_names=["reports"])
    page = docs_page(context, identifier, "reports")
    assert page is not None
    for html_file in (page, docs / "index.html"):
        text = html_file.read_text(encoding="utf-8")
        assert "<script" not in text.lower()  # the reports' policy runs no script: none is shipped
        loaded = re.findall(r"<(?:link|img)\b[^>]*?\b(?:href|src)=\"([^\"]*)\"", text) + re.findall(
            r"url\('?([^')]*)", text
        )
        assert loaded and not [u for u in loaded if "//" in u], loaded  # nothing from a CDN or S3
        for url in loaded:
            assert url.startswith(gx_setup.DOCS_ASSETS_URL + "/"), url
            package, _, inside = url.removeprefix(gx_setup.DOCS_ASSETS_URL + "/").partition("/")
            folder = gx_setup.asset_folder(package)
            assert folder is not None and (folder / inside).is_file(), url
        assert gx_setup.offline_html(text) == text  # idempotent: a rebuilt index is not rewritten twice


def test_offline_html_keeps_links_and_drops_unknown_remote_resources() -> None:
    page = (
        '<html><head><link rel="stylesheet" href="https://unpkg.com/x.css">'
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
        "<style>a { background: url('https://evil.example/p.png') }</style>"
        '<script>alert(1)</script><script src="https://code.jquery.com/jquery.js"></script></head>'
        '<body><a href="https://greatexpectations.io">GX</a><img src="//cdn.example/t.gif"><img src="local.png">'
        "</body></html>"
    )
    out = gx_setup.offline_html(page)
    assert "unpkg" not in out and "evil.example" not in out and "cdn.example" not in out and "<script" not in out
    assert f'href="{gx_setup.DOCS_ASSETS_URL}/bootstrap/css/bootstrap.min.css"' in out
    assert '<a href="https://greatexpectations.io">GX</a>' in out and '<img src="local.png">' in out
    assert out.count('id="di-ops-offline"') == 1
