"""The operations console: a FastAPI app the Airflow api-server mounts at ``/di-ops`` (di_ops_plugin).

Routes (docs/console.md):
- ``/calendar`` the change calendar page; ``/calendar.json`` the same data; ``/calendar.ics`` the
  filtered changes as an iCalendar file. Query: ``region``, ``customer``, ``kind``, ``state``
  (repeatable or comma-separated), ``past_days``, ``coming_days``, ``as_of`` (RFC 3339; default now).
- ``/customers`` the latest inventory's customers; ``/customers/{id}`` one customer's page (query
  ``as_of`` as above: the instant the release verdicts are judged at).

Airflow's own login and permissions (``orchestration.web_auth``): anonymous → 401; a user sees the
changes of the pipelines whose DAG they may read (certificate_sweep, upgrade_eligibility,
cop_upload) and gets 403 when that is none. Pages are server-rendered from Jinja2 templates with no
script and no CDN, under a strict Content-Security-Policy. Light to import: no I/O at module level.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

URL_PREFIX = "/di-ops"
# the DAG whose read permission shows a kind of change (the uid's prefix)
DAG_OF_CHANGE = {"certificate": "certificate_sweep", "upgrade": "upgrade_eligibility", "cop": "cop_upload"}
CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)

app = FastAPI(title="di-ops console", docs_url=None, redoc_url=None, openapi_url=None)


@app.middleware("http")
async def security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def console_user(request: Request) -> tuple[Any, frozenset[str]]:
    """The user and the change kinds (uid prefixes) they may see; 401/403 as in web_auth. What a
    page shows beyond that is decided per page by the user's DAG read permissions."""
    from di_ops.orchestration.web_auth import airflow_user, may_read

    user = await airflow_user(request)
    return user, frozenset(prefix for prefix, dag_id in DAG_OF_CHANGE.items() if may_read(user, dag_id))


ConsoleUser = Annotated[tuple[Any, frozenset[str]], Depends(console_user)]


def _need_any(readable: frozenset[str] | set[str], dag_ids: list[str] | tuple[str, ...]) -> None:
    if not readable:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to read any of " + ", ".join(sorted(dag_ids)))


def run_link(dag_id: str, run_id: str) -> str:
    """The Airflow UI page of a DAG run."""
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _as_of(request: Request) -> datetime:
    raw = request.query_params.get("as_of")
    if not raw:
        return datetime.now(UTC)
    from di_ops.rules.timestamps import parse_instant

    try:
        return parse_instant(raw)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"as_of: {exc}") from None


def _calendar_inputs(request: Request, readable: frozenset[str]) -> tuple[Any, list[Any], datetime, list[str]]:
    from di_ops.orchestration.console.calendar import parse_filters
    from di_ops.rules.common import known_regions

    _need_any(readable, tuple(DAG_OF_CHANGE.values()))
    regions = list(known_regions())
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    try:
        filters = parse_filters(query, regions)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    changes = [c for c in load_changes() if c.uid.split("-", 1)[0] in readable]
    return filters, changes, _as_of(request), regions


