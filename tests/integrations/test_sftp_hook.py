"""DiOpsSftpHook: one reader of an SFTP connection, for the COP upload target and the backup
store's client, against the real sshd on loopback (tests/integrations/conftest.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from di_ops.integrations.sftp.hook import DiOpsSftpHook
from di_ops.integrations.sftp.session import HostKeyRefused, parse_host_keys
from di_ops.integrations.sftp.upload import upload_file
from include.demo.sshd import SshdLab

pytestmark = pytest.mark.services
CONN_ID = "di_test_sftp"
NAME = "ciscocm.hook-test.cop.sgn"


@pytest.fixture(autouse=True)
def no_user_ssh_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty home: no ~/.ssh/known_hosts, config or keys of the machine count here."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


def _connection(monkeypatch: pytest.MonkeyPatch, lab: SshdLab, **extra: Any) -> None:
    body = {"conn_type": "sftp", "host": "127.0.0.1", "port": lab.port, "login": "root", "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(body))


def _other_public_key(tmp_path: Path, kind: str = "ed25519") -> str:
    other = tmp_path / f"other_{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(other)], check=True)
    return " ".join(other.with_suffix(".pub").read_text().split()[:2])


def _cop(tmp_path: Path) -> Path:
    path = tmp_path / NAME
    path.write_bytes(hashlib.shake_256(b"hook").digest(300_000))
    return path


def test_a_good_connection_gives_the_upload_target_and_a_store_client(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sftp_root / "store").mkdir()
    (sftp_root / "store" / "marker").write_text("x")
    _connection(
        monkeypatch,
        sshd_lab,
        key_file=str(sshd_lab.client_key),
        host_key=sshd_lab.host_public_line,
        remote_folder=str(sftp_root),
        remote_hash="exec",
        conn_timeout=7,
        path=str(sftp_root / "store"),
    )
    hook = DiOpsSftpHook(CONN_ID)
    target = hook.target("/upload")
    assert (target.host, target.port, target.username) == ("127.0.0.1", sshd_lab.port, "root")
    assert (target.remote_folder, target.remote_hash, target.timeout) == (str(sftp_root), "exec", 7.0)
    assert target.host_keys == (sshd_lab.host_public_line,)
    src = _cop(tmp_path)
    receipt = upload_file(target, src)
    assert receipt.outcome == "uploaded" and (sftp_root / NAME).read_bytes() == src.read_bytes()

    client = hook.get_conn()
    try:
        assert client.listdir(hook.store_root) == ["marker"]
    finally:
        hook.close_conn()
    assert hook.client is None and hook.conn is None
    assert hook.list_directory(hook.store_root) == ["marker"]  # the provider's managed connection


def test_a_wrong_host_key_is_refused_even_with_no_host_key_check(
    sshd_lab: SshdLab,
    sftp_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import paramiko

    wrong = _other_public_key(tmp_path)
    _connection(
        monkeypatch,
        sshd_lab,
        key_file=str(sshd_lab.client_key),
        host_key=wrong,
        no_host_key_check=True,
        remote_folder=str(sftp_root),
    )
    with caplog.at_level(logging.WARNING):
        hook = DiOpsSftpHook(CONN_ID, conn_retry_attempts=1)  # the provider retries a refusal too
    assert "no_host_key_check: ignored" in caplog.text
    assert not hook.no_host_key_check
    with pytest.raises(HostKeyRefused, match="changed or unknown"):
        upload_file(hook.target("/upload"), _cop(tmp_path))
    with pytest.raises(paramiko.BadHostKeyException):
        hook.get_conn()
    with pytest.raises(paramiko.BadHostKeyException):  # a fresh hook: the managed connection checks too
        DiOpsSftpHook(CONN_ID, conn_retry_attempts=1).list_directory("/")
    assert list(sftp_root.iterdir()) == []


def test_an_unknown_host_is_refused(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paramiko

    _connection(monkeypatch, sshd_lab, key_file=str(sshd_lab.client_key), remote_folder=str(sftp_root))
    hook = DiOpsSftpHook(CONN_ID, conn_retry_attempts=1)
    with pytest.raises(HostKeyRefused, match="no known host key"):
        upload_file(hook.target("/upload"), _cop(tmp_path))
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        hook.get_conn()
    # key material for another host only: refused before connecting
    _connection(
        monkeypatch,
        sshd_lab,
        key_file=str(sshd_lab.client_key),
        known_hosts=f"[10.0.0.1]:{sshd_lab.port} {sshd_lab.host_public_line}",
    )
    with pytest.raises(HostKeyRefused, match="none of its 1 host key entries is a readable key for"):
        DiOpsSftpHook(CONN_ID).get_conn()
    assert list(sftp_root.iterdir()) == []


def test_hashed_known_hosts_and_key_text_work_for_both_uses(
    sshd_lab: SshdLab, sftp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paramiko

    hashed = paramiko.HostKeys.hash_host(f"[127.0.0.1]:{sshd_lab.port}")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"# a comment\n{hashed} {sshd_lab.host_public_line}\n")
    _connection(
        monkeypatch,
        sshd_lab,
        private_key=sshd_lab.client_key.read_text(),
        known_hosts_file=str(known_hosts),
        remote_folder=str(sftp_root),
    )
    hook = DiOpsSftpHook(CONN_ID)
    assert upload_file(hook.target("/upload"), _cop(tmp_path)).outcome == "uploaded"
    try:
        assert NAME in hook.get_conn().listdir(str(sftp_root))
    finally:
        hook.close_conn()


def test_extras_defaults_and_the_password_as_passphrase(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    body = {
        "conn_type": "sftp",
        "host": "sftp.customer.example",
        "login": "upload",
        "password": "the passphrase",
        "extra": {"host_key": ["ssh-ed25519 AAAA1", "ssh-rsa AAAA2"], "known_hosts_file": str(tmp_path / "nope")},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(body))
    target = DiOpsSftpHook(CONN_ID).target("/upload")
    assert (target.host, target.port, target.remote_folder) == ("sftp.customer.example", 22, "/upload")
    assert target.host_keys == ("ssh-ed25519 AAAA1", "ssh-rsa AAAA2")  # the unreadable file adds nothing
    assert (target.passphrase, target.private_key, target.key_file) == ("the passphrase", None, None)
    assert (target.remote_hash, target.timeout) == ("auto", 30.0)
    assert "the passphrase" not in repr(target)


@pytest.mark.parametrize(
    ("line", "port", "found"),
    [
        ("{key}", 2222, True),  # type base64: any host
        ("127.0.0.1 {key}", 22, True),
        ("127.0.0.1 {key}", 2222, True),  # a bare name counts for every port of that host
        ("[127.0.0.1]:2222 {key}", 2222, True),
        ("[127.0.0.1]:2222 {key}", 2223, False),
        ("other.example,[127.0.0.1]:2222 {key}", 2222, True),
        ("{hashed:[127.0.0.1]:2222} {key}", 2222, True),
        ("{hashed:[127.0.0.1]:2222} {key}", 2223, False),
        ("{hashed:127.0.0.1} {key}", 22, True),
        ("{hashed:10.0.0.1} {key}", 22, False),
    ],
)
def test_parse_host_keys_matches_plain_and_hashed_names(sshd_lab: SshdLab, line: str, port: int, found: bool) -> None:
    import paramiko

    text = line.replace("{key}", sshd_lab.host_public_line)
    if "{hashed:" in text:
        name = text[len("{hashed:") : text.index("}")]
        text = paramiko.HostKeys.hash_host(name) + text[text.index("}") + 1 :]
    keys = parse_host_keys((text,), "127.0.0.1", port)
    assert bool(keys) is found
    if found:
        ((kind, (key,)),) = keys.items()
        assert f"{kind} {key.get_base64()}" == sshd_lab.host_public_line
