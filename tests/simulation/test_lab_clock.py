"""The DI lab's settable clock (docs/uc_admin_api.md, lab controls): a renewal is valid from the lab's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from include.lab.server import Lab, NodeSpec

SIMULATED = datetime(2026, 10, 20, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("clock", "expected_not_after"),
    [(SIMULATED, SIMULATED + timedelta(days=365)), (None, None)],  # None: the real clock (the default)
)
def test_a_renewal_is_valid_from_the_lab_clock(tmp_path: Path, clock: datetime | None, expected_not_after) -> None:  # type: ignore[no-untyped-def]
    lab = Lab([NodeSpec("n1", "n1.lab.example", "c", timedelta(days=3))], {}, state_dir=tmp_path, now=SIMULATED)
    lab.start()
    try:
        with httpx.Client(base_url=lab.admin_url, auth=(lab.login, lab.password)) as client:
            body = {"now": clock.isoformat() if clock else None}
            assert client.put("/lab/clock", json=body).json()["real"] is (clock is None)
            before = datetime.now(UTC)
            renewed = client.post("/api/v1/nodes/n1/certificate/renew").json()
        not_after = datetime.fromisoformat(renewed["not_after"])
        if expected_not_after is not None:
            assert not_after == expected_not_after
        else:
            assert before + timedelta(days=365) - timedelta(seconds=2) <= not_after
    finally:
        lab.stop()


def test_an_instant_without_a_zone_is_refused(tmp_path: Path) -> None:
    lab = Lab([], {}, state_dir=tmp_path).start()
    try:
        with httpx.Client(base_url=lab.admin_url, auth=(lab.login, lab.password)) as client:
            assert client.put("/lab/clock", json={"now": "2026-10-20T21:00:00"}).status_code == 422
            assert client.get("/lab/clock").json()["real"] is True
    finally:
        lab.stop()
