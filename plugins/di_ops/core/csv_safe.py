"""CSV cells a spreadsheet will not run: the one place every report CSV a person may open goes through.

Source: OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection): a cell
that begins with ``=``, ``+``, ``-``, ``@``, TAB (0x09) or CR (0x0D) is read by Excel, LibreOffice
and Google Sheets as a formula (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``); prefixing
such a cell with a single quote ``'`` makes it text. Case ids, customer ids and contact fields
come from the TAC exports and the inventory, so any of them may be hostile.

Only *text* cells are changed: numbers (``-0.5``, ``-3`` in a numeric column) stay numbers, so
figures keep summing in a spreadsheet; a text cell that looks like a negative number (``"-5"``)
gets the quote like any other text, since a spreadsheet cannot tell it from ``-5+cmd|...``.
The quote is visible to a program reading the CSV back (it is part of the cell's text).
pandas is imported inside :func:`neutralise_frame`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any, Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
QUOTE: Final = "'"


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text that starts with a formula character; else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return QUOTE + value
    return value


def neutralise_row(values: Iterable[Any]) -> list[Any]:
    return [neutralise_cell(v) for v in values]


class SafeWriter:
    """``csv.writer`` whose rows are neutralised cell by cell (same ``writerow``/``writerows``)."""

    def __init__(self, fh: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(neutralise_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """``csv.DictWriter`` whose values are neutralised (the header is the program's own column names)."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: neutralise_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def neutralise_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame whose text columns (object, string, categorical) are neutralised.

    Numeric, boolean and datetime columns are left as they are. A categorical column is neutralised
    once per category; a text column by one vectorised prefix test (only the cells that need it change).
    """
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        series = out[column]
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            categories = [neutralise_cell(c) for c in dtype.categories]
            if len(set(categories)) == len(categories):  # "=x" and "'=x" both present: cell by cell below
                out[column] = series.cat.rename_categories(categories)
                continue
        elif not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            continue
        values = series.astype(object)
        try:
            starts = values.str.startswith(FORMULA_STARTS, na=False).astype(bool)
        except AttributeError:  # no text at all in the column (e.g. only numbers as objects)
            out[column] = values
            continue
        if starts.any():  # True only for text cells: a non-text cell gives NaN, read as False
            values = values.copy()
            values[starts] = QUOTE + values[starts]
        out[column] = values
    return out


def frame_to_csv(frame: Any, path: Any, **kwargs: Any) -> None:
    """``frame.to_csv(path, index=False, lineterminator="\\n", **kwargs)`` with text cells neutralised."""
    options = {"index": False, "lineterminator": "\n", **kwargs}
    neutralise_frame(frame).to_csv(path, **options)
