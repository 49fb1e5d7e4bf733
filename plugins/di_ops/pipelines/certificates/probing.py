"""Probing of ``certificate_sweep``: a TLS handshake per node (the presented chain, its notAfter and
trust), recorded as one observation per certificate. Source: DOMAIN.md §4; docs/pipelines/certificates.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from di_ops.pipelines.certificates.settings import certificates_config, in_data_dir
from di_ops.pipelines.certificates.store import save_observations

log = logging.getLogger(__name__)


def _observation(target: Mapping[str, Any], result: Any, as_of: datetime, snapshot_id: str) -> dict[str, Any]:
    leaf = result.leaf if result is not None else None
    return {
        "node_id": target["node_id"],
        "snapshot_id": snapshot_id,
        "customer_id": target["customer_id"],
        "cluster_id": target["cluster_id"],
        "region": target["region"],
        "host": target["host"],
        "port": target["port"],
        "observed_at": as_of,
        "source": result.source if result is not None else "none",
        "status": result.status,
        "error": result.error,
        "trust": result.trust,
        "subject": leaf.subject if leaf else None,
        "sans": leaf.sans if leaf else None,
        "issuer": leaf.issuer if leaf else None,
        "serial": leaf.serial if leaf else None,
        "not_before": leaf.not_before if leaf else None,
        "not_after": leaf.not_after if leaf else None,
        "chain_earliest_not_after": result.chain_earliest_not_after,
        "chain_length": result.chain_length,
    }


def probe_targets(
    targets: list[dict[str, Any]],
    *,
    tls_address: Any,
    trust_store: list[object] | None,
    pem_folder: Any,
    timeout: float,
    workers: int,
) -> list[Any]:
    """Probe every target over TLS; a node whose probe failed falls back to ``<pem_folder>/<node_id>.pem``."""
    from di_ops.integrations.tls_probe import probe_many, read_pem

    results = probe_many(
        [(t["host"], t["port"], tls_address(t["host"], t["port"])) for t in targets],
        timeout=timeout,
        trust_store=trust_store,
        workers=workers,
    )
    out = []
    for target, result in zip(targets, results, strict=True):
        pem = pem_folder / f"{target['node_id']}.pem" if pem_folder is not None else None
        if result.leaf is None and pem is not None and pem.is_file():
            from_pem = read_pem(pem, target["host"], target["port"], trust_store=trust_store)
            if from_pem.leaf is not None:
                # keep the probe's error: the node is still unreachable, the certificate is known from the file
                result = from_pem.model_copy(update={"error": f"{result.error}; read from {pem.name}"})
        out.append(result)
    return out


def probe_and_record(
    engine: Any, dag_id: str, run_id: str, targets: list[dict[str, Any]], as_of: datetime, snapshot_id: str
) -> dict[str, Any]:
    """Probe the targets and store one observation per node (task ``probe_nodes``)."""
    from di_ops.integrations.tls_probe import load_trust_store

    cfg = certificates_config()
    admin = _admin_config_or_none(cfg.uc_admin.conn_id)
    results = probe_targets(
        targets,
        tls_address=admin.tls_address if admin else (lambda host, port: None),
        trust_store=load_trust_store(admin.ca_bundle if admin else None),
        pem_folder=in_data_dir(cfg.sweep.pem_folder),
        timeout=cfg.sweep.probe_timeout_seconds,
        workers=cfg.sweep.probe_workers,
    )
    rows = [_observation(t, r, as_of, snapshot_id) for t, r in zip(targets, results, strict=True)]
    save_observations(engine, dag_id, run_id, rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        if row["error"]:
            log.warning("%s (%s:%s): %s", row["node_id"], row["host"], row["port"], row["error"])
    log.info("probed %d nodes: %s", len(rows), counts)
    return {"nodes": len(rows), "by_status": counts}


def _admin_config_or_none(conn_id: str) -> Any:
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    from di_ops.integrations.uc_admin import config_from_connection

    try:
        return config_from_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError) as exc:
        if isinstance(exc, AirflowRuntimeError) and "CONNECTION_NOT_FOUND" not in str(exc):
            raise
        log.warning("connection %s is not defined: probing inventory hosts directly, system CA bundle", conn_id)
        return None
