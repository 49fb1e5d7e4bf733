"""Great Expectations gate on the backup catalog (GX 1.x set up by :mod:`di_ops.integrations.gx`).

A file Data Context lives in ``<data>/retention/gx``; each run's validation result (JSON) and a
copy of the Data Docs site are saved in the run folder. Expectations (docs/pipelines/retention.md,
``quality_gate``): backup ids present and unique, ``taken_at`` parses (ISO-8601 with a zone) and is
not after as_of, status in the allowed set, file sizes ≥ 0, and the manifest names the series of the
folder it sits in ("one application per series"). The Data Docs show the catalog's values
HTML-escaped (:func:`di_ops.integrations.gx.build_escaped_docs`): paths and ids come from the backup
store. great_expectations and pandas are imported inside functions.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from di_ops.core.settings import policy
from di_ops.integrations.backup_scan import CatalogRecord
from di_ops.integrations.gx import Names, build_escaped_docs, checkpoint, file_context, import_gx

log = logging.getLogger(__name__)

SUITE = "retention_catalog"
# expectation type + column -> the check name used in reports and retention_catalog_errors
CHECK_NAMES = {
    ("expect_column_values_to_not_be_null", "backup_id"): "backup_id_present",
    ("expect_column_values_to_be_unique", "backup_id"): "backup_id_unique",
    ("expect_column_values_to_be_in_set", "taken_at_parses"): "taken_at_parses",
    ("expect_column_values_to_be_between", "age_seconds"): "taken_at_not_future",
    ("expect_column_values_to_be_in_set", "status"): "status_allowed",
    ("expect_column_values_to_be_between", "size_bytes"): "sizes_not_negative",
    ("expect_column_values_to_be_in_set", "manifest_matches_folder"): "one_series_per_folder",
}


def catalog_frame(records: Sequence[CatalogRecord], as_of: datetime) -> Any:
    import pandas as pd

    as_of_ns = int(as_of.timestamp()) * 10**9 + as_of.microsecond * 1000
    rows = [r for r in records if not r.error]
    return pd.DataFrame(
        {
            "path": [r.path for r in rows],
            "backup_id": pd.Series([r.backup_id for r in rows], dtype=object),
            "taken_at": [r.taken_at for r in rows],
            "taken_at_parses": [r.taken_at_ns is not None for r in rows],
            "age_seconds": pd.Series(
                [None if r.taken_at_ns is None else (as_of_ns - r.taken_at_ns) / 1e9 for r in rows], dtype="float64"
            ),
            "status": pd.Series([r.status for r in rows], dtype=object),
            "size_bytes": pd.Series([r.size_bytes for r in rows], dtype="float64"),
            "manifest_matches_folder": [
                (r.manifest_customer_id, r.manifest_cluster_id, r.manifest_application) == r.series for r in rows
            ],
        }
    )


NAMES = Names(datasource="retention_catalog", asset="catalog", batch="whole_catalog", suite=SUITE, checkpoint=SUITE)
# A catalog holds thousands of backups, not millions: every failing row's path comes with its result.
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["path"]}


def _checkpoint(context: Any) -> Any:
    gxe = import_gx().expectations
    statuses = list(policy().retention.statuses)
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="backup_id"),
        gxe.ExpectColumnValuesToBeUnique(column="backup_id"),
        gxe.ExpectColumnValuesToBeInSet(column="taken_at_parses", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="age_seconds", min_value=0),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=statuses),
        gxe.ExpectColumnValuesToBeBetween(column="size_bytes", min_value=0),
        gxe.ExpectColumnValuesToBeInSet(column="manifest_matches_folder", value_set=[True]),
    ]
    return checkpoint(context, NAMES, expectations, RESULT_FORMAT)


def validate_catalog(
    records: Sequence[CatalogRecord], as_of: datetime, *, gx_root: Path, run_dir: Path, run_id: str
) -> dict[str, Any]:
    """Validate the catalog; returns success, failures (path → [(check, detail)]) and held series."""
    from di_ops.pipelines.retention.plan import held_series

    failures: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for record in records:
        if record.error:
            failures[record.path].append(("manifest", record.error))
    frame = catalog_frame(records, as_of)
    statistics: dict[str, Any] = {"rows": len(frame)}
    success = True
    if len(frame):
        context = file_context(gx_root)
        result = _checkpoint(context).run(batch_parameters={"dataframe": frame}, run_id=None)
        success = bool(result.success)
        out = run_dir / "gx"
        out.mkdir(parents=True, exist_ok=True)
        for identifier, validation in result.run_results.items():
            build_escaped_docs(context, identifier, validation, site_names=None)
            (out / "validation_result.json").write_text(validation.describe())
            statistics = {**statistics, **dict(validation.statistics)}
            for item in validation.results:
                config = item.expectation_config
                column = config.kwargs.get("column")
                check = CHECK_NAMES.get((config.type, column), f"{config.type}:{column}")
                for hit in item.result.get("unexpected_index_list") or []:
                    value = hit.get(column) if isinstance(hit, dict) else None
                    value = value.item() if hasattr(value, "item") else value  # numpy scalar -> plain text
                    path = hit["path"] if isinstance(hit, dict) else str(hit)
                    failures[path].append((check, f"{column}={value!r}"))
        site = gx_root / "gx" / "uncommitted" / "data_docs" / "local_site"
        if site.exists():
            shutil.copytree(site, out / "data_docs", dirs_exist_ok=True)
        log.info("GX result and Data Docs saved in %s (run %s)", out, run_id)
    success = success and not any(r.error for r in records)
    return {
        "success": success,
        "statistics": {k: (v if isinstance(v, int | float | str | None) else str(v)) for k, v in statistics.items()},
        "failures": {path: [list(p) for p in problems] for path, problems in failures.items()},
        "held": held_series(failures, records),
        "result_file": str(run_dir / "gx" / "validation_result.json"),
        "data_docs": str(run_dir / "gx" / "data_docs" / "index.html"),
    }
