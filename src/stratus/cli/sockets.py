"""Listening sockets bound before any service starts, so a busy port fails fast and clearly."""

from __future__ import annotations

import errno
import socket

from stratus.common.errors import Conflict


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Conflict("net.port_in_use", f"port {port} on {host} is already in use") from None
        raise Conflict(
            "net.bind_failed", f"cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock
