"""The project's UI apps inside a real ``airflow api-server`` (one server for the module): the SLA
reports app and the operations console. The Airflow login is required, and the pages open from the
Airflow UI's menu in headless Chromium (screenshots in test-artifacts/)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.browser import airflow_login, chromium
from tests.conftest import REPO, free_port

PASSWORD = "reports-test-pw"
AS_OF = datetime(2026, 11, 27, tzinfo=UTC)
ARTIFACTS = REPO / "test-artifacts"


@dataclass(frozen=True)
class Server:
    base: str
    data_dir: Path
    folder: str  # the run folder of the one report
    summary: dict
    changes: dict  # what the console's change calendar must show (tests/orchestration/console_data.py)


def _make_report(data_dir: Path) -> tuple[str, dict]:
    """One audit run over 400 demo cases, written by the pipeline's own task bodies."""
    from di_ops.pipelines.sla import tasks as sla
    from include.demo.tac_cases import write_exports

    exports = data_dir / "sla" / "exports"
    write_exports(exports, cases=400, end=AS_OF)
    plan = sla.start_audit({"as_of": AS_OF.isoformat()}, "manual__2026-11-27T00:00:00+00:00", None, AS_OF)
    sla.check_quality(plan)
    sla.audit_cases(plan)
    sla.write_report(plan)
    folder = Path(plan["run_dir"])
    return folder.name, json.loads((folder / sla.SUMMARY).read_text())


