"""The contact-data gate's Great Expectations suite (GX 1.x through :mod:`di_ops.integrations.gx`).

The table validated is one row per customer of the snapshot with the number of contacts per role that
have a well-formed e-mail (``customer_id``, ``partner``, ``partner_contacts``, ``customer_contacts``).
Expectations (DOMAIN.md §2; docs/pipelines/inventory.md): customer ids present and unique, and at least
one contact of each required role (``include/config/inventory.yaml: contact_gate.required_roles``).
A failing row is a customer with a contact defect; the suite's unexpected counts are the report's
numbers. The validation result (JSON) and the Data Docs (values HTML-escaped, offline) are saved in
the run folder. great_expectations and pandas are imported inside functions.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from di_ops.core.inventory import Inventory
from di_ops.integrations.gx import Names, build_escaped_docs, checkpoint, file_context, import_gx

log = logging.getLogger(__name__)

SUITE = "inventory_contacts"
NAMES = Names(
    datasource="inventory_contacts", asset="customers_with_contact_counts", batch="whole", suite=SUITE, checkpoint=SUITE
)
# A fleet has hundreds of customers: every failing row's customer id comes with the result.
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["customer_id"]}


def contact_counts(inventory: Inventory, roles: Sequence[str]) -> list[dict[str, Any]]:
    """One row per customer: its id, partner and the number of contacts of each role on file."""
    counts: dict[str, dict[str, int]] = {c.customer_id: dict.fromkeys(roles, 0) for c in inventory.customers}
    for contact in inventory.contacts:
        if contact.customer_id in counts and contact.role in counts[contact.customer_id]:
            counts[contact.customer_id][contact.role] += 1
    return [
        {
            "customer_id": c.customer_id,
            "partner": c.partner,
            **{f"{role}_contacts": counts[c.customer_id][role] for role in roles},
        }
        for c in sorted(inventory.customers, key=lambda c: c.customer_id)
    ]


def _expectations(roles: Sequence[str]) -> list[Any]:
    gxe = import_gx().expectations
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToBeUnique(column="customer_id"),
        *(gxe.ExpectColumnValuesToBeBetween(column=f"{role}_contacts", min_value=1) for role in roles),
    ]


def validate_contacts(inventory: Inventory, roles: Sequence[str], *, gx_root: Path, run_dir: Path) -> dict[str, Any]:
    """Run the suite over the snapshot's customers; returns success, per-check failing customer ids, files."""
    import pandas as pd

    rows = contact_counts(inventory, roles)
    out: dict[str, Any] = {"success": True, "customers": len(rows), "failing": {}, "statistics": {}}
    if not rows:
        return out
    frame = pd.DataFrame(rows)
    context = file_context(gx_root)
    result = checkpoint(context, NAMES, _expectations(roles), RESULT_FORMAT).run(
        batch_parameters={"dataframe": frame}, run_id=None
    )
    folder = run_dir / "gx"
    folder.mkdir(parents=True, exist_ok=True)
    failing: dict[str, list[str]] = {}
    for identifier, validation in result.run_results.items():
        build_escaped_docs(context, identifier, validation, site_names=None)
        (folder / "validation_result.json").write_text(validation.describe())
        out["statistics"] = {
            k: (v if isinstance(v, int | float | str | None) else str(v))
            for k, v in dict(validation.statistics).items()
        }
        for item in validation.results:
            column = item.expectation_config.kwargs.get("column")
            check = f"{item.expectation_config.type}:{column}"
            hits = item.result.get("unexpected_index_list") or []
            failing[check] = sorted(str(h["customer_id"]) if isinstance(h, dict) else str(h) for h in hits)
    site = gx_root / "gx" / "uncommitted" / "data_docs" / "local_site"
    if site.exists():
        shutil.copytree(site, folder / "data_docs", dirs_exist_ok=True)
    out.update(
        success=bool(result.success),
        failing={check: ids for check, ids in failing.items() if ids},
        result_file=str(folder / "validation_result.json"),
        data_docs=str(folder / "data_docs" / "index.html"),
    )
    log.info("contact gate: GX suite %s %s; Data Docs in %s", SUITE, "passed" if out["success"] else "failed", folder)
    return out
