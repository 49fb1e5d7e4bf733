"""The one reader of di-ops SFTP connections: the COP upload target and the backup store's client.

Source: DOMAIN.md §5 and docs/pipelines/cop.md (Connections); docs/pipelines/retention.md for
the backup store. :class:`DiOpsSftpHook` reads the Airflow connection and its extras once:

| extra | use |
|---|---|
| ``host_key`` (string or list), ``known_hosts`` (text), ``known_hosts_file`` (path) | the server's host keys: ``type base64`` or known_hosts lines (``[host]:port``, hashed names) |
| ``private_key`` / ``key_file``, ``private_key_passphrase`` | the client key (the password is the passphrase when no ``private_key_passphrase``) |
| ``remote_folder``, ``remote_hash``, ``conn_timeout`` | the COP upload (:class:`~di_ops.integrations.sftp.session.SftpTarget`) |
| ``path`` (or the schema) | the backup store's root folder |
| ``compress``, ``look_for_keys``, ``ciphers``, ``disabled_algorithms`` | passed on to the SSH hook, as its own connection parsing would |

``no_host_key_check`` and ``allow_host_key_change`` are ignored with a warning: host keys are
always checked. The COP upload (:meth:`DiOpsSftpHook.target`) accepts only the keys the
connection lists; the backup store's client (:meth:`DiOpsSftpHook.get_conn`, paramiko's
``SSHClient`` through the SSH provider) also accepts ``~/.ssh/known_hosts`` and checks the first
key the connection lists for the host (the provider's ``SSHClient`` takes one); an unknown host
or another key is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.sftp.hooks.sftp import SFTPHook

from di_ops.integrations.sftp.session import HostKeyRefused, SftpTarget, load_client_key, parse_host_keys

if TYPE_CHECKING:
    from paramiko.sftp_client import SFTPClient

log = logging.getLogger(__name__)

UNCHECKED_EXTRAS = ("no_host_key_check", "allow_host_key_change")  # ignored: host keys are always checked


def host_key_lines(conn_id: str, extra: dict[str, Any]) -> tuple[str, ...]:
    """The host-key material of a connection's extras, as lines :func:`parse_host_keys` reads."""
    keys = extra.get("host_key") or []
    lines = tuple([keys] if isinstance(keys, str) else [str(k) for k in keys])
    if extra.get("known_hosts"):
        lines += (str(extra["known_hosts"]),)
    if extra.get("known_hosts_file"):  # known_hosts lines or an OpenSSH .pub file
        try:
            lines += (Path(str(extra["known_hosts_file"])).read_text(encoding="utf-8"),)
        except OSError as exc:
            log.warning("connection %s: known_hosts_file unreadable: %s", conn_id, exc)
    return lines


class DiOpsSftpHook(SFTPHook):
    """An ``SFTPHook`` on one connection whose extras are read here, once, with strict host keys."""

    def __init__(self, ssh_conn_id: str, **kwargs: Any) -> None:
        conn = self.get_connection(ssh_conn_id)
        extra = conn.extra_dejson
        for name in UNCHECKED_EXTRAS:
            if str(extra.get(name, "")).lower() == "true":
                log.warning("connection %s sets %s: ignored, host keys are always checked", ssh_conn_id, name)
        self.host_keys = host_key_lines(ssh_conn_id, extra)
        self.private_key: str | None = extra.get("private_key") or None
        self.extra_key_file: str | None = extra.get("key_file") or None
        self.private_key_passphrase: str | None = extra.get("private_key_passphrase") or conn.password or None
        self.remote_folder: str | None = extra.get("remote_folder") or None
        self.remote_hash = extra.get("remote_hash", "auto")
        self.store_root = str(extra.get("path") or conn.schema or ".")
        # The connection is handed over as values, not as its id: the SSH hook would parse the
        # extras again (it takes one host_key string and honours no_host_key_check).
        super().__init__(
            ssh_conn_id=None,
            remote_host=conn.host or "",
            username=conn.login,
            password=conn.password,
            key_file=self.extra_key_file,
            port=conn.port,
            conn_timeout=float(extra.get("conn_timeout", 30)),  # type: ignore[arg-type]  # paramiko takes a float
            ciphers=extra.get("ciphers"),
            disabled_algorithms=extra.get("disabled_algorithms"),
            no_host_key_check=False,
            **kwargs,
        )
        self.ssh_conn_id = ssh_conn_id
        self.compress = str(extra.get("compress", "true")).lower() != "false"
        self.look_for_keys = str(extra.get("look_for_keys", "true")).lower() != "false"

    def target(self, default_remote_folder: str) -> SftpTarget:
        """The COP upload's target: only the connection's own key material and client key count."""
        return SftpTarget(
            host=self.remote_host,
            port=int(self.port or 22),
            username=self.username or "",
            remote_folder=str(self.remote_folder or default_remote_folder),
            host_keys=self.host_keys,
            private_key=self.private_key,
            key_file=self.extra_key_file,
            passphrase=self.private_key_passphrase,
            remote_hash=self.remote_hash,
            timeout=float(self.conn_timeout or 30),
        )

    def get_conn(self) -> SFTPClient:
        """A connected SFTP client; the server's host key checked (unknown or another key: refused)."""
        self._prepare()
        return super().get_conn()

    @contextmanager
    def get_managed_conn(self) -> Iterator[SFTPClient]:
        """The provider's managed connection (used by the hook's file methods), prepared the same way."""
        self._prepare()
        with super().get_managed_conn() as conn:
            yield conn

    def _prepare(self) -> None:
        """The host key and the client key for the SSH hook, from this connection's extras."""
        port = int(self.port or 22)
        if self.host_key is None and self.host_keys:
            known = [key for keys in parse_host_keys(self.host_keys, self.remote_host, port).values() for key in keys]
            if not known:
                raise HostKeyRefused(
                    f"connection {self.ssh_conn_id}: none of its {len(self.host_keys)} host key entries is a "
                    f"readable key for {self.remote_host}:{port}"
                )
            self.host_key = known[0]
        if self.private_key and self.pkey is None:
            self.pkey = load_client_key(self.target(""))

    def close_conn(self) -> None:
        """Close the SFTP client and its SSH connection."""
        super().close_conn()
        if self.client is not None:
            self.client.close()
            self.client = None
