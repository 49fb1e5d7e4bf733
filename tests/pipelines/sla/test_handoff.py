"""di_ops.pipelines.sla.handoff: the cases check_quality hands to audit_cases, as Parquet with typed columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from di_ops.pipelines.sla.cases import prepare_cases
from di_ops.pipelines.sla.handoff import COLUMNS, FILE_NAME, QUARANTINED, read_accepted, write_prepared
from include.demo.tac_cases import DEMO_END, case_frame


def test_the_file_has_the_documented_columns_and_types(tmp_path: Path) -> None:
    raw = case_frame(300, end=DEMO_END, seed=3).astype(object)
    prepared, _ = prepare_cases(raw.where(raw != "", None))
    quarantined = np.arange(len(prepared)) % 7 == 0
    path = write_prepared(tmp_path / FILE_NAME, prepared, quarantined)
    schema = pq.read_schema(path)
    assert schema.names == list(COLUMNS)
    assert schema.field("case_id").type == pa.string()
    assert schema.field("region_norm").type == pa.dictionary(pa.int8(), pa.string())
    assert schema.field("opened_at_utc").type == pa.timestamp("ns", "UTC")
    assert schema.field(QUARANTINED).type == pa.bool_()
    accepted = read_accepted(path)
    kept = prepared[~quarantined].reset_index(drop=True)
    assert len(accepted) == int((~quarantined).sum())
    assert accepted["case_id"].tolist() == kept["case_id"].tolist()
    assert isinstance(accepted["severity_matrix"].dtype, pd.CategoricalDtype)
    assert accepted["severity_matrix"].astype(object).tolist() == kept["severity_matrix"].astype(object).tolist()
    pd.testing.assert_series_equal(accepted["first_response_at_utc"], kept["first_response_at_utc"], check_names=False)


def test_a_column_the_export_lacked_is_written_as_missing(tmp_path: Path) -> None:
    raw = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "region": ["EMEA", "x"], "opened_at": ["2026-03-01T10:00:00Z", ""]}
    )
    prepared, missing = prepare_cases(raw)
    assert "case_id" in missing
    path = write_prepared(tmp_path / FILE_NAME, prepared, np.array([False, True]))
    accepted = read_accepted(path)
    assert len(accepted) == 1 and accepted["case_id"].isna().all()
    assert accepted["region_norm"].astype(object).tolist() == ["EMEA"]
    assert str(accepted["opened_at_utc"].iloc[0]) == "2026-03-01 10:00:00+00:00"
