"""Great Expectations (GX Core 1.x, called directly) as every pipeline uses it: one module, one setup.

The GX Airflow provider does not support Airflow 3, so task bodies call GX through these helpers:

* :func:`import_gx` — the one place GX is imported, with analytics off (``GX_ANALYTICS_ENABLED=false``:
  a task never phones home);
* :func:`file_context` / :func:`ephemeral_context` — a file Data Context under a pipeline's own folder
  (optionally with one Data Docs site written to a folder of the pipeline's choice), or an in-memory one
  (benchmarks, unit tests); progress bars off;
* :func:`checkpoint` — get-or-create of the pandas datasource, its dataframe asset and whole-frame batch
  definition, then the suite, validation definition and checkpoint replaced by the given ones, so a
  retry finds the same objects;
* :func:`build_escaped_docs` — the Data Docs page of one validation, rendered from a copy whose observed
  values are HTML-escaped (see its docstring), then made to work offline (:func:`offline_html`: its
  stylesheets, fonts and images come from the reports app's asset route, :data:`DOCS_ASSETS_URL`,
  never from a CDN; its scripts, which the reports' Content-Security-Policy blocks, are removed).

Where each pipeline keeps its context, results and Data Docs stays the pipeline's choice
(``include/config/housekeeping.yaml: gx_stores`` prunes them). ``great_expectations`` is imported
only inside functions (it takes seconds to import). Source: docs/pipelines/sla.md (Data quality),
docs/pipelines/retention.md.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ANALYTICS_VARIABLE: Final = "GX_ANALYTICS_ENABLED"
ANALYTICS_OFF: Final = "false"


def import_gx() -> Any:
    """The ``great_expectations`` module, imported with analytics off (set here and nowhere else)."""
    os.environ[ANALYTICS_VARIABLE] = ANALYTICS_OFF  # never phone home from a task, whatever the environment says
    import great_expectations as gx

    return gx


def _quiet(context: Any) -> Any:
    context.variables.progress_bars = {"globally": False}
    return context


def ephemeral_context() -> Any:
    """An in-memory Data Context: nothing written (benchmarks, unit tests, no Data Docs)."""
    return _quiet(import_gx().get_context(mode="ephemeral"))


@dataclass(frozen=True)
class DocsSite:
    """One Data Docs site: its name and the folder it is written to."""

    name: str
    folder: Path


def file_context(root: Path, site: DocsSite | None = None) -> Any:
    """The file Data Context ``{root}/gx`` (created when missing).

    With ``site``: that site is the context's only Data Docs site, written to ``site.folder`` (a site
    pointing elsewhere is replaced, other sites removed). Without: the sites stay as configured (GX's
    default ``local_site`` under ``{root}/gx/uncommitted/data_docs``).
    """
    root.mkdir(parents=True, exist_ok=True)
    context = import_gx().get_context(mode="file", project_root_dir=str(root))
    if site is not None:
        sites = context.get_config().data_docs_sites or {}
        wanted = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site.folder)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "show_how_to_buttons": False,  # GX's walkthrough modal and how-to cards: an inline script, tutorials
        }
        current = sites.get(site.name, {})
        if (
            current.get("store_backend", {}).get("base_directory") != str(site.folder)
            or current.get("show_how_to_buttons", True) is not False
        ):
            if site.name in sites:
                context.delete_data_docs_site(site.name)
            context.add_data_docs_site(site_name=site.name, site_config=wanted)
        for other in [name for name in sites if name != site.name]:
            context.delete_data_docs_site(other)
    return _quiet(context)


@dataclass(frozen=True)
class Names:
    """The names of a pipeline's GX objects: datasource, asset, batch definition, suite, checkpoint."""

    datasource: str
    asset: str
    batch: str
    suite: str
    checkpoint: str
    validation: str = ""

    @property
    def validation_name(self) -> str:
        return self.validation or self.suite


