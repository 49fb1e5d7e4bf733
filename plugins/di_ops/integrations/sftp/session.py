"""SSH/SFTP sessions for the COP upload: strict host-key checking, key auth, server-side hashing.

paramiko is imported inside functions only. See :mod:`di_ops.integrations.sftp.upload` for the upload.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import shlex
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # paramiko is heavy: imported only inside functions at run time
    import paramiko

log = logging.getLogger(__name__)

RemoteHash = Literal["auto", "exec", "readback"]
# Faster ciphers first: AES-GCM (AES-NI in OpenSSL on both sides, no separate MAC) beats
# OpenSSH's default chacha20-poly1305, which paramiko does not offer anyway.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
PREFERRED_MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512")
_SHA512_LINE = re.compile(r"^([0-9a-f]{128})\b")
# The server hashes stdin with OpenSSL when it has it (about twice as fast as coreutils here),
# else with sha512sum; both print the hex digest first.
_REMOTE_SHA512 = "(openssl dgst -sha512 -r 2>/dev/null || sha512sum)"
# The server's hash of a growing file: reads the file itself (no pipe: through a pipe the same
# hash costs about twice the CPU) as far as each byte count on stdin says, then prints the digest.
_STREAM_PYTHON = "python3"
_STREAM_SHA512_PY = """import hashlib, sys
h, buf = hashlib.sha512(), memoryview(bytearray(1 << 20))
with open(sys.argv[1], "rb", buffering=0) as f:
    for line in sys.stdin.buffer:
        n = int(line)
        while n > 0:
            k = f.readinto(buf[: min(n, len(buf))])
            if not k:
                sys.exit(1)
            h.update(buf[:k])
            n -= k
