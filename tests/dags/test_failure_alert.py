"""A task that fails for good sends one alert through Airflow's SMTP provider."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest

from di_ops.core.settings import pipelines
from tests.dags.test_change_freeze import _register

pytestmark = pytest.mark.slow

# a folder name an attacker can choose, carried into the exception text
HOSTILE_FOLDER = "<img src=x onerror=alert(1)></p><script>alert(2)</script>"


@pytest.fixture(scope="module")
def failing_dag(airflow_db):  # type: ignore[no-untyped-def]
    from airflow.sdk import dag, task
    from airflow.sdk.exceptions import AirflowFailException

    from di_ops.core.tasks import default_args

    @dag(dag_id="test_failure_alert", schedule=None, catchup=False, default_args=default_args())
    def test_failure_alert() -> None:
        @task
        def explode() -> None:
            raise AirflowFailException(f"the backup store is unreachable: folder {HOSTILE_FOLDER}")

        @task
        def refuse() -> None:
            from di_ops.core.tasks import refused

            raise refused("reschedule refused: under 7 days before the window")

        @task
        def fine() -> str:
            return "ok"

        explode()
        refuse()
        fine()

    built = test_failure_alert()
    _register(built)
    return built


def test_every_dag_alerts_on_failure(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.on_failure_callback, f"{dag.dag_id}.{task.task_id} has no failure alert"


def test_a_failed_task_sends_one_alert_and_a_refusal_none(failing_dag, smtp_sink: Path) -> None:  # type: ignore[no-untyped-def]
    run = failing_dag.test()
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"explode": "failed", "refuse": "failed", "fine": "success"}
    messages = [message_from_bytes(p.read_bytes()) for p in sorted(smtp_sink.glob("*.eml"))]
    assert [m["Subject"] for m in messages] == ["[di-ops] test_failure_alert.explode failed"]
    assert messages[0]["To"] == ", ".join(pipelines().alerts.to)
    body = messages[0].get_payload()[0].get_payload(decode=True).decode()
    assert "the backup store is unreachable" in body
    assert run.run_id in body
    # the exception text is escaped: shown as text, no tag of its own in the HTML alert
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;/p&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in body
    assert "<img" not in body and "<script" not in body
    assert body.count("<p>") == body.count("</p>") == 4  # the template's own paragraphs only