def batch_definition(context: Any, names: Names) -> Any:
    """The whole-dataframe batch definition ``names.batch`` of asset ``names.asset`` (each created when missing)."""
    try:
        source = context.data_sources.get(names.datasource)
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas(name=names.datasource)
    try:
        asset = source.get_asset(names.asset)
    except (KeyError, ValueError, LookupError):
        asset = source.add_dataframe_asset(name=names.asset)
    try:
        return asset.get_batch_definition(names.batch)
    except (KeyError, ValueError, LookupError):
        return asset.add_batch_definition_whole_dataframe(name=names.batch)


def checkpoint(context: Any, names: Names, expectations: list[Any], result_format: dict[str, Any]) -> Any:
    """The checkpoint validating a dataframe batch with ``expectations`` (suite, definition, checkpoint replaced).

    No actions: Data Docs are built by :func:`build_escaped_docs` from a display-escaped copy.
    """
    gx = import_gx()
    batch = batch_definition(context, names)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=names.suite, expectations=expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=names.validation_name, data=batch, suite=suite)
    )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=names.checkpoint, validation_definitions=[definition], actions=[], result_format=result_format
        )
    )


def display_escaped(value: Any) -> Any:
    """``value`` with every string in it (nested lists, tuples and dict values) HTML-escaped."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {key: display_escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [display_escaped(item) for item in value]
    return value


def build_escaped_docs(context: Any, identifier: Any, validation: Any, *, site_names: list[str] | None) -> None:
    """Rebuild the Data Docs page of one validation from a copy whose observed values are HTML-escaped.

    GX 1.x puts observed and unexpected values into its table cells unescaped (its ``.j2``
    templates are outside Jinja's ``select_autoescape(["html", "xml"])``; only string-template
    params are escaped), so a quarantined ``<script>`` value would run in the page. The checks
    have already run on the raw values; only the stored copy the page is rendered from is
    escaped (the ``result`` and ``exception_info`` of each expectation, i.e. the data's values),
    so the page shows each value literally. The suite's own arguments are params: GX escapes those.
    GX's result store keeps this display copy; the raw values are in the run's own files.
    """
    shown = copy.deepcopy(validation)
    for item in shown.results:
        item.result = display_escaped(item.result or {})
        item.exception_info = display_escaped(item.exception_info or {})
    context.validation_results_store.set(identifier, shown)
    context.build_data_docs(site_names=site_names, resource_identifiers=[identifier])
    for page in built_pages(context, identifier, site_names):
        text = page.read_text(encoding="utf-8")
        offline = offline_html(text)
        if offline != text:
            page.write_text(offline, encoding="utf-8")


def built_pages(context: Any, identifier: Any, site_names: list[str] | None) -> list[Path]:
    """The files a build of ``identifier`` wrote: its page and the index page of each site (that exist)."""
    from urllib.parse import unquote, urlparse

    pages: list[Path] = []
    for name in site_names or list(context.get_config().data_docs_sites or {}):
        for resource in (identifier, None):
            for url in context.get_docs_sites_urls(resource_identifier=resource, site_name=name):
                site_url = str(url.get("site_url") or "")
                path = Path(unquote(urlparse(site_url).path))
                if site_url.startswith("file:") and path.is_file() and path not in pages:
                    pages.append(path)
    return pages


# The reports app serves these folders under DOCS_ASSETS_URL (reports_app.ASSETS_ROUTE): pinned packages
# of requirements.txt (XStatic-Bootstrap 4.5, XStatic-Font-Awesome 6.2) and GX's own images.
DOCS_ASSETS_URL: Final = "/sla-reports/assets"
ASSET_PACKAGES: Final = {
    "bootstrap": ("xstatic.pkg.bootstrap", "data"),
    "font-awesome": ("xstatic.pkg.font_awesome", "data"),
    "gx-images": ("great_expectations", "render/view/static/images"),
}
# what a GX 1.x page loads from a CDN -> the asset that replaces it; any other remote resource is removed
_LOCAL_ASSETS: Final = (
    (re.compile(r"^https://[^/]+/bootstrap/4\.[0-9.]+/css/bootstrap\.min\.css$"), "bootstrap/css/bootstrap.min.css"),
    (re.compile(r"^https://[^/]+/.*font-awesome/6\.[0-9.]+/css/all\.min\.css$"), "font-awesome/css/all.min.css"),
    (re.compile(r"^https://great-expectations-web-assets\.[^/]+/(full_)?logo[^/]*\.png"), "gx-images/logo-long.png"),
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_RESOURCE = re.compile(r"<(?:link|img)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\b(href|src)\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_ICON = re.compile(r"""\brel\s*=\s*["']?[^"'>]*icon""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(["']?)((?:https?:)?//[^)'"]*)\1\s*\)""", re.IGNORECASE)
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)


