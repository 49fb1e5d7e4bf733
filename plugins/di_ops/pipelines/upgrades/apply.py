"""Task body ``apply_plans`` of ``upgrade_eligibility`` (weekly) and ``upgrade_emergency_check`` (daily).

Every planned upgrade of the assessed customers moves one step through its state machine
(``di_ops.rules.upgrade_plans``) with its notice, once:

- a new upgrade is proposed (the daily check starts only emergency changes, DOMAIN.md §1/§2);
  an emergency found for a cluster whose open plan is not one supersedes it (cancelled, and a
  new emergency plan in the next window);
- a proposed plan is notified: its window is computed again at the moment the notice is sent
  (DOMAIN.md §2: the notice period counts from the sending; a notice never names a window that
  has begun) and the stored window becomes the one sent;
- an announced window that closed is judged on the pinned inventory snapshot: the target shown
  means done, else missed: the operator is alerted once (``pipelines.yaml: alerts.to``) and the
  upgrade is re-planned with a new notice (same calendar UID, SEQUENCE + 1), see
  ``upgrade_plans.window_state`` for when the inventory counts as taken after the window;
- the partner's answer deadline passed: scheduled; the cluster left the inventory or no trigger
  remains: cancelled.

Writes ``plans.json`` (the plans after the run) and ``missed.json`` (the windows found missed, and
those closed but awaiting the inventory) into the run folder. A dry run decides the same and records
and sends nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from di_ops.pipelines.upgrades.settings import upgrade_settings
from di_ops.pipelines.upgrades.store import utc
from di_ops.pipelines.upgrades.sweep import _send, _snapshot

log = logging.getLogger(__name__)


def new_plan_row(verdict: Any, raw: dict[str, Any], *, as_of: datetime, run_id: str) -> dict[str, Any]:
    """The ``upgrade_plans`` row of a new (proposed) upgrade; its window is computed again when notified."""
    from di_ops.rules.upgrade_plans import plan_window, upgrade_id_for

    window = plan_window(verdict, as_of)
    return {
        "upgrade_id": upgrade_id_for(verdict.cluster_id, verdict.target, window.start),
        "customer_id": verdict.customer_id,
        "cluster_id": verdict.cluster_id,
        "application": verdict.application,
        "window_region": verdict.window_region,
        "from_version": verdict.version,
        "target": verdict.target,
        "triggers": [
            {"kind": t["kind"], "reason": t["reason"], "target": t["target"], "emergency": t["emergency"]}
            for t in raw["triggers"]
            if t["starts_upgrade"]
        ],
        "emergency": verdict.emergency,
        "state": "proposed",
        "window_start": window.start.astimezone(UTC),
        "window_end": window.end.astimezone(UTC),
        "reschedules": 0,
        "sequence": 0,
        "notified_at": None,
        "answer_by": None,
        "created_at": as_of,
        "updated_at": as_of,
        "created_run_id": run_id,
        "updated_run_id": run_id,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


class _Run:
    """One apply run: its context, the counts of what it did, and the plans as they stand after each step."""

    def __init__(self, *, dag_id: str, run_id: str, as_of: datetime, dry_run: bool, engine: Any, inventory: Any):
        from di_ops.pipelines.upgrades.store import snapshot_taken_at

        self.dag_id, self.run_id, self.as_of, self.dry_run, self.engine = dag_id, run_id, as_of, dry_run, engine
        self.settings = upgrade_settings()
        self.snapshot_id: str = inventory["snapshot_id"]
        self.taken_at = snapshot_taken_at(engine, self.snapshot_id)
        self.customers = {c["customer_id"]: c for c in inventory["customers"]}
        self.actions: dict[str, int] = {}
        self.prospective: dict[str, dict[str, Any]] = {}
        self.missed: list[dict[str, Any]] = []
        self.awaiting: list[dict[str, Any]] = []

    def count(self, name: str) -> None:
        self.actions[name] = self.actions.get(name, 0) + 1

    def customer(self, plan: dict[str, Any]) -> dict[str, Any]:
        return self.customers.get(plan["customer_id"], {"contacts": []})

    def tell_operator_no_contacts(self, plan: dict[str, Any], kind: str) -> str:
        """One operator alert that ``plan``'s notice found nobody (DOMAIN.md §2: never silently nowhere)."""
        from di_ops.core.settings import pipelines
        from di_ops.integrations.mail import send_notice
        from di_ops.pipelines.upgrades.notices import no_contacts_alert

        alert = no_contacts_alert(plan, kind, to=pipelines().alerts.to)
        return send_notice(self.engine, alert, dag_id=self.dag_id, run_id=self.run_id, now=self.as_of, dry_run=False)

    def commit(
        self,
        plan: dict[str, Any],
        outcome: Any,
        kind: str | None,
        *,
        changes: dict[str, Any] | None = None,
        note: str = "",
        detail: dict[str, Any] | None = None,
        stays_without_contacts: bool = False,
    ) -> dict[str, Any] | None:
        """Send the step's notice (when ``kind``), then record the outcome; returns the plan after the step,
        or None when a notice that must go out found no contacts (the plan stays as it is)."""
        from di_ops.pipelines.upgrades.notices import recipients, upgrade_notice
        from di_ops.pipelines.upgrades.store import record_outcome

        changes = changes or {}
        new = {**plan, **changes, **(outcome.plan.model_dump() if outcome.plan else {})}
        if not self.dry_run and kind is not None:
            notice = upgrade_notice(
                new,
                self.customer(plan),
                kind,  # type: ignore[arg-type]
                at=self.as_of,
                organizer=self.settings.organizer,
                answer_by=changes.get("answer_by"),
                note=note,
            )
            result = _send(self.engine, notice, dag_id=self.dag_id, run_id=self.run_id, at=self.as_of)
            self.count(f"{kind}:{result}")
            if result == "no_contacts" and stays_without_contacts:
                log.warning("upgrade %s: no contacts on file; stays %s", plan["upgrade_id"], plan["state"])
                if kind == "notice":  # a re-plan's missed-window alert already says the notice waits
                    self.count(f"no_contacts_alert:{self.tell_operator_no_contacts(plan, kind)}")
                return None
        elif kind is not None and stays_without_contacts and not recipients(self.customer(plan).get("contacts") or []):
            return None
        if not self.dry_run:
            record_outcome(
                self.engine,
                outcome,
                upgrade_id=plan["upgrade_id"],
                at=self.as_of,
                dag_id=self.dag_id,
                run_id=self.run_id,
                changes=changes,
                detail={k: _iso(v) if isinstance(v, datetime) else v for k, v in {**changes, **(detail or {})}.items()},
                expected_sequence=plan["sequence"],
            )
        self.count(outcome.action)
        return new

    # --- the steps ---------------------------------------------------------------------------

    def close(self, plan: dict[str, Any], verdict: Any, reached: bool) -> dict[str, Any]:
        """Done (the inventory shows the target), or cancelled (cluster gone, no trigger left)."""
        from di_ops.pipelines.upgrades.store import plan_model
        from di_ops.rules.upgrade_plans import transition

        model = plan_model(plan)
        if verdict is None:
            why = "the cluster left the inventory"
        elif reached:
            why = f"the inventory shows {verdict.version}"
        else:
            why = "no trigger needs the upgrade any more"
        if reached and plan["state"] != "proposed":
            return self.commit(plan, transition(model, "complete", reason=why), "done", note=why) or plan
        return self.cancel(plan, why)

    def cancel(self, plan: dict[str, Any], why: str) -> dict[str, Any]:
        """Cancelled; nobody was told of a proposed plan, so it is cancelled quietly, else with a CANCEL .ics."""
        from di_ops.pipelines.upgrades.store import plan_model
        from di_ops.rules.upgrade_plans import transition

        model = plan_model(plan)
        outcome = transition(model, "cancel", reason=why)
        if outcome.plan is not None:
            outcome = outcome.model_copy(
                update={"plan": outcome.plan.model_copy(update={"sequence": model.sequence + 1})}
            )
        kind = None if plan["state"] == "proposed" else "cancel"
        return self.commit(plan, outcome, kind, note=why) or plan

    def notify(self, plan: dict[str, Any]) -> dict[str, Any]:
        """The first notice, naming the window computed now (DOMAIN.md §2), which the plan then stores."""
        from di_ops.pipelines.upgrades.store import plan_model
        from di_ops.rules.change import partner_answer_deadline
        from di_ops.rules.upgrade_plans import plan_window, transition

        model = plan_model(plan)
        window = plan_window(model, self.as_of)
        outcome = transition(model, "notify", reason="notice sent to the partner and customer contacts")
        assert outcome.plan is not None
        outcome = outcome.model_copy(
            update={"plan": outcome.plan.model_copy(update={"window_start": window.start, "window_end": window.end})}
        )
        changes = {"notified_at": self.as_of, "answer_by": partner_answer_deadline(self.as_of).astimezone(UTC)}
        detail = {"window_start": window.start, "proposed_window_start": plan["window_start"]}
        sent = self.commit(plan, outcome, "notice", changes=changes, detail=detail, stays_without_contacts=True)
        return sent or plan

    def judge_window(self, plan: dict[str, Any], verdict: Any) -> dict[str, Any] | None:
        """An announced window that closed without the target: missed (alert, re-plan); None while still open."""
        from di_ops.rules.upgrade_plans import window_state

        grace = timedelta(hours=self.settings.missed_grace_hours)
        state = window_state(plan["window_end"], self.as_of, self.taken_at, grace)
        if state == "open":
            return None
        if state == "awaiting_inventory":
            self.awaiting.append(
                {
                    "upgrade_id": plan["upgrade_id"],
                    "cluster_id": plan["cluster_id"],
                    "window_start": _iso(plan["window_start"]),
                    "window_end": _iso(plan["window_end"]),
                    "snapshot_id": self.snapshot_id,
                    "snapshot_taken_at": _iso(self.taken_at),
                    "judged_by": _iso(plan["window_end"] + grace),
                }
            )
            self.count("awaiting_inventory")
            return plan
        return self.miss(plan, verdict)

    def miss(self, plan: dict[str, Any], verdict: Any) -> dict[str, Any]:
        from di_ops.core.settings import pipelines
        from di_ops.integrations.mail import send_notice
        from di_ops.pipelines.upgrades.notices import missed_alert, recipients
        from di_ops.pipelines.upgrades.store import plan_model
        from di_ops.rules.upgrade_plans import plan_window, transition

        end = utc(plan["window_end"])
        assert end is not None
        since = "" if self.taken_at >= end else " (no newer snapshot: the exports have not changed since)"
        reason = (
            f"the window {_iso(plan['window_start'])} - {_iso(end)} closed; inventory snapshot {self.snapshot_id} "
            f"taken {_iso(self.taken_at)}{since} shows {verdict.version}, not {plan['target']}"
        )
        outcome = transition(plan_model(plan), "miss", reason=reason)
        window = plan_window(plan_model(plan), self.as_of)
        can_tell = bool(recipients(self.customer(plan).get("contacts") or []))
        alert = missed_alert(
            plan,
            to=pipelines().alerts.to,
            reason=reason,
            next_window=(window.start, window.end) if can_tell else None,
            pending="no partner or customer contact on file for the new notice; it goes out once one is",
        )
        result = "dry_run"
        if not self.dry_run:
            result = send_notice(
                self.engine, alert, dag_id=self.dag_id, run_id=self.run_id, now=self.as_of, dry_run=False
            )
        self.count(f"missed_alert:{result}")
        missed = self.commit(plan, outcome, None)
        assert missed is not None
        entry = {
            "upgrade_id": plan["upgrade_id"],
            "cluster_id": plan["cluster_id"],
            "customer_id": plan["customer_id"],
            "window_region": plan["window_region"],
            "window_start": _iso(plan["window_start"]),
            "window_end": _iso(plan["window_end"]),
            "reason": reason,
            "alert": result,
        }
        after = self.replan(missed)
        entry.update(
            state=after["state"], new_window_start=_iso(after["window_start"]) if after is not missed else None
        )
        self.missed.append(entry)
        return after

    def replan(self, plan: dict[str, Any]) -> dict[str, Any]:
        """A missed upgrade in the window a notice sent now may name; it stays missed without contacts."""
        from di_ops.pipelines.upgrades.store import plan_model
        from di_ops.rules.change import partner_answer_deadline
        from di_ops.rules.upgrade_plans import plan_window, replan

        model = plan_model(plan)
        window = plan_window(model, self.as_of)
        missed_at = f"{_iso(plan['window_start'])} - {_iso(plan['window_end'])}"
        outcome = replan(model, window, reason=f"re-planned after the missed window {missed_at}")
        changes = {"notified_at": self.as_of, "answer_by": partner_answer_deadline(self.as_of).astimezone(UTC)}
        note = (
            "The upgrade was not carried out in its window of "
            f"{_partner_time(plan['window_start'], plan['window_region'])}; it moves to the window above."
        )
        detail = {"window_start": window.start, "missed_window_start": plan["window_start"]}
        sent = self.commit(
            plan, outcome, "replan", changes=changes, note=note, detail=detail, stays_without_contacts=True
        )
        return sent or plan