def _seed_console(data_dir: Path) -> dict:
    """The ops DB the api-server reads (the embedded default in the data folder) with one change of each kind."""
    from di_ops.db.engine import make_engine, upgrade
    from tests.orchestration.console_data import seed, seed_customer_facts

    engine = make_engine(f"sqlite:///{data_dir / 'ops.db'}")
    upgrade(engine)
    try:
        expected = seed(engine, data_dir / "inventory")
        return {**expected, **seed_customer_facts(engine)}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("reports") / "data"
    data_dir.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DI_OPS_DATA_DIR", str(data_dir))
        mp.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(data_dir / "ops.db")}))
        folder, summary = _make_report(data_dir)
        changes = _seed_console(data_dir)
        # a retention run's plan, as the approval links it, and a file beside the run folders
        retention = data_dir / "retention" / "runs" / "manual__2026-12-06T02_30_00+00_00"
        retention.mkdir(parents=True)
        (retention / "plan.csv").write_text("path,action,reason\nC1/C1-cucm/CUCM/b1,prune,<script>x()</script>\n")
        (data_dir / "retention" / "runs" / "secret.txt").write_text("outside any run folder")
    passwords = data_dir.parent / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD, "outsider": PASSWORD, "sla_reader": PASSWORD}))
    port = free_port()
    env = {
        **os.environ,
        "DI_OPS_DATA_DIR": str(data_dir),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        # the simple auth manager with per-DAG read permissions for two users (restricted_auth.py)
        "AIRFLOW__CORE__AUTH_MANAGER": "tests.orchestration.restricted_auth.RestrictedSimpleAuthManager",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer,sla_reader:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "sla-reports-test-secret",
        "AIRFLOW__API__WORKERS": "1",
    }
    log = (data_dir.parent / "api-server.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"airflow api-server did not come up: {(data_dir.parent / 'api-server.log').read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield Server(base, data_dir, folder, summary, changes)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _token(server: Server, user: str = "admin") -> str:
    reply = httpx.post(f"{server.base}/auth/token", json={"username": user, "password": PASSWORD}, timeout=10)
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def test_anonymous_and_forged_requests_are_refused(server: Server) -> None:
    report = f"{server.base}/sla-reports/runs/{server.folder}/report.html"
    for url in (f"{server.base}/sla-reports/", report, f"{server.base}/sla-reports/runs/_gx_docs/index.html"):
        reply = httpx.get(url, timeout=10)
        assert reply.status_code == 401, url
        assert "SLA audit" not in reply.text
    forged = httpx.get(report, headers={"Authorization": "Bearer not.a.jwt"}, timeout=10)
    assert forged.status_code == 403
    other_secret = httpx.get(report, cookies={"_token": _forged_jwt()}, timeout=10)
    assert other_secret.status_code == 403


def _forged_jwt() -> str:
    import jwt

    claims = {"sub": "admin", "role": "ADMIN", "aud": "apache-airflow", "exp": int(time.time()) + 600}
    return jwt.encode(claims, "some-other-secret", algorithm="HS512")


def test_a_logged_in_user_lists_the_runs_and_reads_the_report(server: Server) -> None:
    headers = {"Authorization": f"Bearer {_token(server)}"}
    listing = httpx.get(f"{server.base}/sla-reports/", headers=headers, timeout=10)
    assert listing.status_code == 200
    assert f'href="runs/{server.folder}/report.html"' in listing.text
    report = httpx.get(f"{server.base}/sla-reports/runs/{server.folder}/report.html", headers=headers, timeout=10)
    assert report.status_code == 200 and 'id="headline-S3"' in report.text
    csv_export = httpx.get(
        f"{server.base}/sla-reports/runs/{server.folder}/compliance.csv", headers=headers, timeout=10
    )
    assert csv_export.status_code == 200 and csv_export.text.startswith("dimension,")
    assert csv_export.headers["content-disposition"].startswith("attachment;")  # a download, never a page
    for reply in (listing, report, csv_export):  # inside the api-server too (test_web_safety: every route)
        assert "script-src 'none'" in reply.headers["content-security-policy"]
        assert reply.headers["x-content-type-options"] == "nosniff"
    docs = httpx.get(f"{server.base}/sla-reports/runs/_gx_docs/index.html", headers=headers, timeout=10)
    assert docs.status_code == 200
    for path in (f"runs/{server.folder}/prepared.parquet", "runs/..%2F..%2Fops.db/x", "runs/x/..%2F..%2F..%2Fops.db"):
        assert httpx.get(f"{server.base}/sla-reports/{path}", headers=headers, timeout=10).status_code == 404, path


@pytest.mark.slow
def test_the_report_opens_from_the_airflow_ui_in_headless_chromium(server: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser = chromium(tmp_path / "chromium-profile", "--window-size=1400,1800")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        wait = airflow_login(browser, server.base, "admin", PASSWORD)
        # the plugin's entry under Browse, as a user finds it
        wait.until(ec.element_to_be_clickable((By.XPATH, "//*[text()='Browse']"))).click()
        wait.until(ec.element_to_be_clickable((By.XPATH, "//*[text()='SLA reports']"))).click()
        frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe[src*='/sla-reports/']")))
        browser.switch_to.frame(frame)
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.report"))).click()
        card = wait.until(ec.presence_of_element_located((By.ID, "headline-S3")))
        expected = server.summary["headline"]["S3"]
        assert f"{100 * expected['ratio']:.1f} %" in card.text
        assert f"n = {expected['n']} judged" in card.text
        assert float(card.get_attribute("data-ratio")) == pytest.approx(expected["ratio"], abs=1e-6)
        s4 = browser.find_element(By.ID, "headline-S4")
        assert f"n = {server.summary['headline']['S4']['n']} judged" in s4.text
        assert browser.find_element(By.ID, "cases-audited").text == str(server.summary["cases_audited"])
        browser.switch_to.default_content()
        browser.save_screenshot(str(ARTIFACTS / "sla_report_in_airflow_ui.png"))
        browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe[src*='/sla-reports/']"))
        page_height = browser.execute_script("return document.body.scrollHeight")
        browser.switch_to.default_content()
        browser.get(f"{server.base}/sla-reports/runs/{server.folder}/report.html")  # the page alone, same login cookie
        browser.set_window_size(1280, min(int(page_height) + 100, 6000))
        wait.until(ec.presence_of_element_located((By.ID, "headline-S3")))
        browser.save_screenshot(str(ARTIFACTS / "sla_report.png"))
        browser.find_element(By.ID, "gx-docs-link").click()
        wait.until(lambda b: "validations" in b.current_url)
        assert "Expectation" in browser.page_source or "expect_" in browser.page_source
    finally:
        browser.quit()
    assert (ARTIFACTS / "sla_report.png").stat().st_size > 10_000


def _calendar_url(server: Server, route: str = "calendar", query: str = "") -> str:
    from tests.orchestration.console_data import AS_OF

    return f"{server.base}/di-ops/{route}?as_of={AS_OF.isoformat().replace('+', '%2B')}{query}"


def test_the_console_refuses_anonymous_and_forged_requests(server: Server) -> None:
    for route in ("calendar", "calendar.json", "calendar.ics", "customers", "customers/C004"):
        url = _calendar_url(server, route)
        assert httpx.get(url, timeout=10).status_code == 401, url
        assert httpx.get(url, headers={"Authorization": "Bearer not.a.jwt"}, timeout=10).status_code == 403, url
        assert httpx.get(url, cookies={"_token": _forged_jwt()}, timeout=10).status_code == 403, url


def test_the_change_calendar_through_the_api_server(server: Server) -> None:
    from icalendar import Calendar

    headers = {"Authorization": f"Bearer {_token(server)}"}
    page = httpx.get(_calendar_url(server), headers=headers, timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for uid in server.changes["uids"]:
        assert f'id="{uid}"' in page.text, uid
    data = httpx.get(_calendar_url(server, "calendar.json", "&region=AMER"), headers=headers, timeout=30).json()
    shown = {c["uid"] for r in data["regions"] for w in r["windows"] for c in w["changes"]}
    assert shown == {"upgrade-u-C001", "upgrade-u-C005"} and [r["region"] for r in data["regions"]] == ["AMER"]
    ics = httpx.get(_calendar_url(server, "calendar.ics", "&kind=upgrade"), headers=headers, timeout=30)
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.headers["content-disposition"].startswith("attachment;")
    uids = {str(e["UID"]) for e in Calendar.from_ical(ics.content).walk("VEVENT")}
    assert uids == {"upgrade-u-C001@di-ops", "upgrade-u-C005@di-ops", "upgrade-u-C012@di-ops"}
    bad = httpx.get(_calendar_url(server, "calendar.json", "&region=MARS"), headers=headers, timeout=30)
    assert bad.status_code == 400 and "region: MARS" in bad.text


def test_the_customer_pages_through_the_api_server(server: Server) -> None:
    headers = {"Authorization": f"Bearer {_token(server)}"}
    listing = httpx.get(f"{server.base}/di-ops/customers", headers=headers, timeout=30)
    assert listing.status_code == 200 and listing.text.count('class="customer"') == 12
    page = httpx.get(_calendar_url(server, "customers/C004"), headers=headers, timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert "script-src 'none'" in page.headers["content-security-policy"]
    for anchor in (
        'id="cert-C004-cucm-pub"',
        'id="cluster-C004-cucm"',
        "TAC-4711",
        "manifest unreadable: not JSON",
        "no good backup in the last two nights",  # backup_health's reason for the overdue IMP series
        'id="capacity"',
        "260 configured of 250 allowed",
    ):
        assert anchor in page.text, anchor
    assert "/dags/backup_retention/runs/manual__2026-12-06T02%3A30%3A00%2B00%3A00" in page.text  # the backups' run
    missing = httpx.get(f"{server.base}/di-ops/customers/C999", headers=headers, timeout=30)
    assert missing.status_code == 404


@pytest.mark.slow
def test_the_change_calendar_opens_from_the_airflow_menu(server: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser = chromium(tmp_path / "chromium-profile", "--window-size=1400,1600")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        wait = airflow_login(browser, server.base, "admin", PASSWORD)
        # the console's pages are in the navigation's Plugins menu, in its di-ops submenu
        wait.until(ec.element_to_be_clickable((By.XPATH, "//*[text()='Plugins']"))).click()
        submenu = "//*[@role='menuitem' and contains(normalize-space(.), 'di-ops')]"
        wait.until(ec.element_to_be_clickable((By.XPATH, submenu))).click()
        entry = (
            "//*[@role='menuitem' and normalize-space(.)='Change calendar'] | //a[normalize-space(.)='Change calendar']"
        )
        wait.until(ec.element_to_be_clickable((By.XPATH, entry))).click()
        frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe[src*='/di-ops/calendar']")))
        browser.switch_to.frame(frame)
        wait.until(ec.presence_of_element_located((By.ID, "region-EMEA")))
        # the real clock decides which windows are shown: the page must list the region and its windows
        assert browser.find_elements(By.CSS_SELECTOR, "#region-EMEA .window")
        browser.switch_to.default_content()
        browser.save_screenshot(str(ARTIFACTS / "change_calendar_in_airflow_ui.png"))
        browser.get(_calendar_url(server))  # the page alone at the seeded instant, same login cookie
        row = wait.until(ec.presence_of_element_located((By.ID, "upgrade-u-C012")))
        assert "missed" in row.text and "C012" in row.text
        link = row.find_element(By.CSS_SELECTOR, "a.run")
        assert link.get_attribute("href").endswith(
            "/dags/upgrade_eligibility/runs/scheduled__2026-11-09T04%3A00%3A00%2B00%3A00"
        )
        browser.save_screenshot(str(ARTIFACTS / "change_calendar.png"))
        # calendar -> customer page -> the report of the run behind a fact -> that DAG run in Airflow
        browser.find_element(By.CSS_SELECTOR, "tr[id='cop-r-planned'] a.customer").click()
        heading = wait.until(ec.presence_of_element_located((By.ID, "customer")))
        assert "C004" in heading.text
        assert "TAC-4711" in browser.find_element(By.ID, "escalations").text
        good = browser.find_elements(By.CSS_SELECTOR, "#backups tbody tr")[0].text
        assert "CUCM" in good and " 6 5 " in f" {good} "  # 6 backups, 5 good (console_data.seed_customer_facts)
        browser.save_screenshot(str(ARTIFACTS / "customer_page.png"))
        browser.find_element(By.CSS_SELECTOR, "#backups-retention a.report").click()
        files = wait.until(ec.presence_of_element_located((By.ID, "files")))
        assert files.text.split() == ["plan.csv"]
        browser.save_screenshot(str(ARTIFACTS / "run_reports.png"))
        browser.find_element(By.CSS_SELECTOR, "#run + p a.run").click()
        wait.until(lambda b: "/dags/backup_retention/runs/manual__2026-12-06T02%3A30%3A00%2B00%3A00" in b.current_url)
        # every console page from the menu
        for page, anchor in (("Customers", "customers"), ("Reports", "reports")):
            browser.get(f"{server.base}/")
            wait.until(ec.element_to_be_clickable((By.XPATH, "//*[text()='Plugins']"))).click()
            wait.until(ec.element_to_be_clickable((By.XPATH, submenu))).click()
            item = f"//*[@role='menuitem' and normalize-space(.)='{page}'] | //a[normalize-space(.)='{page}']"
            wait.until(ec.element_to_be_clickable((By.XPATH, item))).click()
            frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"iframe[src*='/di-ops/{anchor}']")))
            browser.switch_to.frame(frame)
            table = wait.until(ec.presence_of_element_located((By.ID, anchor)))
            rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
            if anchor == "customers":
                assert len(rows) == 12  # the demo fleet's snapshot
            else:
                assert any("manual__2026-11-27T00:00:00+00:00" in r.text for r in rows)  # the real audit run
            browser.switch_to.default_content()
            browser.save_screenshot(str(ARTIFACTS / f"console_{anchor}.png"))
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "change_calendar_failure.png"))
        (ARTIFACTS / "change_calendar_failure.html").write_text(browser.page_source)
        raise
    finally:
        browser.quit()
    assert (ARTIFACTS / "change_calendar.png").stat().st_size > 10_000


def test_the_reports_hub_and_a_run_page_through_the_api_server(server: Server) -> None:
    headers = {"Authorization": f"Bearer {_token(server)}"}
    run_id = "manual__2026-11-27T00:00:00+00:00"
    hub = httpx.get(f"{server.base}/di-ops/reports?pipeline=sla", headers=headers, timeout=30)
    assert hub.status_code == 200 and run_id in hub.text
    from urllib.parse import quote

    assert f"/di-ops/reports/files/sla/{quote(server.folder, safe='')}/report.html" in hub.text
    page = httpx.get(f"{server.base}/di-ops/reports/runs/sla_audit/{run_id}", headers=headers, timeout=30)
    assert page.status_code == 200 and 'id="files"' in page.text and "prepared.parquet" not in page.text
    assert 'id="summary"' in page.text and str(server.summary["cases_audited"]) in page.text
    report = httpx.get(
        f"{server.base}/di-ops/reports/files/sla/{server.folder}/report.html", headers=headers, timeout=30
    )
    assert report.status_code == 200 and 'id="headline-S3"' in report.text
    assert "script-src 'none'" in report.headers["content-security-policy"]
    csv_file = httpx.get(
        f"{server.base}/di-ops/reports/files/sla/{server.folder}/cases.csv", headers=headers, timeout=30
    )
    assert csv_file.headers["content-disposition"].startswith("attachment;")
    for path in (
        f"sla/{server.folder}/prepared.parquet",
        "sla/..%2F..%2Fops.db",
        "nope/x",
        f"sla/{server.folder}/..%2F..%2F..%2Fops.db",
    ):
        assert (
            httpx.get(f"{server.base}/di-ops/reports/files/{path}", headers=headers, timeout=30).status_code == 404
        ), path
    nothing = httpx.get(f"{server.base}/di-ops/reports/runs/inventory_sync/manual__x", headers=headers, timeout=30)
    assert nothing.status_code == 200 and 'id="nothing"' in nothing.text
    bad = httpx.get(f"{server.base}/di-ops/reports?pipeline=payroll", headers=headers, timeout=30)
    assert bad.status_code == 400 and "pipeline: 'payroll' not one of" in bad.text
    assert httpx.get(f"{server.base}/di-ops/reports", timeout=30).status_code == 401


def test_the_metrics_route_with_an_airflow_login(server: Server) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    assert httpx.get(f"{server.base}/di-ops/metrics", timeout=30).status_code == 401
    reply = httpx.get(
        f"{server.base}/di-ops/metrics", headers={"Authorization": f"Bearer {_token(server)}"}, timeout=30
    )
    assert reply.status_code == 200
    families = {f.name: f.samples for f in text_string_to_metric_families(reply.text)}
    assert {s.labels["node"] for s in families["di_ops_certificate_earliest_expiry_seconds"]} == {"C004-cucm-pub"}
    # the newest audit in the ops DB is the seeded one (a day after the fixture's real audit)
    assert [(s.labels["severity"], s.value) for s in families["di_ops_sla_compliance_ratio"]] == [("S3", 0.975)]


def test_a_user_sees_only_what_their_dag_permissions_allow(server: Server) -> None:
    outsider = {"Authorization": f"Bearer {_token(server, 'outsider')}"}
    for route in ("calendar", "calendar.json", "customers", "customers/C004", "reports", "metrics"):
        reply = httpx.get(f"{server.base}/di-ops/{route}", headers=outsider, timeout=30)
        assert reply.status_code == 403, route
    sla_run = f"runs/{server.folder}/report.html"
    assert httpx.get(f"{server.base}/sla-reports/{sla_run}", headers=outsider, timeout=30).status_code == 403
    reader = {"Authorization": f"Bearer {_token(server, 'sla_reader')}"}
    # no change pipeline readable: no calendar; the SLA report through the hub and the reports app
    for route in ("calendar", "metrics"):
        assert httpx.get(f"{server.base}/di-ops/{route}", headers=reader, timeout=30).status_code == 403, route
    hub = httpx.get(f"{server.base}/di-ops/reports", headers=reader, timeout=30)
    assert hub.status_code == 200 and "manual__2026-11-27T00:00:00+00:00" in hub.text
    assert "certificate_sweep" not in hub.text and "backup_retention" not in hub.text
    page = httpx.get(f"{server.base}/di-ops/customers/C004", headers=reader, timeout=30)
    assert page.status_code == 200 and 'id="sla"' in page.text and "TAC-4711" in page.text
    for hidden in ('id="certificates"', 'id="backups"', 'id="cop"', 'id="clusters"', "Planned maintenance for C004"):
        assert hidden not in page.text, hidden
    assert httpx.get(f"{server.base}/sla-reports/{sla_run}", headers=reader, timeout=30).status_code == 200
    assert httpx.get(f"{server.base}/sla-reports/", headers=outsider, timeout=30).status_code == 403


def test_the_retention_plan_is_a_download_at_the_url_the_approval_links(server: Server) -> None:
    """retention.guard links the plan through the console's files route: a download with the CSP,
    for readers of backup_retention, and nothing outside a run folder."""
    from di_ops.pipelines.retention.guard import _plan_url

    url = _plan_url("/anywhere/manual__2026-12-06T02_30_00+00_00")
    assert url == "/di-ops/reports/files/retention/manual__2026-12-06T02_30_00%2B00_00/plan.csv"
    headers = {"Authorization": f"Bearer {_token(server)}"}
    reply = httpx.get(server.base + url, headers=headers, timeout=30)
    assert reply.status_code == 200 and "script-src 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["content-disposition"].startswith("attachment") and "prune" in reply.text
    for bad in (
        "secret.txt",
        "..%2Fsecret.txt",
        "x/..%2F..%2Fsecret.txt",
        "manual__2026-12-06T02_30_00%2B00_00/..%2F..%2Fsecret.txt",
    ):
        assert (
            httpx.get(f"{server.base}/di-ops/reports/files/retention/{bad}", headers=headers, timeout=30).status_code
            == 404
        ), bad
    reader = {"Authorization": f"Bearer {_token(server, 'sla_reader')}"}
    assert httpx.get(server.base + url, headers=reader, timeout=30).status_code == 404  # not a reader of retention