print(h.hexdigest())
"""

# --- errors -----------------------------------------------------------------------------------


class UploadError(Exception):
    """An upload did not complete."""


class PermanentUploadError(UploadError):
    """A retry cannot fix this (refused host key, bad name, checksum mismatch, permission, conflict)."""


class HostKeyRefused(PermanentUploadError):
    pass


class AuthenticationRefused(PermanentUploadError):
    pass


class NameRefused(PermanentUploadError):
    pass


class ChecksumMismatch(PermanentUploadError):
    pass


class TargetConflict(PermanentUploadError):
    pass


class PermissionRefused(PermanentUploadError):
    pass


class RemoteFolderMissing(PermanentUploadError):
    pass


class UploadInterrupted(UploadError):
    """Transient: the link dropped or timed out; a retry resumes."""


@dataclass(frozen=True)
class SftpTarget:
    """Where and how to upload. ``host_keys``: ``type base64`` lines or known_hosts lines."""

    host: str
    port: int
    username: str
    remote_folder: str
    host_keys: tuple[str, ...]
    private_key: str | None = field(default=None, repr=False)  # PEM/OpenSSH text
    key_file: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    remote_hash: RemoteHash = "auto"
    timeout: float = 30.0

    def describe(self) -> str:
        return f"{self.username}@{self.host}:{self.port}{self.remote_folder}"


@dataclass(frozen=True)
class TransferTuning:
    """Throughput knobs (benchmarks/sftp_upload.py measures them against OpenSSH's sftp)."""

    packets_per_request: int = 8  # SFTP write = this many full SSH packets (OpenSSH takes <= 256 KiB)
    # write requests in flight before waiting for all their acks: 8 x 256 KiB = 2 MiB, OpenSSH's
    # session window (sshd takes no more before it adjusts the window) and what OpenSSH's sftp
    # keeps in flight (64 x 32 KiB); more only queues in paramiko waiting for window adjustments
    max_outstanding: int = 8
    window_size: int = 8 * 1024 * 1024  # our receive window (read-back); uploads follow the server's
    max_packet_size: int = 32768
    readback_block: int = 1024 * 1024
    # The remote verification's exec channel starts with the transfer (its shell's start-up is then
    # hidden). > 0: the server hashes the temp file while it grows, told over stdin each time this
    # many more bytes are acknowledged (on disk): only the last step is left after the transfer,
    # but on a busy server the hash takes CPU from the transfer. 0 (the default): the server
    # hashes the whole file once the transfer is done - the complete file as it will be renamed,
    # and on two shared cores the faster transfer (benchmarks/sftp_upload.py --stream-hash-mib).
    stream_hash_bytes: int = 0
    # Where the local SHA-512 runs: False = in a thread during the transfer, over the bytes as they
    # are sent; True = after the transfer, over the local file as it is then, in parallel with the
    # server's hash of the temp file (the client would otherwise wait idle for it, and during the
    # transfer the hash takes CPU from sending). Either way the remote bytes must equal it.
    local_hash_after: bool = True
    # > 0: both hashes run during the transfer at this niceness (Linux: the local hash thread; the
    # server's streamed hash via ``nice``), taking only CPU the transfer leaves idle; the rest is
    # finished after it. Needs local_hash_after and stream_hash_bytes > 0 to apply to both.
    hash_nice: int = 0


# --- host keys --------------------------------------------------------------------------------


def parse_host_keys(lines: tuple[str, ...], host: str, port: int) -> dict[str, list[paramiko.PKey]]:
    """Acceptable server keys by type from ``type base64`` or known_hosts lines for this host."""
    import paramiko

    wanted = {host, f"[{host}]:{port}"} if port != 22 else {host, f"[{host}]:22"}
    keys: dict[str, list[paramiko.PKey]] = {}
    for raw in lines:
        for line in str(raw).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
                kind, data = parts[0], parts[1]
            else:  # known_hosts: hosts kind data; hashed names (|1|) are matched by paramiko's lookup
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
                if entry is None or entry.key is None:
                    continue
                host_keys = paramiko.HostKeys()
                for name in entry.hostnames:
                    host_keys.add(name, entry.key.get_name(), entry.key)
                if not any(host_keys.lookup(name) for name in wanted):
                    continue
                kind, data = entry.key.get_name(), entry.key.get_base64()
            try:
                key = paramiko.PKey.from_type_string(kind, base64.b64decode(data))
            except Exception as exc:  # noqa: BLE001 - a broken line is reported, not fatal for the others
                log.warning("ignoring an unreadable host key line (%s): %s", kind, exc)
                continue
            keys.setdefault(key.get_name(), []).append(key)
    return keys


def fingerprint(key: paramiko.PKey) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def load_client_key(target: SftpTarget) -> paramiko.PKey:
    import io

    import paramiko

    try:
        if target.private_key:
            last: Exception | None = None
            for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
                try:
                    return kind.from_private_key(io.StringIO(target.private_key), password=target.passphrase)
                except paramiko.SSHException as exc:
                    last = exc
            raise last or paramiko.SSHException("unreadable key")
        if target.key_file:
            return paramiko.PKey.from_path(target.key_file, target.passphrase)
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise AuthenticationRefused(f"the connection's private key cannot be loaded ({type(exc).__name__})") from None
    raise AuthenticationRefused("the connection has no private key (extra private_key or key_file); key auth only")


# --- session ----------------------------------------------------------------------------------


class Session:
    """One SSH transport with an SFTP channel; host key checked before authentication."""

    def __init__(self, target: SftpTarget, tuning: TransferTuning) -> None:
        import paramiko

        self.target = target
        known = parse_host_keys(target.host_keys, target.host, target.port)
        if not known:
            raise HostKeyRefused(
                f"no known host key for {target.host}:{target.port}: add the server's key to the "
                "connection (extra host_key or known_hosts); unknown hosts are refused"
            )
        pkey = load_client_key(target)
        try:
            sock = socket.create_connection((target.host, target.port), timeout=target.timeout)
        except OSError as exc:
            raise UploadInterrupted(f"cannot reach {target.host}:{target.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(
            sock, default_window_size=tuning.window_size, default_max_packet_size=tuning.max_packet_size
        )
        self.transport = transport
        try:
            options = transport.get_security_options()
            options.ciphers = tuple(c for c in PREFERRED_CIPHERS if c in options.ciphers) + tuple(
                c for c in options.ciphers if c not in PREFERRED_CIPHERS
            )
            options.digests = tuple(m for m in PREFERRED_MACS if m in options.digests) + tuple(
                m for m in options.digests if m not in PREFERRED_MACS
            )
            # ask only for key types we can check, so a server with several keys shows one we know
            options.key_types = tuple(k for k in options.key_types if k in known) or tuple(known)
            try:
                transport.start_client(timeout=target.timeout)
            except paramiko.SSHException as exc:
                if "host key" in str(exc).lower():
                    raise HostKeyRefused(
                        f"{target.host}:{target.port} offers none of the known host key types "
                        f"{sorted(known)}: its key changed or is unknown ({exc})"
                    ) from None
                raise
            server_key = transport.get_remote_server_key()
            self.host_key_fingerprint = fingerprint(server_key)
            if not any(server_key == k for k in known.get(server_key.get_name(), [])):
                raise HostKeyRefused(
                    f"host key of {target.host}:{target.port} changed or unknown: the server shows "
                    f"{server_key.get_name()} {self.host_key_fingerprint}, which the connection does not list"
                )
            try:
                transport.auth_publickey(target.username, pkey)
            except paramiko.AuthenticationException:
                raise AuthenticationRefused(
                    f"{target.username}@{target.host}:{target.port} refused our key "
                    f"({pkey.get_name()} {fingerprint(pkey)})"
                ) from None
            self.cipher = transport.remote_cipher
            self.sftp = paramiko.SFTPClient.from_transport(transport)
            assert self.sftp is not None
            self.sftp.get_channel().settimeout(target.timeout)
        except PermanentUploadError:
            transport.close()
            raise
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            raise UploadInterrupted(f"SSH session to {target.host}:{target.port} failed: {exc}") from exc

    def close(self) -> None:
        self.transport.close()

    def stat_size(self, path: str) -> int | None:
        try:
            return int(self.sftp.stat(path).st_size or 0)
        except FileNotFoundError:
            return None

    def exec_sha512(self, path: str) -> str | None:
        """The server's SHA-512 of ``path`` over an exec channel; None when the server does not allow it.

        stdin is closed at once: a forced internal-sftp sees EOF and exits instead of waiting."""
        return self.finish_sha512(self.start_exec(f"{_REMOTE_SHA512} < {shlex.quote(path)}"))

    def start_exec(self, command: str, *, keep_stdin: bool = False) -> Any:
        """Start ``command`` on an exec channel without waiting; None when refused."""
        try:
            chan = self.transport.open_session(timeout=self.target.timeout)
            chan.settimeout(max(self.target.timeout, 300.0))
            chan.exec_command(command)
            if not keep_stdin:
                chan.shutdown_write()
        except Exception:  # noqa: BLE001 - no exec: the caller falls back
            return None
        return chan

    @staticmethod
    def finish_sha512(chan: Any) -> str | None:
        """The SHA-512 a started ``... | sha512sum`` printed; None when it did not run."""
        if chan is None:
            return None
        try:
            out = b""
            while data := chan.recv(65536):
                out += data
                if len(out) > 1 << 16:
                    break
            status = chan.recv_exit_status()
        except (OSError, EOFError):
            return None
        finally:
            chan.close()
        match = _SHA512_LINE.match(out.decode("ascii", "replace"))
        return match.group(1) if status == 0 and match else None

    def readback_sha512(self, path: str, size: int, block: int) -> str:
        digest = hashlib.sha512()
        with self.sftp.open(path, "rb") as fh:
            fh.prefetch(size)
            remaining = size
            while remaining > 0:
                data = fh.read(min(block, remaining))
                if not data:
                    break
                digest.update(data)
                remaining -= len(data)
        return digest.hexdigest()


class StreamingSha512:
    """The server's SHA-512 of a file that is still being written, on one exec channel started
    early (the remote shell's start-up then overlaps the transfer).

    ``streamed``: for each byte count it reads on stdin (:meth:`extend`) the server hashes exactly
    that many more bytes of the file, so bytes are hashed soon after they are acknowledged, never
    before: with ``python3`` when the server has it, else in the shell, which holds the file open
    on fd 3 (one shared offset) and pipes each count (``head -c``) into ``openssl dgst`` /
    ``sha512sum`` (through a pipe the hash costs about twice the CPU). Not ``streamed``: the shell
    waits for the first count, then ``openssl dgst`` / ``sha512sum`` reads the whole file itself.
    :meth:`finish` closes stdin and returns the digest, or None when exec is refused or the hash
    did not run (the caller then hashes the whole file afterwards).
    """

    def __init__(self, session: Session, path: str, *, streamed: bool, nice: int = 0) -> None:
        quoted = shlex.quote(path)
        if streamed:
            command = (
                f"{f'nice -n {int(nice)} ' if nice > 0 else ''}{_STREAM_PYTHON} -c {shlex.quote(_STREAM_SHA512_PY)} {quoted} 2>/dev/null || "
                f'{{ while read n; do head -c "$n" <&3 || exit 1; done; }} 3< {quoted} | {_REMOTE_SHA512}'
            )
        else:
            command = f"read n && {_REMOTE_SHA512} < {quoted}"
        self.chan = session.start_exec(command, keep_stdin=True)
        self.extended = 0

    def extend(self, nbytes: int) -> None:
        if self.chan is None or nbytes <= 0:
            return
        try:
            self.chan.sendall(b"%d\n" % nbytes)
            self.extended += nbytes
        except (OSError, EOFError):
            self.chan.close()
            self.chan = None

    def finish(self) -> str | None:
        if self.chan is None:
            return None
        try:
            self.chan.shutdown_write()
        except (OSError, EOFError):
            pass
        return Session.finish_sha512(self.chan)


def remote_sha512(session: Session, path: str, size: int, tuning: TransferTuning) -> tuple[str, str]:
    mode = session.target.remote_hash
    if mode in ("auto", "exec"):
        value = session.exec_sha512(path)
        if value is not None:
            return value, "exec sha512"
        if mode == "exec":
            raise PermanentUploadError(f"the server does not allow exec of sha512sum for {path}")
    return session.readback_sha512(path, size, tuning.readback_block), "read-back"
