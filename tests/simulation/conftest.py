"""The month's world on loopback: ops DB (SQLite), the DI lab (real TLS, settable clock), a real sshd for the
COP uploads, the SMTP sink, the backup store (fs), and the data folder with every pipeline's inputs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.integrations import conftest as adapter_fixtures
from tests.simulation import world as w
from tests.simulation.month import SimClock

sshd_lab = adapter_fixtures.sshd_lab
sftp_root = adapter_fixtures.sftp_root

# Old outputs in the housekeeping folders on day 0: (path under the data folder, age at START in days).
OLD_OUTPUTS = {
    "retention/runs/scheduled__old-120d": 120,  # retention_runs keep 90 d: deleted on day 0
    "retention/runs/scheduled__young-60d": 60,  # kept all month (60 + 30 < 90)
    "sla/reports/scheduled__old-200d": 200,  # sla_reports keep 180 d: deleted
    "sla/reports/scheduled__aging-170d": 170,  # 170 + 30 > 180: deleted on the day it passes 180 days
    "reports/upgrades/scheduled__young-10d": 10,
}


@dataclass
class World:
    data: Path
    ops_url: str
    outbox: Path
    lab: Any
    clock: SimClock
    fleet: w.Fleet
    store: w.BackupStore
    expiries: dict[str, datetime]
    sftp: Path


@pytest.fixture(scope="module")
def month_dags(airflow_db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every scheduled DAG of dags/ (the DAG objects, for their timetables)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return {d: dag for d, dag in bag.dags.items() if d != "upgrade_reschedule"}


@pytest.fixture
def world(  # type: ignore[no-untyped-def]
    airflow_db, tmp_path: Path, data_dir: Path, smtp_sink: Path, sshd_lab, sftp_root: Path, monkeypatch
) -> Iterator[World]:
    from di_ops.db.engine import make_engine, upgrade
    from include.demo.fleet import configured_counts
    from include.demo.pipelines.capacity import prepare as capacity_demo
    from include.demo.pipelines.certificates import prepare as idp_metadata
    from include.demo.pipelines.cop import sftp_connection, write_repository
    from include.lab.server import Lab

    ops = tmp_path / "ops.db"
    monkeypatch.setenv("AIRFLOW_CONN_DI_OPS_DB", json.dumps({"conn_type": "sqlite", "host": str(ops)}))
    monkeypatch.delenv("AIRFLOW_VAR_DI_OPS_CHANGE_FREEZE", raising=False)
    engine = make_engine(f"sqlite:///{ops}")
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv(
        "AIRFLOW_CONN_DI_BACKUP_STORE", json.dumps({"conn_type": "fs", "extra": {"path": str(data_dir / "backups")}})
    )
    clock = SimClock()
    fleet = w.Fleet.initial()
    expiries = w.certificate_expiries(fleet)
    specs, sso = w.lab_specs(fleet, expiries)
    # the configured users and devices of the demo fleet (capacity_audit): C005 above its declared devices
    # until its expansion is approved on 2 November (include.demo.fleet.DEMO_EXPANSIONS)
    lab = Lab(
        specs, sso, state_dir=tmp_path / "lab", now=w.START, clock=clock, capacity=configured_counts(w.CUSTOMERS)
    ).start()
    capacity_demo(data_dir)
    monkeypatch.setenv("AIRFLOW_CONN_DI_UC_ADMIN", json.dumps(lab.connection()))
    idp_metadata(data_dir)
    write_repository(data_dir / "cop" / "repository")
    for customer in fleet.rows["customers"]:
        cid = customer["customer_id"]
        folder = sftp_root / cid
        folder.mkdir()
        os.chmod(folder, 0o777)
        monkeypatch.setenv(
            f"AIRFLOW_CONN_COP_SFTP_{cid}",
            sftp_connection(
                sshd_lab.port, "root", str(sshd_lab.client_key), str(sshd_lab.host_key) + ".pub", str(folder)
            ),
        )
    w.write_history_cases(data_dir / "sla" / "exports")
    w.write_feeds(data_dir)
    fleet.write(data_dir / "inventory", w.START - timedelta(hours=2))
    store = w.BackupStore(data_dir / "backups")
    store.seed()
    for rel, age in OLD_OUTPUTS.items():
        folder = data_dir / rel
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text("{}")
        w.instant_files([folder / "summary.json", folder], w.START - timedelta(days=age))
    yield World(data_dir, f"sqlite:///{ops}", smtp_sink, lab, clock, fleet, store, expiries, sftp_root)
    lab.stop()
