"""The approval step of ``backup_retention``: Airflow's ApprovalOperator that also keeps the answer.

On Reject, ``ApprovalOperator`` skips its downstream by raising ``DownstreamTasksSkipped``
(Airflow 3), so its return value never reaches XCom; the response (options, user, time) is
pushed under the key ``response`` first, so the audit log can name who rejected as well as who
approved, and whether nobody answered in time (the default Reject then applies). Light to
import (DAG files import it at parse time).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

RESPONSE_KEY = "response"


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
