"""The unattended schedules simulated day by day: certificate notices give the lead time of DOMAIN.md §2.

Every region has certificates whose notAfter is spread over 60 days (various hours of the day), and
each region's business calendar has its country's holidays (Christmas, New Year's, ... fall in the
period). Each simulated day the real sweep task bodies run at 05:00 UTC (``start_sweep``,
``probe_task`` against the DI lab over real TLS, ``plan_task``, ``notices_task`` through a real
SMTP server on loopback), and at every window opening of every region (weekend included, as
``MaintenanceWindowTimetable(region, allow_weekend=True)`` schedules it) the renewal run's
``select_renewals`` and ``renew_plan`` run against the lab. One certificate appears in the
inventory late, too late for the full notice.

Checked (DOMAIN.md §2, §4): every certificate is renewed in the window its notice named (no
window is missed, none is planned while it is open: the 05:00 UTC sweep is inside the AMER
window); every notice is sent ≥ 10 business days of its region before the window it names unless
it says SHORT NOTICE, and it says so exactly for the certificates that appeared too late
(computed here from the calendar, independently of the sweep's horizon).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from di_ops.rules.certificates import gives_full_notice, planning_horizon, sweep_plan
from include.lab.server import Lab, NodeSpec

START = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # a Monday, the sweep's hour (05:00 UTC)
DAY = timedelta(days=1)
DAG_ID = "certificate_sweep"
REGIONS = {"AMER": ("US", None), "APJC": ("JP", None), "AUS": ("AU", "ACT"), "EMEA": ("NL", None)}
PER_REGION = 13  # notAfter START + 26 d … START + 86 d: spread over 60 days
LATE_NODE, LATE_DAY, LATE_EXPIRES = "EMEA-late-01", 30, timedelta(days=12)
SIM_DAYS = 90


def _specs() -> dict[str, tuple[str, str, datetime]]:
    """node_id -> (region, customer_id, notAfter)."""
    nodes = {}
    for r, region in enumerate(REGIONS):
        for i in range(PER_REGION):
            hours = (i * 7 + r * 5) % 24
            nodes[f"{region}-cucm-{i:02d}"] = (region, f"C-{region}", START + timedelta(days=26 + 5 * i, hours=hours))
    nodes[LATE_NODE] = ("EMEA", "C-EMEA", START + timedelta(days=LATE_DAY) + LATE_EXPIRES)
    return nodes


NODES = _specs()


def _host(node_id: str) -> str:
    return f"{node_id.lower()}.lead.example"


def _write_inventory(folder: Path, node_ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cluster = {n: f"{NODES[n][1]}-{'late' if n == LATE_NODE else 'cucm'}" for n in node_ids}
    tables = {
        "customers": [
            {"customer_id": f"C-{r}", "name": f"{r} One", "region": r, "partner": f"{r} Partner"} for r in REGIONS
        ],
        "contacts": [
            row
            for r in REGIONS
            for row in (
                {
                    "customer_id": f"C-{r}",
                    "name": "NOC",
                    "email": f"noc@{r.lower()}.example",
                    "phone": "",
                    "role": "partner",
                },
                {
                    "customer_id": f"C-{r}",
                    "name": "IT",
                    "email": f"it@{r.lower()}.example",
                    "phone": "",
                    "role": "customer",
                },
            )
        ],
        "clusters": [
            {
                "cluster_id": c,
                "customer_id": c.rsplit("-", 1)[0],
                "application": "CUCM",
                "sso_enabled": "false",
                "sme_publishing_region": "",
                "version": "15.0 SU2",
            }
            for c in sorted(set(cluster.values()))
        ],
        "nodes": [
            {"node_id": n, "cluster_id": cluster[n], "host": _host(n), "port": "8443", "role": "publisher"}
            for n in node_ids
        ],
    }
    for name, rows in tables.items():
        with (folder / f"{name}.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def _load_inventory(folder: Path, at: datetime) -> None:
    from di_ops.core.inventory import read_inventory
    from di_ops.integrations.opsdb import ops_engine, store_inventory

    inventory = read_inventory(folder)
    assert not inventory.rejects, inventory.rejects
    store_inventory(ops_engine(), inventory, at)


@pytest.fixture
def world(airflow_db, config_copy: Path, tmp_path: Path, data_dir: Path, smtp_sink: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """Holidays on, the ops DB on a SQLite file, the lab serving every node (the late one unlisted yet)."""
    from di_ops.core import settings

    path = config_copy / "regions.yaml"
    text = path.read_text()
    for region, (country, subdiv) in REGIONS.items():
        text = text.replace(
            f"{region}: {{country: null, subdiv: null", f"{region}: {{country: {country}, subdiv: {subdiv or 'null'}"
        )
    path.write_text(text)
    settings.clear_caches()
    ops = tmp_path / "ops.db"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(ops)}))
    specs = [
        NodeSpec(node_id=n, host=_host(n), cluster_id="c", expires_in=not_after - START)
        for n, (_, _, not_after) in NODES.items()
    ]
    lab = Lab(specs, {}, state_dir=tmp_path / "lab", now=START, renewal_validity=timedelta(days=3650)).start()
    monkeypatch.setenv("AIRFLOW_CONN_DI_UC_ADMIN", json.dumps(lab.connection()))
    yield tmp_path, f"sqlite:///{ops}", smtp_sink
    lab.stop()


def _simulate(tmp_path: Path, lookahead_days: int | None) -> list[dict]:
    """Run the schedules from START for SIM_DAYS days; returns each sweep's plan_renewals report."""
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.certificates.renewal import renew_plan, select_renewals, window_dict
    from di_ops.pipelines.certificates.sweep import notices_task, plan_task, probe_task, start_sweep
    from di_ops.rules.maintenance import windows_between

    regular = [n for n in NODES if n != LATE_NODE]
    _write_inventory(tmp_path / "inv-1", regular)
    _load_inventory(tmp_path / "inv-1", START - timedelta(hours=2))
    end = START + SIM_DAYS * DAY
    events = [(START + d * DAY, "sweep", None) for d in range(SIM_DAYS)]
    for region in REGIONS:
        events += [
            (w.start.astimezone(UTC), "window", w) for w in windows_between(region, START, end, allow_weekend=True)
        ]
    reports = []
    engine = ops_engine()
    for at, kind, window in sorted(events, key=lambda e: e[0]):
        if kind == "window":  # the renewal run of this window, at its opening
            for pid in select_renewals(engine, window.region, window_dict(window), None):
                assert renew_plan(engine, pid, dry_run=False, now=at)["result"] == "renewed"
            continue
        if at == START + LATE_DAY * DAY:  # a node added to the inventory: first seen by this sweep
            _write_inventory(tmp_path / "inv-2", [*regular, LATE_NODE])
            _load_inventory(tmp_path / "inv-2", at - timedelta(hours=2))
        run_id = f"scheduled__{at.isoformat()}"
        run = start_sweep(DAG_ID, run_id, at.isoformat(), None, at, None)
        probe_task(DAG_ID, run_id, run)
        reports.append({"as_of": at, **plan_task(DAG_ID, run_id, run, lookahead_days)})
        notices_task(DAG_ID, run_id, run, False, None)
    return reports


