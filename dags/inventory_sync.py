"""
### inventory_sync

Reads the fleet inventory exports (customers, contacts, clusters, nodes as CSV or
JSON) from the inventory folder, rejects bad rows with their reasons, and stores
the rest in the ops DB as a snapshot named by the exports' digest. Publishes the
`di_ops_inventory` Asset with the snapshot id; every pipeline pins the snapshot it
used, so a rerun sees the same inventory.

Contact-data gate (DOMAIN.md §2): a customer without a partner and a customer contact with a
well-formed e-mail stays in the snapshot and is reported as a defect (rejects, `contact_defects`,
a Great Expectations suite with Data Docs); the report goes to
`{data_dir}/reports/inventory/<run folder>/` (docs/pipelines/inventory.md).

Changes nothing outside the ops DB, so it has no `dry_run` and ignores the change freeze.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from di_ops.core.params import path_param
from di_ops.core.settings import pipelines
from di_ops.core.tasks import default_args
from di_ops.orchestration.assets import INVENTORY
from di_ops.orchestration.deadlines import deadline_alerts

DAG_ID = "inventory_sync"
# Writes only the ops DB: no dry_run Param, not stopped by the change freeze.
CHANGES_OUTSIDE_OPS_DB = False


@dag(
    dag_id=DAG_ID,
    schedule=pipelines().inventory.schedule,
    catchup=False,
    max_active_runs=1,
    tags=["di-ops", "inventory"],
    default_args=default_args(),
    deadline=deadline_alerts(DAG_ID),
    doc_md=__doc__,
    params={
        "inventory_folder": path_param(
            "Inventory folder",
            "Folder with customers/contacts/clusters/nodes .csv or .json exports. "
            "Empty: the configured folder under the data folder.",
        ),
    },
)
def inventory_sync() -> None:
    @task(outlets=[INVENTORY])
    def load_inventory() -> dict:
        from di_ops.pipelines.inventory.tasks import sync_inventory

        context = get_current_context()
        run = context["dag_run"]
        summary = sync_inventory(
            context["params"]["inventory_folder"], run.run_after, dag_id=run.dag_id, run_id=run.run_id
        )
        context["outlet_events"][INVENTORY].extra = {"snapshot_id": summary["snapshot_id"]}
        return summary

    load_inventory()


inventory_sync()
