"""The Params every DAG form shares (dry run, as of, customers), each with its DAG's own description.

Light to import (DAG files use it at parse time).
"""

from __future__ import annotations

from airflow.sdk import Param


def dry_run_param(description: str) -> Param:
    """Boolean ``dry_run``: the DAG decides and reports but changes nothing outside the ops DB."""
    return Param(False, type="boolean", title="Dry run", description=description)


def as_of_param(description: str, title: str = "As of") -> Param:
    """Optional instant with a zone (ISO 8601) the run decides for (see ``resolve_as_of``)."""
    return Param(None, type=["null", "string"], format="date-time", title=title, description=description)


def customers_param(description: str, *, nullable: bool = True) -> Param:
    """Customer ids to restrict the run to; empty (or null when ``nullable``) means every customer."""
    if nullable:
        return Param(None, type=["null", "array"], items={"type": "string"}, title="Customers", description=description)
    return Param([], type="array", items={"type": "string"}, title="Customers", description=description)
