"""A listening socket inside another network namespace, for this process's event loop.

A socket keeps the namespace it was created in, so a worker thread enters the namespace
(``setns`` affects only the calling thread), creates and binds the socket, and returns;
the agent serves it like any other socket. Python 3.11 has no ``os.setns``: libc's.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _listen(namespace: str, address: str, port: int) -> socket.socket:
    own = os.open(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(128)
            sock.setblocking(False)
            return sock
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)


async def listen_in(namespace: str, address: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking TCP socket in ``namespace``. A dedicated thread,
    not the shared pool: a thread left in the wrong namespace would poison later work."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def work() -> None:
        try:
            result = _listen(namespace, address, port)
        except BaseException as exc:
            loop.call_soon_threadsafe(done.set_exception, exc)
        else:
            loop.call_soon_threadsafe(done.set_result, result)

    threading.Thread(target=work, name=f"netns {namespace}", daemon=True).start()
    return await done
