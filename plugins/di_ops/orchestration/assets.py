"""Airflow Assets the pipelines publish and consume."""

from __future__ import annotations

from airflow.sdk import Asset

INVENTORY = Asset(name="di_ops_inventory", uri="di-ops://inventory/snapshot")
