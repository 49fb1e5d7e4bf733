"""The approval step of ``backup_retention``: Airflow's ApprovalOperator that also keeps the answer.

On Reject, ``ApprovalOperator`` skips its downstream by raising ``DownstreamTasksSkipped``
(Airflow 3), so its return value never reaches XCom; the response (options, user, time) is
pushed under the key ``response`` first, so the audit log can name who rejected as well as who
approved, and whether nobody answered in time (the default Reject then applies). Light to
import (DAG files import it at parse time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

RESPONSE_KEY = "response"
APPROVAL_TASK_ID = "approve_pruning"
REJECTED = "rejected: nothing deleted"


class RecordedApprovalOperator(ApprovalOperator):
    """ApprovalOperator whose response is always in XCom (key ``response``), Approve or Reject."""

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            responded_at = event.get("responded_at")
            context["ti"].xcom_push(
                key=RESPONSE_KEY,
                value={
                    "chosen_options": list(event.get("chosen_options") or []),
                    "responded_by_user": event.get("responded_by_user"),
                    "responded_at": responded_at.isoformat() if hasattr(responded_at, "isoformat") else responded_at,
                    # no answer within response_timeout: Airflow applied the default (Reject)
                    "timed_out": bool(event.get("timedout")),
                },
            )
        return super().execute_complete(context, event)


NO_RESPONSE_TEXT = (
    "approve_pruning has no recorded human response (task state changed by hand?): treated as Reject, nothing deleted"
)


def approver_of(approval: Mapping[str, Any] | None) -> str | None:
    """The user Airflow recorded for the HITL response (name, else id); None without one."""
    if not approval:
        return None
    user = approval.get("responded_by_user") or {}
    if isinstance(user, Mapping):
        return str(user.get("name") or user.get("id") or "") or None
    return str(user) or None


def approval_decision(approval: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a guarded run may do, judged from the recorded HITL response alone (docs/pipelines/retention.md).

    Only a response that chose exactly Approve and names the user who gave it approves. Anything
    else is Reject: no response at all (the task was marked success by hand, or its XCom cleared),
    a response without a user, the timeout's default, or another answer. The decision is
    ``{"decision": "approve"|"reject", "reason", "approver", "chosen_options", "timed_out"}``.
    """
    chosen = list((approval or {}).get("chosen_options") or [])
    approver = approver_of(approval)
    timed_out = bool((approval or {}).get("timed_out"))
    decision = "reject"
    if not approval:
        reason = "no recorded response"
    elif timed_out:
        reason = f"no answer within the response timeout: the default {chosen} applied"
    elif chosen != ["Approve"]:
        reason = f"answered {chosen}"
    elif approver is None:
        reason = "the response names no user"
    else:
        decision, reason = "approve", f"approved by {approver}"
    return {
        "decision": decision,
        "reason": reason,
        "approver": approver,
        "chosen_options": chosen if approval else None,
        "timed_out": timed_out,
    }


def rejection_text(decision: Mapping[str, Any]) -> str:
    """The task-log line of a Reject: names the missing response explicitly (marked success by hand?)."""
    if decision["reason"] == "no recorded response":
        return NO_RESPONSE_TEXT
    return f"approve_pruning: {decision['reason']}: treated as Reject, nothing deleted"


def approval_outcome(
    plan: Mapping[str, Any], dry_run: bool, approval: Mapping[str, Any] | None, decision: Mapping[str, Any]
) -> dict[str, Any]:
    """The approval part of summary.json and the ``retention.run`` audit entry; ``decision`` is the
    delete step's judgement of ``approval`` and counts when the guard tripped on a real run."""
    required = bool(plan["guard"]["tripped"] and not dry_run)
    if not required:
        return {
            "required": required,
            "decision": "not required",
            "reason": "dry run" if dry_run else "below the blast-radius guard",
            "chosen_options": (approval or {}).get("chosen_options"),
            "timed_out": bool((approval or {}).get("timed_out")),
        }
    return {"required": required, **{k: v for k, v in decision.items() if k != "approver"}}


def outcome_text(dry_run: bool, approval: Mapping[str, Any], deleted: int) -> str:
    """One line for the run: ``rejected: nothing deleted`` on a guarded run without a valid approval."""
    if dry_run:
        return "dry run: nothing deleted"
    if approval["decision"] == "reject":
        return f"{REJECTED} ({approval['reason']})"
    return f"{deleted} deleted"


def run_note(summary: Mapping[str, Any]) -> str | None:
    """The run's note after a guarded run was rejected: "rejected by <user>: nothing deleted"."""
    approval = summary.get("approval") or {}
    if summary.get("dry_run") or approval.get("decision") != "reject":
        return None
    who = approval.get("approver")
    return f"rejected by {who}: nothing deleted" if who else f"{REJECTED} ({approval.get('reason')})"


def verify_task(context: Mapping[str, Any], run_dir: str) -> dict[str, Any]:
    """Task ``verify``: check and report the run; after a Reject the run's note says so."""
    from di_ops.core.tasks import push_run_note
    from di_ops.pipelines.retention.delete import verify_and_report

    approval = context["ti"].xcom_pull(task_ids=APPROVAL_TASK_ID, key=RESPONSE_KEY)
    summary = verify_and_report(run_dir, bool(context["params"]["dry_run"]), approval)
    note = run_note(summary)
    if note:
        push_run_note(context, note)
    return summary
