"""The Great Expectations suite over the per-series table (GX 1.x through :mod:`di_ops.integrations.gx`).

Each backup-health check is an expectation, so the Data Docs list every series that fails it
(docs/pipelines/backup_health.md, "Data quality"): the table's shape (one row per series, known
regions and freshness values) and the verdicts themselves (fresh, not at risk, restore-ready,
DR-ready, at least ``min_good`` good backups). A failing expectation is a finding for the report,
not a task failure. The file Data Context lives in ``<data>/<gx_folder>``; the run's validation
result and a copy of the Data Docs go to the run folder. great_expectations and pandas are imported
inside functions; the Data Docs show the store's names HTML-escaped (``build_escaped_docs``).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from di_ops.integrations.gx import Names, build_escaped_docs, checkpoint, file_context, import_gx
from di_ops.rules.common import known_regions

log = logging.getLogger(__name__)

SUITE = "backup_health_series"
NAMES = Names(datasource="backup_health", asset="series", batch="all_series", suite=SUITE, checkpoint=SUITE)
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["series"]}
FRESHNESS = ["fresh", "missed", "overdue"]


def series_frame(rows: Sequence[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "series": [f"{r['customer_id']}/{r['cluster_id']}/{r['application']}" for r in rows],
            "customer_id": [r["customer_id"] for r in rows],
            "cluster_id": [r["cluster_id"] for r in rows],
            "application": [r["application"] for r in rows],
            "region": [r["region"] for r in rows],
            "freshness": [r["freshness"] for r in rows],
            "is_fresh": [r["freshness"] == "fresh" for r in rows],
            "at_risk": [bool(r["at_risk"]) for r in rows],
            "good_backups": pd.Series([r["good_backups"] for r in rows], dtype="int64"),
            "restore_ready": [bool(r["restore_ready"]) for r in rows],
            "dr_ready": [bool(r["dr_ready"]) for r in rows],
        }
    )


def _expectations(min_good: int) -> list[Any]:
    gxe = import_gx().expectations
    return [
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["customer_id", "cluster_id", "application"]),
        gxe.ExpectColumnValuesToBeInSet(column="region", value_set=list(known_regions())),
        gxe.ExpectColumnValuesToBeInSet(column="freshness", value_set=FRESHNESS),
        gxe.ExpectColumnValuesToBeInSet(column="is_fresh", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="at_risk", value_set=[False]),
        gxe.ExpectColumnValuesToBeBetween(column="good_backups", min_value=min_good),
        gxe.ExpectColumnValuesToBeInSet(column="restore_ready", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="dr_ready", value_set=[True]),
    ]


def validate_series(rows: Sequence[dict[str, Any]], *, min_good: int, gx_root: Path, run_dir: Path) -> dict[str, Any]:
    """Run the suite; returns success, per-expectation unexpected counts and where the result and Data Docs are."""
    out = run_dir / "gx"
    checks: dict[str, int] = {}
    success = True
    if rows:
        context = file_context(gx_root)
        cp = checkpoint(context, NAMES, _expectations(min_good), RESULT_FORMAT)
        result = cp.run(batch_parameters={"dataframe": series_frame(rows)}, run_id=None)
        success = bool(result.success)
        out.mkdir(parents=True, exist_ok=True)
        for identifier, validation in result.run_results.items():
            build_escaped_docs(context, identifier, validation, site_names=None)
            (out / "validation_result.json").write_text(validation.describe())
            for item in validation.results:
                config = item.expectation_config
                column = config.kwargs.get("column") or "+".join(config.kwargs.get("column_list") or [])
                checks[f"{config.type}:{column}"] = int(item.result.get("unexpected_count") or 0)
        site = gx_root / "gx" / "uncommitted" / "data_docs" / "local_site"
        if site.exists():
            shutil.copytree(site, out / "data_docs", dirs_exist_ok=True)
        log.info("GX suite %s: %s; result and Data Docs in %s", SUITE, "passed" if success else "findings", out)
    return {
        "success": success,
        "checks": checks,
        "result_file": str(out / "validation_result.json"),
        "data_docs": str(out / "data_docs" / "index.html"),
    }