def local_asset(url: str) -> str | None:
    """The asset URL that replaces the CDN resource ``url`` (``None``: there is none, drop it)."""
    for pattern, name in _LOCAL_ASSETS:
        if pattern.search(html.unescape(url)):
            return f"{DOCS_ASSETS_URL}/{name}"
    return None


def _resource(match: re.Match[str]) -> str:
    tag = match.group(0)
    attr = _URL_ATTR.search(tag)
    if attr is None:
        return tag
    if _ICON.search(tag):  # GX's relative favicon path misses one "../" on a validation page
        local: str | None = f"{DOCS_ASSETS_URL}/gx-images/favicon.ico"
    elif _REMOTE.match(html.unescape(attr.group(3))):
        local = local_asset(attr.group(3))
        if local is None:
            return ""
    else:
        return tag
    return tag[: attr.start(3)] + html.escape(str(local)) + tag[attr.end(3) :]


def _css_url(match: re.Match[str]) -> str:
    local = local_asset(match.group(2))
    return f"url('{local}')" if local else "none"


def offline_html(page: str) -> str:
    """A GX Data Docs page that loads nothing from outside the reports app (idempotent).

    Its Bootstrap and Font Awesome stylesheets and GX's logo come from :data:`DOCS_ASSETS_URL`; every
    other remote stylesheet or image and every ``<script>`` (jQuery, Bootstrap's and bootstrap-table's
    scripts, Vega, GX's inline handlers: the reports' Content-Security-Policy runs none of them) is
    removed, and the style of ``templates/gx_offline_style.html.j2`` shows what those scripts would have unfolded. Links
    (``<a href>``) stay as they are: nothing is loaded until someone follows one.
    """
    page = _SCRIPT.sub("", page)
    page = _RESOURCE.sub(_resource, page)
    page = _CSS_URL.sub(_css_url, page)
    if 'id="di-ops-offline"' not in page:
        from di_ops.core.templating import render

        style = render("gx_offline_style.html.j2")
        page = re.sub(r"</head\s*>", lambda end: style + end.group(0), page, count=1, flags=re.IGNORECASE)
    return page


def asset_folder(name: str) -> Path | None:
    """The folder of asset package ``name`` (:data:`ASSET_PACKAGES`), found without importing the package."""
    if name not in ASSET_PACKAGES:
        return None
    module, inside = ASSET_PACKAGES[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / inside
    return folder.resolve() if folder.is_dir() else None


def docs_page(context: Any, identifier: Any, site_name: str) -> Path | None:
    """The file of the Data Docs page of ``identifier`` on site ``site_name``, when GX names one.

    GX gives a ``file://`` URL (a ``+`` of a run name is ``%2B`` there); the file's name is unquoted.
    """
    from urllib.parse import unquote, urlparse

    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=site_name)
    if urls and urls[0].get("site_url"):
        return Path(unquote(urlparse(urls[0]["site_url"]).path))
    return None
