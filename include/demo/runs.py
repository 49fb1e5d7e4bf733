"""What ``make demo`` does after Airflow's DB is ready: unpause the project's DAGs, queue the demo runs.

    python -m include.demo.runs

Each later pipeline adds its demo run to DEMO_RUNS (dag id, run conf).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

DEMO_RUNS: list[tuple[str, dict[str, object]]] = [
    ("inventory_sync", {}),
]


def project_dag_ids() -> list[str]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return sorted(bag.dag_ids)


def main() -> None:
    for dag_id in project_dag_ids():
        subprocess.run(["airflow", "dags", "unpause", dag_id], check=True, capture_output=True)
        print(f"unpaused {dag_id}")
    for dag_id, conf in DEMO_RUNS:
        subprocess.run(
            ["airflow", "dags", "trigger", dag_id, "--conf", json.dumps(conf)], check=True, capture_output=True
        )
        print(f"queued a demo run of {dag_id} {json.dumps(conf) if conf else ''}")


if __name__ == "__main__":
    main()
