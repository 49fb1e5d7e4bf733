"""Text and label columns of the TAC exports, read per *distinct* value: case ids, customers, labels.

Source: DOMAIN.md §7; docs/pipelines/sla.md (Input). The exports are read with Arrow
(:mod:`di_ops.pipelines.sla.exports`): text columns are Arrow-backed, label columns arrive
dictionary-encoded (pandas Categoricals). Labels, customer ids and contact fields have few distinct
values, so each conversion is done once per distinct value and taken back to the rows by code;
case ids are unique and are stripped by Arrow in C++. Every value is stripped like Python's
``str.strip()`` (blank → missing). pandas and pyarrow are imported inside functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from di_ops.pipelines.sla.instants import python_whitespace


def arrow_strings(values: Any) -> Any | None:
    """The values as one Arrow ``string``/``large_string`` array, or None when they are not Arrow text.

    Accepted: a pyarrow Array/ChunkedArray of strings, or a pandas Series/array whose storage is
    one (the ``str`` dtype with pyarrow storage, or ``ArrowDtype(pa.string())``); no copy.
    """
    import pyarrow as pa
    from pandas.arrays import ArrowExtensionArray, ArrowStringArray

    if not isinstance(values, pa.Array | pa.ChunkedArray):
        array = getattr(values, "array", values)
        if not isinstance(array, ArrowExtensionArray | ArrowStringArray):  # objects: not Arrow text
            return None
        values = pa.array(array)  # its Arrow storage, no copy
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def dictionary_codes(text: Any, *, null_code: bool = True) -> tuple[Any, list[Any]]:
    """Row codes and the distinct values of an Arrow string array, factorised in C++.

    ``null_code``: a null is a distinct value of its own (None, wherever it first appears);
    otherwise nulls get code -1 and are not among the values.
    """
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(text, null_encoding="encode" if null_code else "mask")
    indices = encoded.indices if null_code or encoded.indices.null_count == 0 else pc.fill_null(encoded.indices, -1)
    codes = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    return codes, encoded.dictionary.to_pylist()


def decoded(series: Any) -> Any:
    """A Categorical Series of text as a plain ``str`` Series (decoded by Arrow); others as they are."""
    import pandas as pd
    import pyarrow as pa

    if not isinstance(series.dtype, pd.CategoricalDtype):
        return series
    text = pa.array(series.array).dictionary_decode()
    return pd.Series(text.to_pandas(), index=series.index, name=series.name, copy=False)


class Distinct:
    """A text column factorised once: row codes and its distinct values, stripped (blank → None)."""

    def __init__(self, values: Any) -> None:
        import pandas as pd

        text = arrow_strings(values)
        uniques: list[Any]
        if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):  # dictionary-encoded when read
            series = values
            self.row_codes = np.asarray(values.array.codes, dtype=np.intp)  # widened once for every lookup
            uniques = [*values.array.categories, None]
            missing = self.row_codes < 0
            used = [True] * (len(uniques) - 1) + [bool(missing.any())]
            if used[-1]:
                self.row_codes[missing] = len(uniques) - 1
        elif text is not None:  # read with Arrow: factorised in C++, no Python string per row
            series = values
            self.row_codes, uniques = dictionary_codes(text)  # a null is a value of its own (None)
            used = [True] * len(uniques)
        else:
            series = pd.Series(values, dtype=object)  # a Series stays itself (copy on write), no copy
            codes, found = pd.factorize(series.to_numpy(dtype=object))
            uniques = [*found, None]  # code -1 (missing) reads the table's last entry
            self.row_codes = np.where(codes < 0, len(found), codes)
            used = [True] * len(found) + [bool((codes < 0).any())]
        self.series = series
        self.index = series.index
        self.values = [None if u is None else str(u).strip() or None for u in uniques]
        # Nothing to strip, no blanks, no missing values: the column is its own text (no copy).
        self.clean = all(
            (type(u) is str and u == v) or not use for u, v, use in zip(uniques, self.values, used, strict=True)
        )

    def text(self) -> Any:
        """The stripped text (blank → missing): the column itself when clean; a Categorical stays one."""
        import pandas as pd

        if self.clean:
            return self.series
        if isinstance(self.series.dtype, pd.CategoricalDtype):
            return self.categorical(self.values)
        return self.take(self.values)

    def categorical(self, table: list[Any]) -> Any:
        """The per-distinct ``table`` taken back to the rows as a Categorical (None → missing)."""
        import pandas as pd

        names = sorted({str(v) for v in table if v is not None})
        lookup = np.array([names.index(str(v)) if v is not None else -1 for v in table], dtype=np.int32)
        codes = lookup[self.row_codes]
        return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=self.index, copy=False)

    def present(self) -> Any:
        """Per row: True where the value is not blank."""
        return np.array([v is not None for v in self.values], dtype=bool)[self.row_codes]

    def convert(self, convert: Callable[[Any], Any]) -> list[Any]:
        """``convert`` per distinct non-blank value (None when it raises ValueError/KeyError/TypeError)."""
        mapped: list[Any] = []
        for value in self.values:
            try:
                mapped.append(None if value is None else convert(value))
            except (ValueError, TypeError, KeyError):
                mapped.append(None)
        return mapped

    def take(self, table: list[Any]) -> Any:
        """The per-distinct ``table`` taken back to the rows: an object Series (missing → None)."""
        import pandas as pd

        lookup = np.empty(len(table), dtype=object)
        lookup[:] = table
        return pd.Series(lookup[self.row_codes], index=self.index, dtype=object, copy=False)

    def level_codes(self, convert: Callable[[Any], Any], levels: tuple[str, ...]) -> Any:
        """Per row: the index in ``levels`` of the converted value, ``len(levels)`` when None/unknown."""
        table = [levels.index(v) if v in levels else len(levels) for v in self.convert(convert)]
        return np.array(table, dtype=np.int8)[self.row_codes]


def case_ids(values: Any) -> Any:
    """Case ids stripped like ``str.strip()``, blank → missing, by Arrow in C++.

    A column read with Arrow stays Arrow text (the column itself when nothing changes); other
    values (a number is an id too: its text) come back as an object Series with None for missing.
    """
    import pandas as pd
    import pyarrow as pa

    text = arrow_strings(values)
    if text is None:
        series = pd.Series(values, dtype=object)
        objects = [None if _missing(v) else str(v) for v in series]
        trimmed = _stripped(pa.array(objects, type=pa.string()))
        out = np.empty(len(objects), dtype=object)
        out[:] = trimmed.to_pylist()
        return pd.Series(out, index=series.index, dtype=object, copy=False)
    trimmed = _stripped(text)
    if trimmed is text:
        return values
    return pd.Series(trimmed, index=values.index, dtype=values.dtype)


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.api.types.is_scalar(value) and pd.isna(value)))


def _stripped(text: Any) -> Any:
    """``text`` with Python's white space trimmed and blanks as null; ``text`` itself when nothing changes."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim(text, characters=python_whitespace())
    changed = pc.any(pc.not_equal(pc.binary_length(trimmed), pc.binary_length(text))).as_py()
    if not changed and not pc.any(pc.equal(text, "")).as_py():
        return text
    return pc.if_else(pc.equal(trimmed, ""), None, trimmed)


def label_codes(values: Any) -> tuple[Any, list[str]]:
    """Row codes (-1 = missing) and names of a label column, codes in the sorted order of the names.

    A Categorical is read through its codes (no per-row work); Arrow text is factorised in C++;
    another column is factorised by pandas.
    """
    import pandas as pd

    series = pd.Series(values)
    text = arrow_strings(series)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.array.codes, dtype=np.intp)
        names = [str(c) for c in series.array.categories]
        if names == sorted(names):  # already in order (as :func:`sorted_categorical` leaves them)
            return codes, names
    elif text is not None:
        codes, found = dictionary_codes(text, null_code=False)
        names = [str(u) for u in found]
    else:
        codes, uniques = pd.factorize(series.to_numpy(dtype=object))
        names = [str(u) for u in uniques]
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names) + 1, dtype=np.intp)
    rank[order] = np.arange(len(names))
    rank[-1] = -1  # code -1 stays missing
    return rank[codes], [names[i] for i in order]


def sorted_categorical(values: Any) -> Any:
    """A label column as a Categorical Series with sorted categories (kept when it is one already)."""
    import pandas as pd

    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype) and list(series.array.categories) == sorted(
        series.array.categories
    ):
        return series
    codes, names = label_codes(series)
    return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=series.index)
