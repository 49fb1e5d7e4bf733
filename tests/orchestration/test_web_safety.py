"""No markup from the data runs in the SLA reports app: values escaped in the report and the GX Data Docs,
and a strict Content-Security-Policy on every response (headless Chromium, the real app on uvicorn).

The app is served by uvicorn on loopback with the Airflow login check replaced by a fixed reader
(the login itself is tested inside a real api-server in test_reports_app.py); everything else is
the real app and the pages the real ``sla_audit`` task bodies write from a hostile export.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.browser import chromium, served

AS_OF = datetime(2026, 3, 31, 12, tzinfo=UTC)
IMG = "<img src=x onerror=\"document.title='pwned'\">"
SCRIPT = "<script>document.title='pwned'</script>"
FIELDS = ["case_id", "customer_id", "region", "opened_at", "first_response_at", "impact", "urgency", "severity"]
FIELDS += ["closed_at", "contract_number", "caller_account", "contact_name", "contact_phone", "contact_email"]


def _case(case_id: str, **kw: str) -> dict[str, str]:
    row = dict.fromkeys(FIELDS, "")
    row |= {"case_id": case_id, "customer_id": "C001", "region": "EMEA", "opened_at": "2026-03-30T00:00:00Z"}
    row |= {"impact": "Personalized", "urgency": "Medium", "severity": "S3", "contract_number": "SVC-123456"}
    row |= {"caller_account": "Partner", "contact_name": "NOC", "contact_phone": "+31 20 555 0101"}
    return row | {"contact_email": "noc@polder.example"} | kw


HOSTILE = [
    _case("OK-1"),
    _case("X-IMG", customer_id=IMG, contact_email=SCRIPT),  # breached, customer shown in the report
    _case("X-SCRIPT", customer_id=SCRIPT, contact_email=IMG),
    _case(SCRIPT, opened_at="2026-03-05T10:00:00Z"),  # a duplicated id: quarantined, in the Data Docs
    _case(SCRIPT, opened_at="2026-03-06T10:00:00Z"),
]


@dataclass(frozen=True)
class Site:
    base: str
    reports: Path
    folder: str
    docs_page: Path


def _write_run(data_dir: Path) -> tuple[str, Path]:
    from di_ops.pipelines.sla import tasks as sla

    export = data_dir / "in" / "cases.csv"
    export.parent.mkdir(parents=True)
    with export.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(HOSTILE)
    plan = sla.start_audit({"export_path": str(export), "as_of": AS_OF.isoformat()}, "manual__hostile", None, AS_OF)
    sla.check_quality(plan)
    sla.audit_cases(plan)
    sla.write_report(plan)
    quality = json.loads((Path(plan["run_dir"]) / sla.QUALITY).read_text())
    return Path(plan["run_dir"]).name, Path(quality["docs_page"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from di_ops.orchestration.reports_app import app, require_reader

    data_dir = tmp_path_factory.mktemp("web") / "data"
    data_dir.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DI_OPS_DATA_DIR", str(data_dir))
        mp.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(data_dir / "ops.db")}))
        folder, docs_page = _write_run(data_dir)
        reports = data_dir / "sla" / "reports"
        # a page with the payloads unescaped (as GX wrote them before the fix): only the CSP stands in the way
        (reports / folder / "raw.html").write_text(f"<!DOCTYPE html><title>raw</title><p>{IMG}</p>{SCRIPT}")
        app.dependency_overrides[require_reader] = lambda: "reader"
        try:
            with served(app) as base:
                yield Site(base, reports, folder, docs_page)
        finally:
            app.dependency_overrides.clear()


def test_every_route_sends_the_csp_and_nosniff(site: Site) -> None:
    from di_ops.orchestration.reports_app import CSP

    docs = site.docs_page.relative_to(site.reports).as_posix()
    routes = {
        "/": "text/html",
        f"/runs/{site.folder}/report.html": "text/html",
        f"/runs/{docs}": "text/html",
        "/runs/_gx_docs/index.html": "text/html",
        f"/runs/{site.folder}/cases.csv": "text/csv",
        f"/runs/{site.folder}/quarantine.csv": "text/csv",
        f"/runs/{site.folder}/summary.json": "application/json",
        f"/runs/{site.folder}/prepared.parquet": None,  # refused: 404, headers all the same
        "/runs/nothing/here.html": None,
    }
    assert (site.reports / site.folder / "prepared.parquet").is_file()  # it is there, and still not served
    for route, media in routes.items():
        reply = httpx.get(site.base + route, timeout=10)
        assert reply.status_code == (200 if media else 404), route
        assert reply.headers["content-security-policy"] == CSP, route
        assert reply.headers["x-content-type-options"] == "nosniff", route
        if media:
            assert reply.headers["content-type"].startswith(media), route
        disposition = reply.headers.get("content-disposition", "")
        if media in ("text/csv", "application/json"):  # data, not pages: downloaded, never rendered
            assert disposition.startswith("attachment;") and Path(route).name in disposition, route
        else:
            assert not disposition, route
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == directives["script-src"] == directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'self'"  # only the Airflow UI (same origin) may frame the pages


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    chrome = chromium(tmp_path_factory.mktemp("chromium-profile"), "--allow-file-access-from-files")
    yield chrome
    chrome.quit()


def _title_after_load(browser: object, url: str) -> str:
    """The page's title once it has loaded and every image has failed or loaded (onerror has had its turn)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)  # type: ignore[attr-defined]
    WebDriverWait(browser, 20).until(  # type: ignore[arg-type]
        lambda b: b.execute_script(
            "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"
        )
    )
    time.sleep(0.5)
    return str(browser.title)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_payloads_run_in_a_page_without_protection(site: Site, browser: object) -> None:
    """The control: the same payloads in a file opened from disk (no CSP, not escaped) do run,
    so a title that stays unchanged below means the protection worked, not a blind detector."""
    assert _title_after_load(browser, (site.reports / site.folder / "raw.html").as_uri()) == "pwned"


@pytest.mark.slow
def test_no_payload_runs_in_the_served_pages(site: Site, browser: object) -> None:
    from selenium.webdriver.common.by import By

    docs = site.docs_page.relative_to(site.reports).as_posix()
    pages = {
        f"{site.base}/runs/{site.folder}/raw.html": "raw",  # unescaped markup: the CSP blocks it
        f"{site.base}/runs/{site.folder}/report.html": None,
        f"{site.base}/runs/{docs}": None,
        f"{site.base}/": None,
        site.docs_page.as_uri(): None,  # the Data Docs opened from disk (no CSP): escaped values only
        (site.reports / site.folder / "report.html").as_uri(): None,
    }
    for url in pages:
        title = _title_after_load(browser, url)
        assert title != "pwned", url
    for url in (f"{site.base}/runs/{docs}", site.docs_page.as_uri()):
        _title_after_load(browser, url)
        text = browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
        assert SCRIPT in text and IMG in text, url  # the values are shown, as text
    _title_after_load(browser, f"{site.base}/runs/{site.folder}/report.html")
    report = browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert SCRIPT in report and browser.find_element(By.ID, "headline-S3").is_displayed()  # type: ignore[attr-defined]
