"""The prepared cases handed from ``check_quality`` to ``audit_cases``: one Parquet file per run.

Source: docs/pipelines/sla.md (Writes: ``prepared.parquet``). Task return values stay small JSON;
the cases travel as a file in the run folder, written with pyarrow (typed columns, no pickle). It
holds the columns :func:`di_ops.pipelines.sla.audit.select_cases` reads, and ``quarantined``: True
for a row failing a blocking rule. A column the export lacked is written as all missing, so the
file always has the same columns and types. pandas and pyarrow are imported inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

FILE_NAME: Final = "prepared.parquet"
QUARANTINED: Final = "quarantined"
# column -> Arrow type as written (a Categorical is written dictionary-encoded and read back as one)
TEXT: Final = ("case_id", "customer_id")
LABELS: Final = ("region_norm", "severity_filed", "severity_matrix")
INSTANTS: Final = ("opened_at_utc", "first_response_at_utc", "closed_at_utc")
COLUMNS: Final = (*TEXT, *LABELS, *INSTANTS, QUARANTINED)


def _arrow_type(column: str) -> Any:
    import pyarrow as pa

    if column in TEXT:
        return pa.string()
    if column in LABELS:
        return pa.dictionary(pa.int8(), pa.string())
    if column in INSTANTS:
        return pa.timestamp("ns", "UTC")
    return pa.bool_()


def write_prepared(path: Path, prepared: Any, quarantined: Any) -> Path:
    """Write the audit's columns of ``prepared`` and the ``quarantined`` mask (one bool per row) to ``path``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for column in COLUMNS:
        kind = _arrow_type(column)
        if column == QUARANTINED:
            arrays.append(pa.array(quarantined, type=kind))
        elif column in INSTANTS and column in prepared.columns:  # epoch ns, NaT → null
            values = prepared[column]
            arrays.append(pa.array(values.array.asi8, type=kind, mask=values.isna().to_numpy()))
        elif column in prepared.columns:
            arrays.append(pa.array(prepared[column], type=kind, from_pandas=True))
        else:  # a column the export lacked (every row is quarantined then)
            arrays.append(pa.nulls(len(prepared), kind))
    table = pa.table(arrays, names=list(COLUMNS))
    pq.write_table(table, path)
    return path


def read_accepted(path: Path) -> Any:
    """The rows of the file at ``path`` not quarantined, as a DataFrame (labels as Categoricals)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=list(COLUMNS))
    accepted = table.filter(pc.invert(table[QUARANTINED])).drop_columns([QUARANTINED])
    return accepted.to_pandas()
