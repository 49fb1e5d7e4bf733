"""Text columns kept in Arrow buffers: find the Arrow array behind a column, and read it without Python strings.

The TAC exports are read with Arrow (:mod:`di_ops.pipelines.sla.exports`), so their text columns
are pandas ``str`` columns backed by Arrow string arrays. Touching such a column as Python
objects costs more than all the rules together; these helpers read it as Arrow arrays and numpy
views of their buffers instead (offsets and bytes), so the work stays in C loops. Any other column
(object dtype, plain lists) returns None here and takes the callers' general path.
pyarrow is imported inside functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def arrow_strings(values: Any) -> Any | None:
    """The values as one Arrow ``string``/``large_string`` array, or None when they are not Arrow text.

    Accepted: a pyarrow Array/ChunkedArray of strings, or a pandas Series/array whose storage is
    one (the ``str`` dtype with pyarrow storage, or ``ArrowDtype(pa.string())``).
    """
    try:
        import pyarrow as pa
        from pandas.arrays import ArrowExtensionArray
    except ImportError:  # pragma: no cover - pyarrow is pinned; without it everything takes the object path
        return None
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        array = getattr(values, "array", values)
        if not isinstance(array, ArrowExtensionArray):  # object or python-backed strings: not Arrow text
            return None
        values = pa.array(array)  # its Arrow storage, no copy
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def decoded(series: Any) -> Any:
    """A Categorical Series of text as a plain ``str`` Series (Arrow-backed; decoded in C++); others as they are.

    For consumers that count values: a Categorical also reports its unused categories.
    """
    import pandas as pd
    import pyarrow as pa

    if not isinstance(series.dtype, pd.CategoricalDtype):
        return series
    text = pa.array(series.array).dictionary_decode()
    return pd.Series(text.to_pandas(), index=series.index, name=series.name, copy=False)


def offsets_and_bytes(text: Any) -> tuple[NDArray[Any], NDArray[np.uint8]]:
    """(value start offsets with the end appended, the UTF-8 bytes) of an Arrow string array, as numpy views.

    The offsets keep their Arrow width (int32, or int64 for ``large_string``): no copy.
    """
    import pyarrow as pa

    _, offsets_buffer, data_buffer = text.buffers()
    width = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def valid_mask(array: Any) -> NDArray[np.bool_]:
    """Per value of an Arrow array: True where it is not null."""
    if array.null_count == 0:
        return np.ones(len(array), dtype=bool)
    return np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def dictionary_codes(text: Any, *, null_code: bool = True) -> tuple[NDArray[np.intp], list[Any]]:
    """Row codes and the distinct values of an Arrow string array, factorised in C++ (``pandas.factorize``).

    ``null_code``: a null is a distinct value of its own (None, wherever it first appears);
    otherwise nulls get code -1 and are not among the values.
    """
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(text, null_encoding="encode" if null_code else "mask")
    indices = encoded.indices if null_code or encoded.indices.null_count == 0 else pc.fill_null(encoded.indices, -1)
    codes = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    return codes, encoded.dictionary.to_pylist()
