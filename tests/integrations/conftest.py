"""Adapter fixtures: a real OpenSSH sshd on loopback (own host key, one authorized test key) and a
TCP proxy that cuts a connection after a given number of bytes (a link killed mid-upload)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from include.demo.sshd import SshdLab, prepare_lab, sshd_binary, start, stop
from tests.conftest import free_port, service_missing


@pytest.fixture(scope="session")
def sshd_lab() -> Iterator[SshdLab]:
    """One sshd for the session: ``sshd -D -e -f <config>`` on 127.0.0.1:<free port>, key auth only,
    ``Subsystem sftp internal-sftp``; root may exec, ``nobody`` is SFTP-only."""
    if sshd_binary() is None:
        service_missing("sshd", "openssh-server is not installed")
    if shutil.which("ssh-keygen") is None:
        service_missing("sshd", "ssh-keygen is not installed")
    # not under pytest's tmp dirs: those are mode 0700 and the SFTP-only user must traverse them
    top = Path(tempfile.mkdtemp(prefix="di-ops-sshd-"))
    os.chmod(top, 0o755)
    lab = prepare_lab(top / "lab", free_port())
    try:
        proc = start(lab)
    except (OSError, RuntimeError) as exc:
        service_missing("sshd", str(exc))
    yield lab
    stop(proc)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def sftp_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh upload folder any user can write (mode 0777), outside pytest's 0700 tmp dirs."""
    top = Path(tempfile.mkdtemp(prefix="di-ops-sftp-"))
    os.chmod(top, 0o777)
    yield top
    shutil.rmtree(top, ignore_errors=True)


@dataclass
class CuttingProxy:
    """Forwards 127.0.0.1:<port> to the target; once ``cut_after`` client->server bytes have passed,
    it closes both sides. ``forwarded`` counts client->server bytes of the current connection."""

    target_port: int
    port: int = 0
    cut_after: int | None = None
    forwarded: int = 0
    total_forwarded: int = 0
    cuts: int = 0
    _server: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> CuttingProxy:
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self.port = self._server.getsockname()[1]
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.forwarded = 0
            for src, dst, upload in ((client, upstream, True), (upstream, client, False)):
                t = threading.Thread(target=self._pipe, args=(src, dst, upload, client, upstream), daemon=True)
                t.start()
                self._threads.append(t)

    def _pipe(self, src: socket.socket, dst: socket.socket, upload: bool, *both: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upload and self.cut_after is not None and self.forwarded + len(data) >= self.cut_after:
                    keep = max(0, self.cut_after - self.forwarded)
                    dst.sendall(data[:keep])
                    self.forwarded += keep
                    self.total_forwarded += keep
                    self.cuts += 1
                    break
                dst.sendall(data)
                if upload:
                    self.forwarded += len(data)
                    self.total_forwarded += len(data)
        except OSError:
            pass
        for sock in both:  # a cut (or either side closing) ends the whole connection, like a dead link
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


@pytest.fixture
def cutting_proxy(sshd_lab: SshdLab) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(target_port=sshd_lab.port).start()
    yield proxy
    proxy.close()


def open_sftp_store(monkeypatch: pytest.MonkeyPatch, lab: SshdLab, root: Path) -> Any:
    """The backup store ``root`` on the loopback sshd, opened the way the pipeline does: through the
    ``di_backup_store`` connection (strict host key, key authentication)."""
    import json

    from di_ops.integrations.backup_store import store_from_connection

    monkeypatch.setenv(
        "AIRFLOW_CONN_DI_BACKUP_STORE",
        json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": lab.port,
                "login": "root",
                "extra": {"key_file": str(lab.client_key), "host_key": lab.host_public_line, "path": str(root)},
            }
        ),
    )
    return store_from_connection("di_backup_store")