def _mails(outbox: Path) -> dict[str, tuple[str, datetime | None]]:
    """Message-ID -> (subject, DTSTART of the .ics) of every message the SMTP server received."""
    out = {}
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes())
        start = None
        for part in message.walk():
            if part.get_filename() == "certificate-renewal.ics":
                line = next(x for x in part.get_payload(decode=True).decode().splitlines() if x.startswith("DTSTART"))
                start = datetime.strptime(line.split(":", 1)[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        out[message["Message-ID"]] = (str(message["Subject"]), start)
    return out


def _first_seen(node_id: str) -> datetime:
    return START + (LATE_DAY * DAY if node_id == LATE_NODE else timedelta(0))


def _too_late(node_id: str) -> bool:
    """Independent: no valid window (DOMAIN.md §4) opening after first sight is 10 business days away."""
    from di_ops.rules.calendar import add_business_days
    from di_ops.rules.maintenance import windows_between

    region, _, not_after = NODES[node_id]
    seen = _first_seen(node_id)
    due = add_business_days(region, seen, 10).astimezone(UTC)
    valid = windows_between(region, not_after - 7 * DAY, not_after - 3 * DAY)
    return not any(w.start.astimezone(UTC) > seen and w.start.astimezone(UTC) >= due for w in valid)


def _sent(url: str) -> list[dict]:
    from sqlalchemy import select

    from di_ops.db.engine import make_engine
    from di_ops.db.schema import notices
    from di_ops.pipelines.certificates.store import utc

    with make_engine(url).connect() as conn:
        rows = conn.execute(select(notices).order_by(notices.c.sent_at)).mappings()
        # SQLite hands timezone columns back naive (stored as UTC)
        return [
            {**r, "sent_at": utc(r["sent_at"]), "created_at": utc(r["created_at"])}
            for r in rows
            if r["dedupe_key"].startswith("certificate:")
        ]


@pytest.mark.slow
def test_every_notice_gives_the_policy_lead_time_and_every_plan_is_carried_out(world) -> None:  # type: ignore[no-untyped-def]
    from di_ops.db.engine import make_engine
    from di_ops.pipelines.certificates.store import all_plans
    from di_ops.rules.calendar import add_business_days

    tmp_path, url, outbox = world
    reports = _simulate(tmp_path, None)

    plans = all_plans(make_engine(url))
    by_node = {p["node_id"]: p for p in plans}
    assert set(by_node) == set(NODES) and len(plans) == len(NODES)  # one plan each: nothing missed
    for node_id, plan in by_node.items():
        region, _, not_after = NODES[node_id]
        assert plan["status"] == "renewed", (node_id, plan["status"], plan["reason"])
        assert plan["not_after"] == not_after and plan["region"] == region
        start = plan["window_start"]
        assert not_after - 7 * DAY <= start <= not_after - 3 * DAY and not plan["window_weekend"]
        assert start > plan["planned_as_of"]  # never a window that had begun (the AMER 05:00 UTC case)
        assert plan["renewed_at"] == start  # renewed by the run of the window it names

    mails = _mails(outbox)
    sent = _sent(url)
    assert len(sent) == len(NODES) == len(mails)  # one notice per certificate, all through SMTP
    too_late = {n for n in NODES if _too_late(n)}
    assert too_late == {LATE_NODE}
    short = set()
    for row in sent:
        node_id = row["entity"]
        region = NODES[node_id][0]
        subject, window_start = mails[row["message_id"]]
        assert subject == row["subject"] and row["status"] == "sent"
        assert window_start == by_node[node_id]["window_start"]  # the notice names the executed window
        full = add_business_days(region, row["sent_at"], 10) <= window_start
        flagged = subject.startswith("SHORT NOTICE: ")
        assert full or flagged, (node_id, row["sent_at"], window_start)
        assert flagged is not full
        if flagged:
            short.add(node_id)
            assert by_node[node_id]["short_notice"] is True
        if node_id == LATE_NODE:
            assert row["sent_at"] == _first_seen(node_id)  # announced on the day it appeared, short
    assert short == too_late

    late_report = next(r for r in reports if r["as_of"] == START + LATE_DAY * DAY)
    assert late_report["short_notice_count"] == 1 and late_report["short_notice"][0]["node_id"] == LATE_NODE
    assert sum(r["short_notice_count"] for r in reports) == 1
    per_region = Counter(NODES[n][0] for n in NODES)
    assert per_region == {"AMER": PER_REGION, "APJC": PER_REGION, "AUS": PER_REGION, "EMEA": PER_REGION + 1}


@pytest.mark.slow
def test_the_old_fixed_21_days_announce_short_and_the_notices_say_so(world) -> None:  # type: ignore[no-untyped-def]
    """The deprecated override still plans, and its notices are honest: short ones say so.

    Over the holidays a fixed 21 days is not enough even though the plan moves to a later valid
    window when that one can still be fully announced (the old code took the earliest window and
    sent 17–60 % of the notices short, unflagged).
    """
    from di_ops.rules.calendar import add_business_days

    tmp_path, url, outbox = world
    _simulate(tmp_path, 21)
    mails = _mails(outbox)
    short: Counter[str] = Counter()
    for row in _sent(url):
        if row["entity"] == LATE_NODE:
            continue
        subject, window_start = mails[row["message_id"]]
        region = NODES[row["entity"]][0]
        full = add_business_days(region, row["sent_at"], 10) <= window_start
        assert subject.startswith("SHORT NOTICE: ") is not full
        short[region] += not full
    shares = {region: short[region] / PER_REGION for region in REGIONS}
    print("short-notice share per region with lookahead_days=21:", shares)
    assert sum(short.values()) > 0


def test_a_notice_sent_later_than_planned_counts_from_its_sending(airflow_db, tmp_path: Path, smtp_sink: Path) -> None:  # type: ignore[no-untyped-def]
    """DOMAIN.md §2: the notice period runs from the moment the notice is sent, not from the plan.

    A dry-run sweep plans with the full notice and records its notice; the real run that sends it
    a week later is short: the mail says so and the plan is marked.
    """
    from di_ops.db.engine import make_engine, upgrade
    from di_ops.pipelines.certificates.notices import send_plan_notices
    from di_ops.pipelines.certificates.store import all_plans, save_observations
    from di_ops.pipelines.certificates.sweep import plan_and_record
    from di_ops.rules.certificates import planning_horizon

    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    not_after = planning_horizon("EMEA", START + DAY)  # planned on START, fully announced then
    row = {
        "node_id": "n1",
        "snapshot_id": "s1",
        "customer_id": "C-EMEA",
        "cluster_id": "C-EMEA-cucm",
        "region": "EMEA",
        "host": "n1.example",
        "port": 8443,
        "observed_at": START,
        "source": "tls",
        "status": "ok",
        "error": None,
        "trust": "trusted",
        "subject": "CN=n1",
        "sans": ["n1.example"],
        "issuer": "CN=ca",
        "serial": "s-1",
        "not_before": START - 300 * DAY,
        "not_after": not_after,
        "chain_earliest_not_after": not_after,
        "chain_length": 2,
    }
    save_observations(engine, DAG_ID, "r1", [row])
    assert plan_and_record(engine, DAG_ID, "r1", START, None, {})["short_notice_count"] == 0
    contacts = {"C-EMEA": [{"email": "noc@emea.example", "role": "partner"}]}
    assert send_plan_notices(engine, DAG_ID, "r1", contacts, START, dry_run=True) == {"dry_run": 1}
    assert all_plans(engine)[0]["short_notice"] is False and list(smtp_sink.glob("*.eml")) == []

    assert send_plan_notices(engine, DAG_ID, "r2", contacts, START + 7 * DAY, dry_run=False) == {"sent": 1}
    (mail,) = [message_from_bytes(p.read_bytes()) for p in smtp_sink.glob("*.eml")]
    assert mail["Subject"].startswith("SHORT NOTICE: Planned certificate renewal")
    assert all_plans(engine)[0]["short_notice"] is True


# --- the derived horizon (rules.certificates.planning_horizon) -------------------------------


def test_holidays_lengthen_the_horizon(config_copy) -> None:  # type: ignore[no-untyped-def]
    from di_ops.core import settings

    sweep = datetime(2026, 12, 16, 5, tzinfo=UTC)  # Wednesday; 10 business days run over Christmas
    plain = planning_horizon("EMEA", sweep)
    path = config_copy / "regions.yaml"
    path.write_text(path.read_text().replace("EMEA: {country: null", "EMEA: {country: NL"))
    settings.clear_caches()
    with_holidays = planning_horizon("EMEA", sweep)
    # NL: Christmas Day (Friday 25th; Boxing Day is a Saturday) falls in the 10 business days
    assert plain == datetime(2026, 12, 30, 6, tzinfo=ZoneInfo("Europe/Amsterdam")) + 7 * DAY
    assert with_holidays - plain == DAY
    assert planning_horizon("AMER", sweep) < with_holidays


@settings(max_examples=150, deadline=None)
@given(
    region=st.sampled_from(sorted(REGIONS)),
    day=st.dates(min_value=datetime(2024, 1, 1).date(), max_value=datetime(2027, 12, 31).date()),
    hour=st.integers(min_value=0, max_value=23),
    beyond=st.timedeltas(min_value=timedelta(microseconds=1), max_value=40 * DAY),
)
@example(region="AMER", day=datetime(2026, 11, 30).date(), hour=5, beyond=timedelta(microseconds=1))
def test_a_certificate_left_for_the_next_sweep_still_gets_the_full_notice(
    region: str, day: date, hour: int, beyond: timedelta
) -> None:
    """Invariant of the derived lead time: not planned at one sweep → fully announced at the next."""
    sweep = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)
    following = sweep + DAY
    not_after = planning_horizon(region, following) + beyond  # not due at ``sweep``
    plan = sweep_plan(not_after, region, following)
    assert plan.status == "scheduled" and not plan.short_notice and plan.window is not None
    assert gives_full_notice(plan.window, following) and plan.window.start.astimezone(UTC) > following
