"""Loopback listening sockets for the lab, with an error that names the port when it is taken."""

from __future__ import annotations

import socket


class LabPortBusy(OSError):
    """A port the lab was told to serve on is taken (the message names it)."""


def bind_loopback(port: int, what: str) -> socket.socket:
    """A TCP socket bound to ``127.0.0.1:port`` (0: any free port), ``SO_REUSEADDR`` as servers set it.

    Raises :class:`LabPortBusy` naming ``what`` and the port when it cannot be bound (in use).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise LabPortBusy(error.errno, f"{what} 127.0.0.1:{port}: {error.strerror}") from error
    return sock


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now (``SO_REUSEADDR``: a closing socket does not count)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        return False
    finally:
        sock.close()
    return True
