"""The GX Data Docs work without internet: every resource a page loads comes from the reports app itself.

Headless Chromium with every host name but 127.0.0.1 unresolvable (``--host-resolver-rules``) and
the DevTools performance log on opens the Data Docs page the real ``sla_audit`` task bodies wrote,
served by the real reports app on uvicorn (the Airflow login check replaced by a fixed reader, as in
test_web_safety.py). No request may leave 127.0.0.1 or fail, and Bootstrap's and Font Awesome's
styles must actually apply under the app's Content-Security-Policy. A control page with GX's own CDN
tags shows the detector sees remote and failed requests. Source: docs/pipelines/sla.md (Data quality).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.browser import chromium
from tests.browser import served as serving
from tests.conftest import REPO
from tests.orchestration.test_web_safety import _write_run

ARTIFACTS = REPO / "test-artifacts"
# no network: inline data, local files and the browser's own pages (a fresh profile's new-tab page)
INTERNAL_SCHEMES = frozenset({"data", "file", "about", "blob", "chrome", "chrome-untrusted", "devtools"})
# what GX 1.x itself writes into a page (render/view/templates/page.j2, js_script_imports.j2)
GX_CDN_TAGS = (
    '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
    '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
)


@dataclass(frozen=True)
class Served:
    base: str  # the app's URL prefix, as in the api-server: http://127.0.0.1:<port>/sla-reports
    reports: Path
    docs: str  # the Data Docs page's path under /runs/


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The reports app mounted at ``/sla-reports`` (as the Airflow api-server mounts it) on uvicorn."""
    from fastapi import FastAPI

    from di_ops.orchestration.reports_app import URL_PREFIX, app, require_reader

    data_dir = tmp_path_factory.mktemp("offline") / "data"
    data_dir.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DI_OPS_DATA_DIR", str(data_dir))
        mp.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(data_dir / "ops.db")}))
        _folder, page = _write_run(data_dir)
        reports = data_dir / "sla" / "reports"
        (reports / "_gx_docs" / "control.html").write_text(f"<!DOCTYPE html><title>control</title>{GX_CDN_TAGS}")
        app.dependency_overrides[require_reader] = lambda: "reader"
        outer = FastAPI()
        outer.mount(URL_PREFIX, app)
        try:
            with serving(outer) as base:
                yield Served(f"{base}{URL_PREFIX}", reports, page.relative_to(reports).as_posix())
        finally:
            app.dependency_overrides.clear()


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chrome = chromium(
        tmp_path_factory.mktemp("chromium-offline"),
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no internet but loopback
        "--allow-file-access-from-files",
        performance_log=True,
    )
    yield chrome
    chrome.quit()


@dataclass
class Traffic:
    requested: list[str]
    failed: list[str]  # "url: reason" of each request that failed or was answered >= 400


def _load(browser: Any, url: str) -> Traffic:
    """Open ``url``, wait until it and its fonts have loaded, and return what the page requested."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("performance")  # drop what an earlier page left
    browser.get(url)
    WebDriverWait(browser, 20).until(lambda b: b.execute_script("return document.readyState === 'complete'"))
    browser.execute_async_script("const done = arguments[0]; document.fonts.ready.then(() => done(true));")
    time.sleep(0.5)
    urls: dict[str, str] = {}
    traffic = Traffic([], [])
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            if urlparse(params["request"]["url"]).scheme not in INTERNAL_SCHEMES - {"data", "file"}:
                traffic.requested.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            reason = params.get("blockedReason") or params.get("errorText")
            failed = urls.get(params["requestId"], "?")
            if urlparse(failed).scheme not in INTERNAL_SCHEMES - {"data", "file"}:
                traffic.failed.append(f"{failed}: {reason}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            traffic.failed.append(f"{params['response']['url']}: HTTP {params['response']['status']}")
    return traffic


def _leaves_loopback(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme not in INTERNAL_SCHEMES and parsed.hostname != "127.0.0.1"


@pytest.mark.slow
def test_the_detector_sees_what_gx_itself_loads(served: Served, offline_browser: Any) -> None:
    """The control: GX's own CDN tags, opened from disk, try the internet and fail (host unresolvable)."""
    traffic = _load(offline_browser, (served.reports / "_gx_docs" / "control.html").as_uri())
    remote = [u for u in traffic.requested if _leaves_loopback(u)]
    assert any("bootstrapcdn.com" in u for u in remote) and any("jquery" in u for u in remote), traffic
    assert any("ERR_NAME_NOT_RESOLVED" in f for f in traffic.failed), traffic