def _partner_time(moment: datetime, region: str) -> str:
    """A window's opening as partners read it: the region's local time and UTC, to the minute."""
    from di_ops.core.notices import local_and_utc
    from di_ops.rules.common import region_zone

    return local_and_utc(utc(moment) or moment, str(region_zone(region)))


def _supersedes(verdict: Any, plan: dict[str, Any]) -> bool:
    """An emergency found for a cluster whose open plan is a planned (non-emergency) change."""
    return verdict is not None and verdict.upgrade and verdict.emergency and not plan["emergency"]


def apply_plans(*, dag_id: str, run_id: str, as_of: datetime, folder: str, dry_run: bool) -> dict[str, Any]:
    """Move every planned upgrade of the assessed customers one step, with its notice; write ``plans.json``
    and ``missed.json`` (see the module docstring for the steps)."""
    from di_ops.integrations.opsdb import ops_engine
    from di_ops.pipelines.upgrades.store import create_plan, latest_plans, open_plans
    from di_ops.rules.upgrade_plans import ANNOUNCED_STATES
    from di_ops.rules.upgrade_triggers import Verdict, is_newer

    as_of = as_of.astimezone(UTC)
    base = Path(folder)
    assessment = json.loads((base / "assessment.json").read_text(encoding="utf-8"))
    if assessment["what_if"]:
        (base / "plans.json").write_text("{}", encoding="utf-8")
        return {"what_if": assessment["what_if"], "actions": {}}
    engine = ops_engine()
    run = _Run(
        dag_id=dag_id,
        run_id=run_id,
        as_of=as_of,
        dry_run=dry_run,
        engine=engine,
        inventory=_snapshot(engine, dag_id, run_id, as_of, as_of),
    )
    raw_by_cluster = {v["cluster_id"]: v for v in assessment["verdicts"]}
    verdicts = {cid: Verdict.model_validate(raw) for cid, raw in raw_by_cluster.items()}
    emergency_only = assessment.get("scope") == "emergency"
    scope = set(assessment["customers"])

    plans = {cid: p for cid, p in open_plans(engine).items() if p["customer_id"] in scope}
    for cid, plan in sorted(plans.items()):
        verdict = verdicts.get(cid)
        if _supersedes(verdict, plan):
            why = "superseded by an emergency change: " + "; ".join(
                t.reason
                for t in verdict.triggers
                if t.emergency and t.starts_upgrade  # type: ignore[union-attr]
            )
            run.cancel(plan, why)
            del plans[cid]
    for cid, candidate in verdicts.items():
        if candidate.upgrade and cid not in plans and (candidate.emergency or not emergency_only):
            row = new_plan_row(candidate, raw_by_cluster[cid], as_of=as_of, run_id=run_id)
            if dry_run or create_plan(engine, row, dag_id=dag_id, run_id=run_id, at=as_of):
                run.count("propose")
            plans[cid] = row
    for cid, plan in sorted(plans.items()):
        verdict = verdicts.get(cid)
        reached = verdict is not None and not is_newer(plan["target"], verdict.version)
        if verdict is None or reached or not verdict.upgrade:
            after: dict[str, Any] | None = run.close(plan, verdict, reached)
        elif plan["state"] in ANNOUNCED_STATES and (after := run.judge_window(plan, verdict)) is not None:
            pass
        elif plan["state"] == "missed":
            after = run.replan(plan)
        elif plan["state"] == "proposed":
            after = run.notify(plan)
        elif plan["state"] == "notified" and plan["answer_by"] is not None and as_of >= plan["answer_by"]:
            from di_ops.pipelines.upgrades.store import plan_model
            from di_ops.rules.upgrade_plans import transition

            outcome = transition(plan_model(plan), "schedule", reason="the partner's answer deadline passed")
            after = run.commit(plan, outcome, None)
        else:
            after = plan
        run.prospective[cid] = after or plan
    if not dry_run:  # read back what the DB holds now, including plans already closed earlier
        run.prospective = {**latest_plans(engine, verdicts), **open_plans(engine, verdicts)}
    out = {
        cid: {
            "upgrade_id": p["upgrade_id"],
            "state": p["state"] if not dry_run else f"would be {p['state']}",
            "emergency": bool(p["emergency"]),
            "window_region": p["window_region"],
            "window_start": _iso(utc(p["window_start"])),
            "window_end": _iso(utc(p["window_end"])),
            "sequence": p["sequence"],
        }
        for cid, p in run.prospective.items()
    }
    (base / "plans.json").write_text(json.dumps(out, indent=1, sort_keys=True), encoding="utf-8")
    windows = {"missed": run.missed, "awaiting_inventory": run.awaiting}
    (base / "missed.json").write_text(json.dumps(windows, indent=1, sort_keys=True), encoding="utf-8")
    log.info("upgrade plans: %s%s", run.actions or "no change", " (dry run)" if dry_run else "")
    return {"dry_run": dry_run, "actions": run.actions, "missed": len(run.missed)}
