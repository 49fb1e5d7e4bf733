"""The SLA reports app: a FastAPI app the Airflow api-server mounts at ``/sla-reports`` (see di_ops_plugin).

A plugin's FastAPI app is mounted *without* Airflow's authentication, so this app checks the
Airflow login itself (``orchestration.web_auth``, shared with the console): the user must be
allowed to read the ``sla_audit`` DAG. Anonymous → 401, invalid token or no access → 403.

Routes: ``/`` lists the audit runs (newest first); ``/runs/{folder}/{file}`` serves a run's
report and CSV exports; ``/runs/_gx_docs/...`` the GX Data Docs;
``/assets/{package}/{file}`` the Data Docs' stylesheets, fonts and images from pinned packages
(:data:`ASSETS_ROUTE`). Only files under those folders are served. Light to import: no I/O and
nothing heavy at module level.

The pages show values from the TAC exports, so every response carries a strict
Content-Security-Policy (:data:`CSP`: no script at all, no plugin, no form, framed only by the
Airflow UI's own origin) and ``X-Content-Type-Options: nosniff``; files that are not pages
(CSV, JSON, anything outside :data:`INLINE_SUFFIXES`) are sent as downloads
(``Content-Disposition: attachment``), never rendered in the Airflow UI's origin. The project's
report pages need only inline CSS and inline SVG. The GX Data Docs pages are rewritten when they are
built (``integrations.gx.offline_html``): Bootstrap and Font Awesome come from this app's asset route,
nothing from a CDN, and their scripts (which the policy would block) are gone, so they render styled
without internet (the GX index page's run table is drawn by script and stays empty: the reports
list is the index).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, HTMLResponse

DAG_ID = "sla_audit"
URL_PREFIX = "/sla-reports"
# the audit's hand-off between tasks (prepared.parquet), never served
WORKING_SUFFIXES = frozenset({".parquet", ".pkl"})

CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
ASSETS_ROUTE = "/assets"  # URL_PREFIX + ASSETS_ROUTE is integrations.gx.DOCS_ASSETS_URL
ASSET_SUFFIXES = frozenset({".css", ".woff2", ".woff", ".ttf", ".png", ".ico", ".svg", ".gif"})
# served inline (pages and what they embed); any other file is a download
INLINE_SUFFIXES = frozenset({".html", ".css", ".png", ".gif", ".jpg", ".jpeg", ".svg", ".ico", ".woff", ".woff2"})

app = FastAPI(title="di-ops SLA reports", docs_url=None, redoc_url=None, openapi_url=None)


@app.middleware("http")
async def security_headers(request: Request, call_next: Any) -> Response:
    """The CSP and ``nosniff`` on every response of the app (pages, files, 401/403/404 errors)."""
    response: Response = await call_next(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def require_reader(request: Request) -> Any:
    """The Airflow user of the request, allowed to read ``sla_audit``; 401/403 otherwise."""
    from di_ops.orchestration.web_auth import reader_of

    return await reader_of(request, DAG_ID)


def _reports_dir() -> Path:
    from di_ops.pipelines.sla.settings import reports_dir

    return reports_dir().resolve()


def list_runs(folder: Path) -> list[dict[str, Any]]:
    """Every run folder with a ``summary.json``, newest ``as_of`` first."""
    runs = []
    if folder.is_dir():
        for path in folder.glob("*/summary.json"):
            try:
                runs.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
    return sorted(runs, key=lambda r: (str(r.get("as_of")), str(r.get("run_id"))), reverse=True)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"


def render_index(runs: list[dict[str, Any]]) -> str:
    """The reports list page: ``templates/reports_index.html.j2`` (autoescaped)."""
    from di_ops.core.templating import render

    rows = []
    for run in runs:
        headline = run.get("headline", {})
        rows.append(
            {
                "folder": run["folder"],
                "run_id": str(run["run_id"]),
                "as_of": str(run.get("as_of", ""))[:16],
                "period": " – ".join(run.get("period", [])),
                "cases": str(run.get("cases_audited", "")),
                "met": [
                    _pct(headline.get(s, {}).get("ratio")) + f" (n={headline.get(s, {}).get('n', 0)})"
                    for s in ("S3", "S4")
                ],
                "quality": ("passed" if run.get("quality_passed") else "FAILED")
                + f" ({_pct(run.get('rejected_share'))} quarantined)",
            }
        )
    return render("reports_index.html.j2", runs=rows)


Reader = Annotated[Any, Depends(require_reader)]


@app.get("/", response_class=HTMLResponse)
async def index(user: Reader) -> HTMLResponse:
    return HTMLResponse(render_index(list_runs(_reports_dir())))


@app.get("/runs/{folder}/{path:path}")
async def run_file(folder: str, path: str, user: Reader) -> FileResponse:
    return _serve(_reports_dir(), folder, path)


@app.get(ASSETS_ROUTE + "/{package}/{path:path}")
async def asset_file(package: str, path: str, user: Reader) -> FileResponse:
    """A stylesheet, font or image of the GX Data Docs from a pinned package (``integrations.gx.ASSET_PACKAGES``)."""
    from di_ops.integrations.gx import asset_folder

    root = asset_folder(package)
    target = (root / path).resolve() if root is not None else None
    if target is None or root is None or not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such asset")
    if target.suffix.lower() not in ASSET_SUFFIXES:  # the packages' scripts and sources are not served
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such asset")
    return FileResponse(target, headers={"Cache-Control": "private, max-age=86400"})


def _serve(root: Path, folder: str, path: str) -> FileResponse:
    """``root/folder/path`` when it is a file inside ``root/folder`` and not a working file; 404 otherwise."""
    target = (root / folder / path).resolve()
    if not target.is_relative_to(root / folder) or folder in {"", ".", ".."} or not target.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such report file")
    if target.suffix.lower() in WORKING_SUFFIXES:  # the run's working copy of the cases, not for the browser
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such report file")
    if target.suffix.lower() in INLINE_SUFFIXES:
        return FileResponse(target)
    return FileResponse(target, filename=target.name, content_disposition_type="attachment")