@pytest.mark.slow
def test_a_data_docs_page_loads_everything_from_the_app_and_is_styled(served: Served, offline_browser: Any) -> None:
    from selenium.webdriver.common.by import By

    from di_ops.orchestration.reports_app import CSP

    url = f"{served.base}/runs/{served.docs}"
    assert httpx.get(url, timeout=10).headers["content-security-policy"] == CSP  # the strict policy, unchanged
    traffic = _load(offline_browser, url)
    assert not traffic.failed, traffic.failed
    assert not [u for u in traffic.requested if _leaves_loopback(u)], traffic.requested
    assets = {urlparse(u).path for u in traffic.requested if "/assets/" in u}
    assert assets >= {
        "/sla-reports/assets/bootstrap/css/bootstrap.min.css",
        "/sla-reports/assets/font-awesome/css/all.min.css",
    }, assets
    assert any(a.startswith("/sla-reports/assets/font-awesome/webfonts/fa-solid-900") for a in assets), assets
    style = offline_browser.execute_script(
        "const s = (q, p) => getComputedStyle(document.querySelector(q))[p];"
        "return {pad: s('.container-fluid.pl-5', 'paddingLeft'), collapse: s('table.table', 'borderCollapse'),"
        " icon: s('.fas', 'fontFamily'), iconWeight: s('.fas', 'fontWeight'),"
        " fa: [...document.fonts].filter(f => f.family.includes('Font Awesome') && f.status === 'loaded').length};"
    )
    assert style["pad"] == "48px", style  # Bootstrap's .pl-5 (3rem) applied: the stylesheet loaded and parsed
    assert style["collapse"] == "collapse", style  # Bootstrap's tables
    assert "Font Awesome 6 Free" in style["icon"] and style["iconWeight"] == "900" and style["fa"] >= 1, style
    body = offline_browser.find_element(By.TAG_NAME, "body").text
    assert "expect_column_values_to_be_unique" in body or "unique" in body.lower()
    tables = offline_browser.find_elements(By.CSS_SELECTOR, "table.table")
    assert tables and all(t.is_displayed() for t in tables[:3])  # the results tables render
    ARTIFACTS.mkdir(exist_ok=True)
    offline_browser.set_window_size(1280, 1600)
    offline_browser.save_screenshot(str(ARTIFACTS / "data_docs_offline.png"))  # for a person to look at


def test_the_asset_route_serves_pinned_files_only_to_readers(served: Served) -> None:
    from di_ops.integrations.gx import DOCS_ASSETS_URL
    from di_ops.orchestration.reports_app import ASSETS_ROUTE, CSP, URL_PREFIX, app, require_reader

    assert URL_PREFIX + ASSETS_ROUTE == DOCS_ASSETS_URL  # where the pages point is where the app serves
    base = served.base + ASSETS_ROUTE
    css = httpx.get(f"{base}/bootstrap/css/bootstrap.min.css", timeout=10)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "Bootstrap v4.5.3" in css.text[:200] and css.headers["content-security-policy"] == CSP
    font = httpx.get(f"{base}/font-awesome/webfonts/fa-solid-900.woff2", timeout=10)
    assert font.status_code == 200 and font.content[:4] == b"wOF2"
    logo = httpx.get(f"{base}/gx-images/logo-long.png", timeout=10)
    assert logo.status_code == 200 and logo.content[:4] == b"\x89PNG"
    for refused in (
        "/bootstrap/js/bootstrap.min.js",  # scripts are not served: the policy runs none
        "/bootstrap/../../bootstrap/__init__.py",
        "/bootstrap/..%2F__init__.py",
        "/gx-images/../../../../__init__.py",
        "/nothing/css/x.css",
        "/font-awesome/LICENSE.txt",
    ):
        assert httpx.get(f"{base}{refused}", timeout=10).status_code == 404, refused
    del app.dependency_overrides[require_reader]  # the real login check: anonymous is refused
    try:
        anonymous = httpx.get(f"{base}/bootstrap/css/bootstrap.min.css", timeout=10)
        assert anonymous.status_code == 401
    finally:
        app.dependency_overrides[require_reader] = lambda: "reader"
