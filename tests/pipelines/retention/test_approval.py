"""A guarded backup_retention run deletes only with a recorded human Approve (docs/pipelines/retention.md).

The task bodies are called as the DAG calls them, on a real filesystem store and a real ops DB:
a response that is missing (the approval task marked success by hand), names no user, timed out
or chose Reject is a Reject, in the re-check and again, independently, in the delete step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from di_ops.integrations.opsdb import ops_engine
from di_ops.pipelines.retention import delete as rd
from di_ops.pipelines.retention import tasks as rp
from di_ops.pipelines.retention.approval import NO_RESPONSE_TEXT, approval_decision
from tests.pipelines.retention import fixtures as retention_fixtures
from tests.pipelines.retention.fixtures import add_guarded_series, plan_run, remaining

retention_env = retention_fixtures.retention_env  # the fixture, shared with the other retention tests

BOB = {"id": "bob", "name": "Bob"}
APPROVE = {"chosen_options": ["Approve"], "responded_by_user": BOB, "responded_at": "2026-11-27T03:00:00+00:00"}


@pytest.mark.parametrize(
    ("approval", "decision", "reason"),
    [
        (None, "reject", "no recorded response"),
        ({}, "reject", "no recorded response"),
        ({"chosen_options": ["Approve"]}, "reject", "the response names no user"),
        (
            {"chosen_options": ["Approve"], "responded_by_user": {"id": "", "name": ""}},
            "reject",
            "the response names no user",
        ),
        ({"chosen_options": ["Approve"], "responded_by_user": ""}, "reject", "the response names no user"),
        ({"chosen_options": ["Reject"], "responded_by_user": BOB}, "reject", "answered ['Reject']"),
        (
            {"chosen_options": ["Approve", "Reject"], "responded_by_user": BOB},
            "reject",
            "answered ['Approve', 'Reject']",
        ),
        (
            {"chosen_options": ["Reject"], "responded_by_user": None, "timed_out": True},
            "reject",
            "no answer within the response timeout: the default ['Reject'] applied",
        ),
        (APPROVE, "approve", "approved by Bob"),
        ({"chosen_options": ["Approve"], "responded_by_user": {"id": "u7"}}, "approve", "approved by u7"),
        ({"chosen_options": ["Approve"], "responded_by_user": "carol"}, "approve", "approved by carol"),
    ],
)
def test_approval_decision_table(approval: dict[str, Any] | None, decision: str, reason: str) -> None:
    verdict = approval_decision(approval)
    assert (verdict["decision"], verdict["reason"]) == (decision, reason)


def _guarded_plan(root: Path, run_id: str) -> str:
    add_guarded_series(root)
    run_dir = plan_run(run_id)
    assert json.loads((Path(run_dir) / "plan.json").read_text())["guard"]["tripped"]
    return run_dir


def _audit_run(run_id: str) -> dict[str, Any]:
    from di_ops.db.schema import audit_log

    with ops_engine().connect() as conn:
        row = (
            conn.execute(select(audit_log).where(audit_log.c.run_id == run_id, audit_log.c.action == rd.AUDIT_RUN))
            .mappings()
            .one()
        )
    return dict(row)


def test_marked_success_without_a_response_is_a_reject_end_to_end(retention_env, caplog) -> None:  # type: ignore[no-untyped-def]
    root, _ = retention_env
    run_dir = _guarded_plan(root, "marked-success")
    before = remaining(root)
    recheck = rp.recheck_after_approval(run_dir, None)  # what recheck_plan gets after a hand-marked success
    assert recheck["approval"]["decision"] == "reject" and recheck["delete"] == 0
    assert NO_RESPONSE_TEXT in caplog.text
    assert not (Path(run_dir) / "approved.json").exists()
    assert json.loads((Path(run_dir) / "approval.json").read_text())["reason"] == "no recorded response"

    deleted = rd.delete_pruned(run_dir, dry_run=False, approval=None)
    assert deleted["why"] == f"rejected: nothing deleted: {NO_RESPONSE_TEXT}"
    assert remaining(root) == before
    summary = rd.verify_and_report(run_dir, False, None)
    assert summary["outcome"] == "rejected: nothing deleted (no recorded response)"
    assert summary["deleted"] == 0 and summary["verified"]
    assert summary["approval"] == {
        "required": True,
        "decision": "reject",
        "reason": "no recorded response",
        "chosen_options": None,
        "timed_out": False,
        "approver": None,
    }
    audit = _audit_run("marked-success")
    assert audit["detail"]["approval"]["reason"] == "no recorded response"
    assert audit["detail"]["outcome"] == summary["outcome"] and audit["detail"]["deleted"] == 0


@pytest.mark.parametrize(
    "approval",
    [
        None,
        {"chosen_options": ["Approve"], "responded_by_user": None},
        {"chosen_options": ["Reject"], "responded_by_user": BOB},
        {"chosen_options": ["Approve"], "responded_by_user": {"id": "mallory"}},  # not the one approved.json names
    ],
)
def test_delete_step_refuses_on_its_own_even_with_an_approved_json(retention_env, approval) -> None:  # type: ignore[no-untyped-def]
    """Defence in depth: approved.json from an earlier approved try (or written by hand) is not enough."""
    root, _ = retention_env
    run_dir = _guarded_plan(root, "stale-approval")
    assert rp.recheck_after_approval(run_dir, APPROVE)["delete"] == 12 + 4
    before = remaining(root)
    result = rd.delete_pruned(run_dir, dry_run=False, approval=approval)
    assert result["why"].startswith("rejected: nothing deleted")
    assert remaining(root) == before
    assert rd.verify_and_report(run_dir, False, approval)["outcome"].startswith("rejected: nothing deleted")


def test_a_recorded_approve_with_its_user_deletes_what_the_recheck_kept(retention_env) -> None:  # type: ignore[no-untyped-def]
    root, expected = retention_env
    run_dir = _guarded_plan(root, "approved")
    rp.recheck_after_approval(run_dir, APPROVE)
    result = rd.delete_pruned(run_dir, dry_run=False, approval=APPROVE)
    assert result["why"] == "approved by Bob after a fresh re-scan" and result["removed"] == 12 + 4
    assert remaining(root) == expected  # C004 lost its whole (failed) history, as approved
    summary = rd.verify_and_report(run_dir, False, APPROVE)
    assert summary["outcome"] == "16 deleted" and summary["approval"]["decision"] == "approve"
    assert _audit_run("approved")["actor"] == "Bob"
