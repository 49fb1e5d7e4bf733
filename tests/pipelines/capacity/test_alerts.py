"""The breach alert is sent once per entry into breach, also across a retry (real SMTP sink, ops DB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from di_ops.db.engine import make_engine, upgrade
from di_ops.pipelines.capacity.alerts import alert_breaches

AS_OF = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


def _audit(run_id: str, as_of: datetime, **verdicts: str) -> dict[str, Any]:
    return {
        "dag_id": "capacity_audit",
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "customers": [
            {"customer_id": cid, "name": cid, "partner": "P", "region": "EMEA", "verdict": v, "figures": []}
            for cid, v in verdicts.items()
        ],
    }


def test_a_retry_sends_nothing_twice_and_not_measured_keeps_the_state(tmp_path: Path, smtp_sink: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    first = alert_breaches(engine, _audit("r1", AS_OF, A="breach", B="within"), report="x")
    assert first["sent"] == ["A"] and len(list(smtp_sink.glob("*.eml"))) == 1
    retry = alert_breaches(engine, _audit("r1", AS_OF, A="breach", B="within"), report="x")
    assert retry["sent"] == [] and retry["already_sent"] == ["A"] and len(list(smtp_sink.glob("*.eml"))) == 1
    # the API has no counts next week: the breach state stays, so coming back in breach is no new alert
    week = AS_OF + timedelta(days=7)
    alert_breaches(engine, _audit("r2", week, A="not_measured", B="within"), report="x")
    back = alert_breaches(engine, _audit("r3", week + timedelta(days=7), A="breach", B="breach"), report="x")
    assert back["sent"] == ["B"] and len(list(smtp_sink.glob("*.eml"))) == 2
    assert {c["customer_id"]: (c["from"], c["to"]) for c in back["state_changes"]} == {"B": ("within", "breach")}
