"""The month's promises, each a check over the collected outcomes that names the day it fails on.

Oracles are independent of the code under test: the retention rule of DOMAIN.md §3 is recomputed from what
the simulation wrote into the store; housekeeping's ages come from its settings file and the entries' file
times; windows and business days are recomputed from the region's zone (DOMAIN.md §1, §7).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.simulation import world as w

ZONES = {"AMER": "America/New_York", "APJC": "Asia/Tokyo", "AUS": "Australia/Sydney", "EMEA": "Europe/Amsterdam"}
KEEP_LATEST, KEEP_GOOD_DAYS, KEEP_BAD_DAYS = 3, 33, 3  # policy.yaml retention (DOMAIN.md §3)


def day(at: datetime) -> str:
    return f"day {(at - w.START).days} ({at:%a %d %b %H:%M} UTC)"


# --- housekeeping --------------------------------------------------------------------------------


def housekeeping_folders(data: Path, settings: Any) -> list[Path]:
    folders = [data / f.path for f in settings.folders.values()]
    for store in settings.gx_stores.values():
        folders += [data / store.validations]
    return folders


def newest(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    times = [path.stat().st_mtime]
    for folder, _, files in os.walk(path):
        times += [os.stat(os.path.join(folder, f)).st_mtime for f in files]
    return max(times)


class HousekeepingWatch:
    """Before each ops_housekeeping run: every entry of its folders with its newest file time; after: what went."""

    def __init__(self, data: Path, folders: list[Path]) -> None:
        from di_ops.pipelines.housekeeping.settings import housekeeping_settings

        self.settings = housekeeping_settings()
        self.keep = {data / f.path: f.keep_days for f in self.settings.folders.values()}
        self.folders = folders
        self.before_entries: dict[Path, float] = {}
        self.deleted: list[tuple[datetime, Path, float]] = []

    def before(self, dag_id: str, at: datetime) -> None:
        if dag_id == "ops_housekeeping":
            self.before_entries = {
                entry: newest(entry)
                for f in self.keep
                if f.is_dir()
                for entry in f.iterdir()
                if not entry.name.startswith(".")
            }

    def after(self, outcome: Any) -> None:
        if outcome.dag_id != "ops_housekeeping":
            return
        for entry, mtime in self.before_entries.items():
            if not entry.exists():
                self.deleted.append((outcome.at, entry, (outcome.at.timestamp() - mtime) / 86400))

    def failures(self) -> list[str]:
        out = []
        guard = self.settings.active_guard_hours / 24
        for at, entry, age in self.deleted:
            keep = self.keep[entry.parent]
            if age <= keep or age <= guard:
                out.append(f"housekeeping on {day(at)} deleted {entry.name} aged {age:.1f} d (keep {keep} d)")
        return out


# --- retention -----------------------------------------------------------------------------------


class RetentionWatch:
    """The DOMAIN.md §3 keep-set of every night, recomputed from what was written; what each night deleted."""

    def __init__(self, store: w.BackupStore) -> None:
        self.store = store
        self.nights: list[dict[str, Any]] = []
        self._alive: set[str] = set()
        self._keep: set[str] = set()

    def before(self, dag_id: str, at: datetime) -> None:
        if dag_id != "backup_retention":
            return
        self._alive = self.store.alive()
        by_series: dict[str, list[w.Backup]] = defaultdict(list)
        for rel in self._alive:
            by_series[self.store.backups[rel].series].append(self.store.backups[rel])
        keep: set[str] = set()
        for backups in by_series.values():
            good = sorted((b for b in backups if b.good), key=lambda b: b.taken_at, reverse=True)
            keep |= {b.path for b in good[:KEEP_LATEST]}
            keep |= {b.path for b in good if at - b.taken_at <= timedelta(days=KEEP_GOOD_DAYS)}
            keep |= {b.path for b in backups if not b.good and at - b.taken_at <= timedelta(days=KEEP_BAD_DAYS)}
        self._keep = keep
        self._series = by_series

    def after(self, outcome: Any) -> None:
        if outcome.dag_id != "backup_retention":
            return
        alive = self.store.alive()
        deleted = self._alive - alive
        short = []
        for series, backups in self._series.items():
            good = [b for b in backups if b.good]
            left = [b for b in good if b.path in alive]
            if len(left) < min(KEEP_LATEST, len(good)):
                short.append(series)
        self.nights.append(
            {"at": outcome.at, "deleted": deleted, "wrongly": deleted & self._keep, "short": short,
             "prunable": (self._alive - self._keep)}
        )  # fmt: skip

    def failures(self) -> list[str]:
        out = []
        for night in self.nights:
            for rel in sorted(night["wrongly"])[:3]:
                out.append(f"backup_retention on {day(night['at'])} deleted {rel}, which DOMAIN.md §3 keeps")
            for series in night["short"][:3]:
                out.append(f"backup_retention on {day(night['at'])} left {series} with fewer than min(3, good)")
            missing = night["prunable"] - night["deleted"]
            if missing:
                out.append(
                    f"backup_retention on {day(night['at'])} kept {len(missing)} prunable backups, e.g. {sorted(missing)[0]}"
                )
        return out


# --- mail ----------------------------------------------------------------------------------------


def mails(outbox: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes())
        body, ics = "", ""
        for part in message.walk():
            if part.get_content_type() == "text/html":
                body += part.get_payload(decode=True).decode()
            if part.get_content_type() == "text/calendar" or (part.get_filename() or "").endswith(".ics"):
                ics += part.get_payload(decode=True).decode()
        to = tuple(sorted(a.strip() for a in str(message["To"]).split(",")))
        out.append(
            {"subject": str(message["Subject"]), "to": to, "body": body, "ics": ics, "id": message["Message-ID"]}
        )
    return out


def mail_failures(all_mail: list[dict[str, Any]]) -> list[str]:
    seen = Counter((m["subject"], m["to"], m["body"]) for m in all_mail)
    return [f"e-mail sent {n} times: {key[0]!r} to {key[1]}" for key, n in seen.items() if n > 1]


def is_alert(mail: dict[str, Any]) -> bool:
    return "di-ops-oncall@localhost" in mail["to"] or mail["subject"].upper().startswith(
        ("ALERT", "MISSED", "EMERGENCY CERT")
    )


# --- the whole month -----------------------------------------------------------------------------


def run_failures(sim: Any) -> list[str]:
    return [f"{o.dag_id} failed on {day(o.at)}: {o.error}" for o in sim.outcomes if o.state != "success"]


def probe_failures(sim: Any) -> list[str]:
    return [f"an elided {d} slot on {day(at)} was not a no-op: {found}" for d, at, found in sim.probes if found]


def sla_failures(sim: Any) -> list[str]:
    days = {(o.at - w.START).days for o in sim.outcomes if o.dag_id == "sla_audit" and o.state == "success"
            and Path(o.result["report"].get("html", o.result["plan"]["run_dir"])).exists()}  # fmt: skip
    return [f"no SLA report on day {d}" for d in range(w.DAYS) if d not in days]


def all_failures(month: dict[str, Any]) -> list[str]:
    sim = month["sim"]
    return [
        *run_failures(sim),
        *probe_failures(sim),
        *month["retention"].failures(),
        *month["housekeeping"].failures(),
        *sla_failures(sim),
        *mail_failures(mails(month["world"].outbox)),
        *certificate_failures(month),
        *upgrade_failures(month),
        *incident_failures(month),
        *capacity_failures(month),
        *backup_health_failures(month),
        *alert_failures(month),
    ]


def summary(month: dict[str, Any]) -> str:
    sim = month["sim"]
    runs = Counter(o.dag_id for o in sim.outcomes)
    seconds = defaultdict(float)
    for o in sim.outcomes:
        seconds[o.dag_id] += o.seconds
    all_mail = mails(month["world"].outbox)
    lines = [f"simulated {w.START:%Y-%m-%d} .. {w.END:%Y-%m-%d} in {month['seconds']:.0f} s wall time"]
    lines.append(f"{'DAG':32} {'timetable':>9} {'run':>5} {'s':>6}")
    for dag_id in sorted(sim.scheduled_counts):
        lines.append(f"{dag_id:32} {sim.scheduled_counts[dag_id]:9d} {runs[dag_id]:5d} {seconds[dag_id]:6.1f}")
    deleted = sum(len(n["deleted"]) for n in month["retention"].nights)
    lines.append(f"backups deleted: {deleted} over {len(month['retention'].nights)} nights; "
                 f"housekeeping deleted: {[e.name for _, e, _ in month['housekeeping'].deleted]}")  # fmt: skip
    lines.append(f"elided slots probed: {len(sim.probes)}; retried task tries: {len(sim.tries)}")
    kinds = Counter(m["subject"].split(":")[0] for m in all_mail)
    lines.append(f"e-mails: {len(all_mail)} {dict(kinds)}")
    lines.append(f"alerts: {[m['subject'] for m in all_mail if is_alert(m)]}")
    return "\n".join(lines)


# --- certificates (DOMAIN.md §4) and upgrades (DOMAIN.md §2) ---------------------------------------


def window_region(world: Any, cluster_id: str) -> str:
    row = next(c for c in world.fleet.rows["clusters"] if c["cluster_id"] == cluster_id)
    return row["sme_publishing_region"] or world.fleet.region(row["customer_id"])


def weekday_opening(region: str, start: datetime) -> bool:
    local = start.astimezone(ZoneInfo(ZONES[region]))
    return local.hour == 21 and local.minute == 0 and local.weekday() < 5


def certificate_failures(month: dict[str, Any]) -> list[str]:
    from di_ops.db.engine import make_engine
    from di_ops.pipelines.certificates.store import all_plans

    world, sim = month["world"], month["sim"]
    renewed_in: dict[str, datetime] = {}
    for o in sim.outcomes:
        if o.dag_id.startswith("certificate_renewal_") and o.state == "success":
            for pid, result in o.result["renewed"].items():
                if result["result"] == "renewed":
                    renewed_in[pid] = datetime.fromisoformat(o.result["window"]["start"])
    plans = all_plans(make_engine(world.ops_url))
    out = []
    cluster_of = {n["node_id"]: n["cluster_id"] for n in world.fleet.nodes()}
    for node, not_after in sorted(world.expiries.items()):
        if not_after - timedelta(days=3) >= w.END:
            continue
        done = [p for p in plans if p["node_id"] == node and p["plan_id"] in renewed_in]
        if not done:
            out.append(f"certificate of {node} (notAfter {not_after:%d %b %H:%M}) was not renewed in the month")
            continue
        start = renewed_in[done[0]["plan_id"]]
        region = window_region(world, cluster_of[node])
        in_range = not_after - timedelta(days=7) <= start <= not_after - timedelta(days=3)
        if not (in_range and weekday_opening(region, start)) and node != w.LATE_NODE:
            out.append(f"{node} renewed on {day(start)}: not a weekday {region} window in [notAfter-7d, notAfter-3d]")
        if node == w.LATE_NODE and not (w.LATE_NODE_SEEN < start < not_after):
            out.append(f"the emergency {node} was renewed on {day(start)}, not before its notAfter")
    for node, _ in world.expiries.items():
        if node == w.LATE_NODE or world.expiries[node] - timedelta(days=3) < w.END:
            after = datetime.fromisoformat(world.lab.certificate(node)["not_after"])
            if after <= w.END:
                out.append(f"certificate of {node} expires {after:%d %b} (inside the month): not renewed")
    # the lab refused the first renewal call once (503 + Retry-After): it was asked again and renewed
    calls = [h["action"] for h in world.lab.history if h["target"] == w.REFUSED_ONCE]
    if calls[:2] != ["renew_refused", "renew"]:
        out.append(f"the injected refusal of {w.REFUSED_ONCE}'s renewal was not followed by a renewal: {calls}")
    return out


def add_business_days(region: str, start: datetime, days: int) -> datetime:
    """DOMAIN.md §7: N × 24 h of Monday-Friday local time (no holidays configured by default)."""
    zone = ZoneInfo(ZONES[region])
    left, t = timedelta(days=days), start.astimezone(zone)
    while True:
        midnight = datetime.combine(t.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        if t.weekday() < 5:
            span = midnight.astimezone(UTC) - t.astimezone(UTC)
            if span >= left:
                return (t.astimezone(UTC) + left).astimezone(UTC)
            left -= span
        t = midnight


def run_instant(run_id: str) -> datetime:
    return datetime.fromisoformat(run_id.split("__", 1)[1])


def upgrade_failures(month: dict[str, Any]) -> list[str]:
    from sqlalchemy import select

    from di_ops.db.engine import make_engine
    from di_ops.db.schema import notices
    from di_ops.db.tables_upgrades import upgrade_plans
    from di_ops.pipelines.upgrades.store import plan_events, utc

    world = month["world"]
    engine = make_engine(world.ops_url)
    by_id = {m["id"]: m for m in mails(world.outbox)}
    out = []
    with engine.connect() as conn:
        sent = [dict(r) for r in conn.execute(select(notices)).mappings()]
        plans = [dict(r) for r in conn.execute(select(upgrade_plans)).mappings()]
    region_of = {p["upgrade_id"]: p["window_region"] for p in plans}
    for row in sent:
        subject = row["subject"]
        if not subject.startswith(("Planned upgrade", "Re-planned upgrade")):
            continue
        mail = by_id.get(row["message_id"])
        line = next((x for x in (mail or {}).get("ics", "").splitlines() if x.startswith("DTSTART")), None)
        if line is None:
            out.append(f"upgrade notice {subject!r} has no .ics DTSTART")
            continue
        window = datetime.strptime(line.split(":", 1)[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        region = next((r for uid, r in region_of.items() if uid.split("~")[0] in subject), "EMEA")
        due = add_business_days(region, utc(row["sent_at"]), 10)
        if window < due:
            out.append(
                f"upgrade notice {subject!r} sent {day(utc(row['sent_at']))} names {window:%d %b}: < 10 business days"
            )
    missed = set()
    for plan in plans:
        events = plan_events(engine, plan["upgrade_id"])
        misses = [e for e in events if e["action"] == "miss"]
        if misses:  # the window stored now is the re-planned one: the miss names the one that closed
            missed.add(plan["customer_id"])
            if not any(e["action"] == "replan" and e["id"] > misses[0]["id"] for e in events):
                out.append(
                    f"upgrade {plan['upgrade_id']} missed on {day(run_instant(misses[0]['run_id']))}: not re-planned"
                )
            continue
        end = utc(plan["window_end"])
        if plan["state"] == "cancelled" or end + timedelta(days=1) > w.END:
            continue
        # judged by the run whose instant is in its run id (the event's "at" is when it was recorded)
        done = [e for e in events if e["action"] == "complete" and run_instant(e["run_id"]) <= end + timedelta(days=1)]
        if not done:
            out.append(f"upgrade {plan['upgrade_id']} (window ended {day(end)}) neither done nor missed the day after")
    if missed != set(w.MISSED_CUSTOMERS):
        out.append(f"missed upgrades for customers {sorted(missed)}, expected {list(w.MISSED_CUSTOMERS)}")
    return out


def alert_failures(month: dict[str, Any]) -> list[str]:
    """No alert except for the injected faults (the late emergency certificate, the missed upgrades, the
    capacity breach of the customer whose expansion is approved only in the month) and what
    the TAC data itself calls for: an S1/S2 case without a timely first response (DOMAIN.md §7a), a case of
    the customer whose contacts arrive late (DOMAIN.md §2 contact data), the daily S3/S4 digest."""
    out = []
    cases = export_cases(month["world"].data)
    overdue_by_store = overdue_alerts_the_store_calls_for(month)
    for mail in mails(month["world"].outbox):
        if not is_alert(mail):
            continue
        subject = mail["subject"]
        late = subject.startswith("EMERGENCY certificate renewal") and w.host(w.LATE_NODE) in subject
        missed = subject.startswith("MISSED upgrade window") and any(f" {c}-" in subject for c in w.MISSED_CUSTOMERS)
        escalate = subject.startswith("[di-ops] ESCALATE") and _unanswered_in_time(cases, subject.split(" case ")[1])
        gap = subject.startswith("[di-ops] DATA GAP") and f" for {w.LATE_CONTACTS[0]}," in subject
        digest = subject.startswith("[di-ops] TAC case digest")
        capacity = subject.startswith(f"[di-ops] Capacity breach: {w.CAPACITY_BREACH[0]} ")
        overdue = subject.startswith("[di-ops] Backups overdue: ") and subject in overdue_by_store
        if not (late or missed or escalate or gap or digest or capacity or overdue):
            out.append(f"unexpected alert: {subject!r}")
    return out


# --- incidents (DOMAIN.md §7a) ---------------------------------------------------------------------

OBJECTIVE = {"S1": timedelta(minutes=15), "S2": timedelta(minutes=30)}  # policy.yaml (DOMAIN.md §7)


def export_cases(data: Path) -> dict[str, dict[str, str]]:
    """Every case of every export in the folder (the latest file's row wins), read with the stdlib."""
    import csv

    rows: dict[str, dict[str, str]] = {}
    for path in sorted((data / "sla" / "exports").glob("*.csv"), key=lambda p: p.stat().st_mtime):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                rows[row["case_id"]] = row
    return rows


def _instant(text: str) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _unanswered_in_time(cases: dict[str, dict[str, str]], rest: str) -> bool:
    """The ESCALATE subject's case (``TAC-... (C00x): ...``) is S1/S2 with no first response within its objective."""
    case = cases.get(rest.split(" ", 1)[0])
    if case is None or case["severity"] not in OBJECTIVE:
        return False
    opened, answered = _instant(case["opened_at"]), _instant(case["first_response_at"])
    return opened is not None and (answered is None or answered > opened + OBJECTIVE[case["severity"]])


def incident_failures(month: dict[str, Any]) -> list[str]:
    """Every incident reported as it happens gets one proactive e-mail to its partner contacts within its
    objective; every S1/S2 e-mail names a case that is S1/S2 in the exports; none twice (mail_failures)."""
    from sqlalchemy import select

    from di_ops.db import schema
    from di_ops.integrations.opsdb import ops_engine

    out = []
    cases = export_cases(month["world"].data)
    with ops_engine().connect() as conn:
        sent = {
            r.dedupe_key: r
            for r in conn.execute(
                select(schema.notices.c.dedupe_key, schema.notices.c.sent_at, schema.notices.c.recipients).where(
                    schema.notices.c.kind == "incident_notice"
                )
            )
        }
    for number, (arrival, severity, customer) in enumerate(w.LIVE_INCIDENTS, start=1):
        key = f"incident:TAC-L{number:02d}:{severity}"
        row = sent.get(key)
        opened = arrival - w.LIVE_OPENED_BEFORE
        if row is None or row.sent_at is None:
            out.append(f"no proactive notice for {severity} incident TAC-L{number:02d} of {customer} ({day(arrival)})")
            continue
        at = row.sent_at if row.sent_at.tzinfo else row.sent_at.replace(tzinfo=UTC)
        if at > opened + OBJECTIVE[severity]:
            out.append(f"proactive notice for TAC-L{number:02d} sent {at - opened} after opening ({day(arrival)})")
        if not any(str(r).startswith("noc@") for r in row.recipients):
            out.append(f"proactive notice for TAC-L{number:02d} went to {row.recipients}, not the partner")
    for key in sent:
        _, case_id, severity = key.split(":")
        if cases.get(case_id, {}).get("severity") != severity:
            out.append(f"a proactive notice for {case_id} as {severity}, which the exports do not hold")
    return out


# --- capacity (DOMAIN.md §8) ------------------------------------------------------------------------


def capacity_failures(month: dict[str, Any]) -> list[str]:
    """The customer above its declared devices is alerted once, on the first weekly audit, and no more once
    its expansion is approved; every weekly audit writes its report; no other customer breaches."""
    out = []
    customer, approved = w.CAPACITY_BREACH
    runs = [o for o in month["sim"].outcomes if o.dag_id == "capacity_audit"]
    if not runs:
        return ["capacity_audit never ran"]
    from di_ops.pipelines.capacity.audit import read_audit

    for o in runs:
        verdicts = {c["customer_id"]: c["verdict"] for c in read_audit(o.result["audited"]["folder"])["customers"]}
        expected = "breach" if o.at < approved else None
        if expected and verdicts.get(customer) != expected:
            out.append(f"capacity_audit on {day(o.at)}: {customer} is {verdicts.get(customer)}, not a breach")
        if not expected and verdicts.get(customer) == "breach":
            out.append(f"capacity_audit on {day(o.at)}: {customer} still a breach after its expansion")
        others = sorted(c for c, v in verdicts.items() if v == "breach" and c != customer)
        if others:
            out.append(f"capacity_audit on {day(o.at)}: unexpected breaches {others}")
        if not Path(o.result["report"]["report"]).is_file():
            out.append(f"capacity_audit on {day(o.at)}: no report")
    alerts = [m for m in mails(month["world"].outbox) if m["subject"].startswith("[di-ops] Capacity breach")]
    if len(alerts) != 1:
        out.append(f"{len(alerts)} capacity breach alerts, expected one ({customer}, first audit)")
    return out


# --- backup health (DOMAIN.md §3 freshness) ------------------------------------------------------------


def overdue_alerts_the_store_calls_for(month: dict[str, Any]) -> set[str]:
    """Subjects of the backup_health alerts the oracle agrees with: a series whose last two nights (from
    18:00 local two days before the run, in the cluster's window region) hold no good backup. The month's
    backups fail at random (5 %), so two failed nights in a row happen."""
    from sqlalchemy import select

    from di_ops.db import schema
    from di_ops.integrations.opsdb import ops_engine

    world = month["world"]
    with ops_engine().connect() as conn:
        rows = conn.execute(
            select(schema.notices.c.subject, schema.notices.c.run_id).where(
                schema.notices.c.kind == "backup_health.overdue"
            )
        ).all()
    agreed = set()
    for subject, run in rows:
        customer, cluster, app = subject.split(": ", 1)[1].replace("(", "").replace(")", "").split()
        at = run_instant(run)
        zone = ZoneInfo(ZONES[window_region(world, cluster)])
        local_day = at.astimezone(zone).date()
        since = datetime(local_day.year, local_day.month, local_day.day, 18, tzinfo=zone) - timedelta(days=2)
        series = f"{customer}/{cluster}/{app}"
        good = [b for b in world.store.backups.values() if b.series == series and b.good and since <= b.taken_at <= at]
        if not good:
            agreed.add(subject)
    return agreed


def backup_health_failures(month: dict[str, Any]) -> list[str]:
    """A managers' report every day, over every series of the inventory (the SME clusters of C001 and C005
    included)."""
    out = []
    runs = [o for o in month["sim"].outcomes if o.dag_id == "backup_health" and o.state == "success"]
    if len(runs) < w.DAYS:
        out.append(f"backup_health ran {len(runs)} times in {w.DAYS} days")
    for o in runs:
        folder = Path(o.result["run"]["run_dir"])
        if not (folder / "report.html").is_file():
            out.append(f"backup_health on {day(o.at)}: no report")
        clusters = {s[1] for s in json.loads((folder / "run.json").read_text())["series"]}
        if not {f"C00{i}-sme" for i in (1, 5)} <= clusters:
            out.append(f"backup_health on {day(o.at)}: the SME clusters are not among its series")
    return out
