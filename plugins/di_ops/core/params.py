"""The Params every DAG form shares (dry run, as of, customers, regions), each with its DAG's own
description, and the JSON-schema checks Airflow applies when a run is triggered (form or REST API:
a value that fails them is answered with HTTP 400 and never becomes a run).

* date-times are ``format: date-time`` (RFC 3339: a zone is required; checked because
  ``rfc3339-validator`` is installed), dates ``format: date``;
* ids (customers, clusters, upgrades) match the inventory's id pattern and are at most 64 characters;
* regions are an enum of the configured regions; lists are bounded and without repeats.

Light to import (DAG files use it at parse time; reading the project's own regions.yaml is allowed).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from di_ops.core.settings import regions_config

# the inventory's id rule (core.inventory: customer_id, cluster_id, node_id)
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_IDS = 1000
AS_OF_HELP = " Give date, time and zone, e.g. 2026-11-27T02:30:00+00:00 (or ...Z)."


def dry_run_param(description: str) -> Param:
    """Boolean ``dry_run``: the DAG decides and reports but changes nothing outside the ops DB."""
    return Param(False, type="boolean", title="Dry run", description=description)


def as_of_param(description: str, title: str = "As of") -> Param:
    """Optional instant with a zone (RFC 3339) the run decides for (see ``core.tasks.resolve_as_of``).

    A run that changes anything may not use an ``as_of`` after its own start (``core.request``).
    """
    return Param(None, type=["null", "string"], format="date-time", title=title, description=description + AS_OF_HELP)


def path_param(title: str, description: str) -> Param:
    """Optional file or folder path (empty: the pipeline's configured one under the data folder)."""
    return Param(None, type=["null", "string"], maxLength=4096, title=title, description=description)


def date_param(title: str, description: str) -> Param:
    """Optional calendar date (YYYY-MM-DD)."""
    return Param(None, type=["null", "string"], format="date", title=title, description=description)


def id_items() -> dict[str, Any]:
    return {"type": "string", "pattern": ID_PATTERN}


def customers_param(description: str, *, nullable: bool = True) -> Param:
    """Customer ids to restrict the run to; empty (or null) means every customer.

    Ids must match the inventory's id pattern; an id the inventory does not know is refused by the
    run (not ignored).
    """
    types = ["null", "array"] if nullable else "array"
    return Param(
        None if nullable else [],
        type=types,
        items=id_items(),
        uniqueItems=True,
        maxItems=MAX_IDS,
        title="Customers",
        description=description,
    )


def id_param(title: str, description: str) -> Param:
    """Optional single id (customer, cluster, ...) with the inventory's id pattern."""
    return Param(None, type=["null", "string"], pattern=ID_PATTERN, title=title, description=description)


def regions_param(description: str) -> Param:
    """Regions to restrict the run to (enum of regions.yaml); empty means all."""
    known = sorted(regions_config().regions)
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string", "enum": known},
        examples=known,  # the trigger form then offers them as a multi-select
        uniqueItems=True,
        title="Regions",
        description=description,
    )