def load_changes() -> list[Any]:
    """Every change in the ops DB; none before the first pipeline run created the tables."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from di_ops.integrations.opsdb import ops_engine
    from di_ops.orchestration.console.changes import all_changes

    try:
        return all_changes(ops_engine(migrate=False))
    except (OperationalError, ProgrammingError):
        return []


@app.get("/calendar", response_class=HTMLResponse)
async def calendar_page(request: Request, who: ConsoleUser) -> HTMLResponse:
    from di_ops.core.templating import render
    from di_ops.orchestration.console.calendar import build_calendar, unplaced
    from di_ops.orchestration.console.changes import KINDS, STATES

    filters, changes, as_of, regions = _calendar_inputs(request, who[1])
    html = render(
        "console_calendar.html.j2",
        as_of=as_of,
        calendars=build_calendar(changes, filters, as_of=as_of, regions=regions),
        unplaced=unplaced(changes, filters),
        filters=filters,
        regions=regions,
        kinds=KINDS,
        states=STATES,
        customers=sorted({c.customer_id for c in changes}),
        run_link=run_link,
        report_url=report_url,
        utc_zone=UTC,
        query=request.url.query,
        prefix=URL_PREFIX,
    )
    return HTMLResponse(html)


@app.get("/calendar.json")
async def calendar_json(request: Request, who: ConsoleUser) -> JSONResponse:
    from di_ops.orchestration.console.calendar import as_json, build_calendar, unplaced

    filters, changes, as_of, regions = _calendar_inputs(request, who[1])
    data = as_json(build_calendar(changes, filters, as_of=as_of, regions=regions), as_of=as_of, filters=filters)
    data["unplaced"] = [c.as_json() for c in unplaced(changes, filters)]
    return JSONResponse(data)


@app.get("/calendar.ics")
async def calendar_ics(request: Request, who: ConsoleUser) -> Response:
    from di_ops.orchestration.console.calendar import in_range
    from di_ops.orchestration.console.ics_export import calendar_ics as to_ics

    filters, changes, as_of, _ = _calendar_inputs(request, who[1])
    body = to_ics(in_range(changes, filters, as_of=as_of), dtstamp=as_of)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="di-ops-changes.ics"'},
    )


def _engine() -> Any:
    from di_ops.integrations.opsdb import ops_engine

    return ops_engine(migrate=False)


def _page(name: str, **context: Any) -> HTMLResponse:
    from di_ops.core.templating import render

    return HTMLResponse(
        render(name, run_link=run_link, report_url=report_url, utc_zone=UTC, prefix=URL_PREFIX, **context)
    )


@app.get("/customers", response_class=HTMLResponse)
async def customers_page(who: ConsoleUser) -> HTMLResponse:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from di_ops.orchestration.console.customer import customers

    _customer_sections(who[0])
    try:
        snapshot, listed = customers(_engine())
    except (OperationalError, ProgrammingError):  # no pipeline has created the ops DB yet
        snapshot, listed = None, []
    return _page("console_customers.html.j2", snapshot_id=snapshot, customers=listed)


@app.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(customer_id: str, request: Request, who: ConsoleUser) -> HTMLResponse:
    from di_ops.orchestration.console.customer import customer_view

    sections = _customer_sections(who[0])
    as_of = _as_of(request)
    view = customer_view(_engine(), customer_id, as_of=as_of)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such customer in the latest inventory snapshot")
    readable = _readable(who[0])
    view.notices = [n for n in view.notices if readable(n["dag_id"])]  # only notices of readable DAGs
    return _page("console_customer.html.j2", view=view, shown=sections, as_of=as_of)


def _customer_sections(user: Any) -> set[str]:
    """The customer page's sections ``user`` may read (its pipeline's DAG); 403 when none."""
    from di_ops.orchestration.console.customer import SECTION_DAGS
    from di_ops.orchestration.web_auth import may_read

    shown = {section for section, dag_id in SECTION_DAGS.items() if may_read(user, dag_id)}
    _need_any(shown, tuple(SECTION_DAGS.values()))
    return shown


# --- reports hub ---------------------------------------------------------------------------------

INLINE_SUFFIXES = frozenset({".html", ".css", ".png", ".gif", ".jpg", ".jpeg", ".svg", ".ico", ".woff", ".woff2"})


def _readable(user: Any) -> Any:
    from functools import cache

    from di_ops.orchestration.web_auth import may_read

    @cache
    def check(dag_id: str) -> bool:
        dag = "certificate_sweep" if dag_id.startswith("certificate_renewal_") else dag_id
        return may_read(user, dag)

    return check


def _day(request: Request, name: str) -> Any:
    from datetime import date

    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


@app.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, who: ConsoleUser) -> HTMLResponse:
    from di_ops.orchestration.console import reports

    pipeline = request.query_params.get("pipeline") or None
    if pipeline is not None and pipeline not in reports.PIPELINES:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"pipeline: {pipeline!r} not one of {', '.join(reports.PIPELINES)}"
        )
    since, until = _day(request, "since"), _day(request, "until")
    from sqlalchemy.exc import OperationalError, ProgrammingError

    found = [r for src in reports.SOURCES for r in reports.file_reports(src)]
    try:
        found += reports.certificate_reports(_engine())
    except (OperationalError, ProgrammingError):  # no ops DB yet: the file reports still show
        pass
    readable = _readable(who[0])
    _need_any(
        {d for src in reports.SOURCES for d in src.dag_ids if readable(d)}
        | {d for d in reports.CERTIFICATE_DAGS if readable(d)},
        [d for src in reports.SOURCES for d in src.dag_ids] + list(reports.CERTIFICATE_DAGS),
    )
    shown = reports.select_reports(found, readable=readable, pipeline=pipeline, since=since, until=until)
    return _page(
        "console_reports.html.j2",
        reports=shown,
        pipelines=reports.PIPELINES,
        pipeline=pipeline,
        since=since,
        until=until,
        file_url=file_url,
    )


def file_url(pipeline: str, folder: str, path: str = "") -> str:
    """The console's URL of a run's file (``path`` empty: a per-run file such as COP's JSON report)."""
    tail = f"{quote(folder, safe='')}/{quote(path)}" if path else quote(folder, safe="")
    return f"{URL_PREFIX}/reports/files/{pipeline}/{tail}"


def report_url(dag_id: str, run_id: str) -> str:
    """The console's page of one DAG run (its reports): the DAG-run tab and the approval link here."""
    return f"{URL_PREFIX}/reports/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"


@app.get("/reports/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
async def run_page(dag_id: str, run_id: str, who: ConsoleUser) -> HTMLResponse:
    from di_ops.orchestration.console import reports
    from di_ops.orchestration.console.run_facts import run_facts

    if not _readable(who[0])(dag_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Not allowed to read the {dag_id} DAG")
    found = reports.find_run(dag_id, run_id)
    files: list[str] = []
    summary: dict[str, Any] = {}
    pipeline = None
    if found is not None:
        src, name = found
        pipeline = src.pipeline
        files = reports.run_files(src, name) if src.per_run == "folder" else []
        summary = reports.summary_of(src, name)
    facts = run_facts(_engine(), dag_id, run_id)
    return _page(
        "console_run.html.j2",
        dag_id=dag_id,
        run_id=run_id,
        pipeline=pipeline,
        folder=found[1] if found else None,
        per_run=found[0].per_run if found else None,
        files=files,
        summary=summary,
        facts=facts,
        file_url=file_url,
    )


@app.get("/reports/files/{pipeline}/{rest:path}")
async def report_file(pipeline: str, rest: str, who: ConsoleUser) -> Response:
    from fastapi.responses import FileResponse

    from di_ops.orchestration.console import reports

    src = reports.source(pipeline)
    if src is None or not any(_readable(who[0])(d) for d in src.dag_ids):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such report file")
    target = reports.report_file(src, rest)
    if target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such report file")
    if target.suffix.lower() in INLINE_SUFFIXES:
        return FileResponse(target)
    return FileResponse(target, filename=target.name, content_disposition_type="attachment")


# --- metrics ---------------------------------------------------------------------------------------


async def metrics_reader(request: Request) -> None:
    """``console.yaml: metrics.auth``: an Airflow login (any DAG readable), or the bearer token of the
    environment variable ``metrics.token_env`` (compared in constant time; unset → 503, never open)."""
    import hmac
    import os

    from di_ops.orchestration.console.settings import console_settings
    from di_ops.orchestration.web_auth import request_token

    settings = console_settings().metrics
    if settings.auth == "login":  # the figures come from every pipeline: a reader of all of them
        from di_ops.orchestration.console.metrics import SOURCE_DAGS
        from di_ops.orchestration.web_auth import airflow_user, may_read

        user = await airflow_user(request)
        missing = [dag_id for dag_id in SOURCE_DAGS if not may_read(user, dag_id)]
        if missing:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to read " + ", ".join(missing))
        return
    expected = os.environ.get(settings.token_env, "")
    if not expected:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"metrics token not configured: set {settings.token_env}"
        )
    given = request_token(request)
    if not given:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "metrics need a bearer token")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong metrics token")


@app.get("/metrics", dependencies=[Depends(metrics_reader)])
async def metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from di_ops.orchestration.console.metrics import exposition
    from di_ops.orchestration.console.settings import console_settings

    try:
        body = exposition(_engine(), now=datetime.now(UTC), coming_days=console_settings().metrics.coming_days)
    except (OperationalError, ProgrammingError):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the ops DB is not there yet") from None
    return Response(body, media_type=CONTENT_TYPE_LATEST)
