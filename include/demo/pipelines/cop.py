"""Demo part of cop_upload: a COP repository with checksums, an inbox of requests, and an embedded
OpenSSH sshd on loopback (``{data_dir}/sftp-lab``, port ``DI_OPS_SFTP_PORT``, default 2222) that
plays every demo customer's SFTP server (one folder per customer).

The inbox shows every path: a customer request (uploaded at once), an operator regular upload
(change notice + planned window), an operator emergency (next window, weekend included), a
tampered file (checksum refused) and a path-traversal name (refused).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from pathlib import Path

from include.demo.fleet import fleet_rows

SFTP_PORT = int(os.environ.get("DI_OPS_SFTP_PORT", "2222"))
LAB = "{data_dir}/sftp-lab"
CUSTOMERS = [row["customer_id"] for row in fleet_rows()["customers"]]

# name -> (size, how its checksum is published)
COP_FILES = {
    "cmterm-devicepack15.0.1.13010-1.cop.sgn": (3 * 1024 * 1024, "sha512"),
    "ciscocm.CSCwk12345-v1.0.k4.cop.sgn": (1024 * 1024 + 17, "sha512"),
    "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn": (512 * 1024, "md5"),
    "ciscocm.tampered-fix-v2.k4.cop.sgn": (256 * 1024, "sha512-wrong"),
}


def cop_bytes(name: str, size: int) -> bytes:
    return hashlib.shake_256(name.encode()).digest(size)


def write_repository(folder: Path) -> dict[str, str]:
    """The COP files and their published checksums (SHA512SUMS, MD5SUMS); returns name -> sha512."""
    folder.mkdir(parents=True, exist_ok=True)
    sha_lines, md5_lines, shas = [], [], {}
    for name, (size, published) in COP_FILES.items():
        data = cop_bytes(name, size)
        (folder / name).write_bytes(data)
        shas[name] = hashlib.sha512(data).hexdigest()
        if published == "md5":
            md5_lines.append(f"{hashlib.md5(data, usedforsecurity=False).hexdigest()}  {name}")
        elif published == "sha512-wrong":  # the file on disk is not what the vendor published
            sha_lines.append(f"{hashlib.sha512(data + b'x').hexdigest()}  {name}")
        else:
            sha_lines.append(f"{shas[name]}  {name}")
    (folder / "SHA512SUMS").write_text("\n".join(sha_lines) + "\n")
    (folder / "MD5SUMS").write_text("\n".join(md5_lines) + "\n")
    return shas


DEMO_REQUESTS = {
    "sr-1001-C001.json": {
        "customer_id": "C001",
        "cop_file": "cmterm-devicepack15.0.1.13010-1.cop.sgn",
        "requested_at": "2026-11-27T08:00:00Z",
        "origin": "customer",
        "requested_by": "TAC SR 1001",
    },
    "op-locale-C002.json": {
        "customer_id": "C002",
        "cop_file": "ciscocm-locale-nl_NL-15.0.1.1100-1.cop.sgn",
        "origin": "operator",
    },
    "op-psirt-C004.json": {
        "customer_id": "C004",
        "cop_file": "ciscocm.CSCwk12345-v1.0.k4.cop.sgn",
        "origin": "operator",
        "emergency": True,
    },
    "sr-1002-C003.json": {"customer_id": "C003", "cop_file": "ciscocm.tampered-fix-v2.k4.cop.sgn"},
    "sr-1003-C005.json": {"customer_id": "C005", "cop_file": "../../etc/ciscocm.evil.cop.sgn"},
}


def write_inbox(folder: Path, requests: dict[str, dict[str, object]] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (DEMO_REQUESTS if requests is None else requests).items():
        (folder / name).write_text(json.dumps(body, indent=2) + "\n")


def sftp_connection(
    port: int, user: str, client_key: str, host_key_file: str, remote_folder: str, **extra: object
) -> str:
    """An Airflow SFTP connection (JSON form) with key auth and known host key material."""
    return json.dumps(
        {
            "conn_type": "sftp",
            "host": "127.0.0.1",
            "port": port,
            "login": user,
            "extra": {
                "key_file": client_key,
                "known_hosts_file": host_key_file,
                "remote_folder": remote_folder,
                **extra,
            },
        }
    )


# The embedded server plays a customer's SFTP server only when no connection is configured for it.
ENV: dict[str, str] = {
    f"AIRFLOW_CONN_COP_SFTP_{cid.upper()}": sftp_connection(
        SFTP_PORT,
        getpass.getuser(),
        f"{LAB}/client_ed25519_key",
        f"{LAB}/host_ed25519_key.pub",
        f"{LAB}/customers/{cid}/upload",
    )
    for cid in CUSTOMERS
    if f"AIRFLOW_CONN_COP_SFTP_{cid.upper()}" not in os.environ
}


def prepare(data_dir: Path) -> None:
    from include.demo.sshd import prepare_lab

    write_repository(data_dir / "cop" / "repository")
    write_inbox(data_dir / "cop" / "inbox")
    lab = prepare_lab(data_dir / "sftp-lab", SFTP_PORT)
    for cid in CUSTOMERS:
        (lab.folder / "customers" / cid / "upload").mkdir(parents=True, exist_ok=True)


SERVICES: list[list[str]] = [
    ["python", "-m", "include.demo.sshd", "--dir", LAB, "--port", str(SFTP_PORT)],
    ["airflow", "pools", "set", "cop_upload", "2", "COP uploads (cop_upload DAG)"],
]

DEMO_RUNS: list[tuple[str, dict[str, object]]] = [("cop_upload", {})]
