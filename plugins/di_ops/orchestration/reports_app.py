"""The SLA reports app: a FastAPI app the Airflow api-server mounts at ``/sla-reports`` (see di_ops_plugin).

A plugin's FastAPI app is mounted *without* Airflow's authentication, so this app checks the
Airflow JWT itself, exactly as the core API does (``airflow.api_fastapi.core_api.security``):
the ``Authorization: Bearer`` header wins, else the UI's ``_token`` cookie; the token is
validated by the configured auth manager (signature, expiry, revocation), and the user must
be allowed to read the ``sla_audit`` DAG. Anonymous → 401, invalid token or no access → 403.

Routes: ``/`` lists the audit runs (newest first); ``/runs/{folder}/{file}`` serves a run's
report and CSV exports; ``/runs/_gx_docs/...`` the GX Data Docs; ``/retention/{folder}/{file}`` a
``backup_retention`` run's files (the approval links its ``plan.csv``), for readers of that DAG.
Only files under those folders are served. Light to import: no I/O and nothing heavy at module level.

The pages show values from the TAC exports, so every response carries a strict
Content-Security-Policy (:data:`CSP`: no script at all, no plugin, no form, framed only by the
Airflow UI's own origin) and ``X-Content-Type-Options: nosniff``; files that are not pages
(CSV, JSON, anything outside :data:`INLINE_SUFFIXES`) are sent as downloads
(``Content-Disposition: attachment``), never rendered in the Airflow UI's origin. The project's
report pages need only inline CSS and inline SVG; the GX Data Docs pages load their CSS and
scripts from CDNs, which the policy blocks: their tables and text are plain HTML and stay readable
(the GX index page's run table is drawn by script and stays empty: the reports list is the index).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, HTMLResponse

DAG_ID = "sla_audit"
RETENTION_DAG_ID = "backup_retention"
URL_PREFIX = "/sla-reports"
RETENTION_ROUTE = "/retention"  # a backup_retention run's files (plan.csv, summary.json) for its approver
# the audit's hand-off between tasks (prepared.parquet), never served
WORKING_SUFFIXES = frozenset({".parquet", ".pkl"})
COOKIE_NAME = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN

CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
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


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME) or None


async def require_reader(request: Request) -> Any:
    """The Airflow user of the request, allowed to read ``sla_audit``; 401/403 otherwise."""
    return await _reader_of(request, DAG_ID)


async def require_retention_reader(request: Request) -> Any:
    """The Airflow user of the request, allowed to read ``backup_retention``; 401/403 otherwise."""
    return await _reader_of(request, RETENTION_DAG_ID)


async def _reader_of(request: Request, dag_id: str) -> Any:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from jwt import ExpiredSignatureError, InvalidTokenError

    token = _token(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated: log in to Airflow first")
    manager = get_auth_manager()
    try:
        user = await manager.get_user_from_token(token)
    except ExpiredSignatureError:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Token expired: log in to Airflow again") from None
    except InvalidTokenError:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Invalid JWT token") from None
    if not manager.is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Not allowed to read the {dag_id} DAG")
    return user


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


RetentionReader = Annotated[Any, Depends(require_retention_reader)]


@app.get(RETENTION_ROUTE + "/{folder}/{path:path}")
async def retention_file(folder: str, path: str, user: RetentionReader) -> FileResponse:
    """A backup_retention run's file (the approval links its plan.csv here), for readers of that DAG."""
    return _serve(_retention_dir(), folder, path)


def retention_url(folder: str, name: str) -> str:
    """The UI path of a retention run's file (what the approval body links to)."""
    return f"{URL_PREFIX}{RETENTION_ROUTE}/{folder}/{name}"


def _retention_dir() -> Path:
    from di_ops.core.settings import data_dir
    from di_ops.pipelines.retention.settings import retention_settings

    base = Path(retention_settings().reports_folder)
    return (base if base.is_absolute() else data_dir() / base).resolve()


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
