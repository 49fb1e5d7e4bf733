"""A real OpenSSH sshd on loopback with its own host key and one authorized key (demo and tests).

    python -m include.demo.sshd --dir .data/sftp-lab --port 2222

Everything lives in ``--dir``: ``sshd_config``, ``host_ed25519_key[.pub]``, ``client_ed25519_key[.pub]``
(the key the SFTP connections use), ``authorized_keys`` and ``sshd.log``. Key authentication only
(no passwords, no PAM), ``Subsystem sftp internal-sftp``. The user ``nobody`` (if it exists) is
limited to SFTP with ``ForceCommand internal-sftp`` - no exec, so clients must fall back to reading
the file back for verification; tests use it for that and for permission-denied cases (root
ignores file modes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SFTP_ONLY_USER = "nobody"


def sshd_binary() -> str | None:
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd"):
        if candidate and Path(candidate).exists():
            return str(Path(candidate).resolve())
    return None


@dataclass(frozen=True)
class SshdLab:
    folder: Path
    port: int
    host_key: Path  # private host key (the server's)
    client_key: Path  # private client key (authorized for root and nobody)

    @property
    def host_public_line(self) -> str:
        """``type base64`` of the server's host key (what a connection's ``host_key`` extra holds)."""
        kind, data = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{kind} {data}"

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public_line}"


def _keygen(path: Path) -> None:
    if not path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.stem, "-f", str(path)],
            check=True,
            capture_output=True,
        )


def prepare_lab(folder: Path, port: int) -> SshdLab:
    """Write host key, client key, authorized_keys and sshd_config into ``folder`` (idempotent)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    host_key, client_key = folder / "host_ed25519_key", folder / "client_ed25519_key"
    _keygen(host_key)
    _keygen(client_key)
    authorized = folder / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    os.chmod(authorized, 0o644)
    os.chmod(folder, 0o755)  # the SFTP-only user must reach authorized_keys
    sftp_only = ""
    try:
        import pwd

        pwd.getpwnam(SFTP_ONLY_USER)
        sftp_only = f"\nMatch User {SFTP_ONLY_USER}\n    ForceCommand internal-sftp\n"
    except (ImportError, KeyError):
        pass
    (folder / "sshd_config").write_text(
        f"""# di-ops lab sshd (loopback only, key authentication only)
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {folder / "sshd.pid"}
AuthorizedKeysFile {authorized}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PermitUserEnvironment no
X11Forwarding no
AllowTcpForwarding no
MaxStartups 50:30:100
MaxSessions 20
LogLevel INFO
Subsystem sftp internal-sftp
{sftp_only}"""
    )
    return SshdLab(folder=folder, port=port, host_key=host_key, client_key=client_key)


def _ensure_privsep_dir() -> None:
    # sshd refuses to start without its privilege-separation directory (normally made by systemd).
    path = Path("/run/sshd")
    if not path.exists():
        try:
            path.mkdir(mode=0o755, parents=True)
        except OSError:
            pass


def start(lab: SshdLab, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """Start ``sshd -D -e -f <config>`` and wait until it accepts connections."""
    binary = sshd_binary()
    if binary is None:
        raise FileNotFoundError("sshd is not installed (apt-get install openssh-server)")
    _ensure_privsep_dir()
    log = (lab.folder / "sshd.log").open("ab")
    proc = subprocess.Popen(
        [binary, "-D", "-e", "-f", str(lab.folder / "sshd_config")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}: {(lab.folder / 'sshd.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", lab.port), timeout=0.5) as sock:
                if sock.recv(4).startswith(b"SSH-") and proc.poll() is None:  # and ours still runs
                    return proc
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"sshd did not listen on 127.0.0.1:{lab.port} within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop this sshd and its session processes (its own process group only)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=2222)
    args = parser.parse_args()
    from include.lab.ports import port_free

    if not port_free(args.port):  # else a client could reach another sshd listening there and not notice
        raise SystemExit(f"sshd: 127.0.0.1:{args.port} is in use (--port); choose a free port")
    lab = prepare_lab(args.dir, args.port)
    proc = start(lab)

    def _terminate(_signum: int, _frame: object) -> None:  # the demo launcher stops services with SIGTERM
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    print(f"sshd on 127.0.0.1:{lab.port} (config {lab.folder / 'sshd_config'})", flush=True)
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
