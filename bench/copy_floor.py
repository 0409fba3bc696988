"""The least work a replicated object store must do per byte on one machine, timed.

``bench/objectstore.py`` compares its large-object figures with what the disk and
loopback allow. On a small machine the CPU binds first: a 3-replica PUT moves every byte
over loopback four times, writes it three times and hashes it at least once. These
pipelines do just that work with threads whose every step runs in C with the GIL released
(``sendall``, ``recv_into``, ``os.write``, ``fsync``, MD5 and CRC-32 over 1 MiB buffers),
so the figure is an upper bound for any design in any language that keeps those steps:

- PUT: client → proxy (MD5 once) → ``replicas`` writers, each writing its own file
  around the page cache (``O_DIRECT`` where the filesystem allows it, the cheapest way
  to the disk: no copy into the page cache) and fsyncing it;
- GET: a cold file read (CRC-32 checked) → proxy → client.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

MIB = 1 << 20


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def _recv_exactly(sock: socket.socket, view: memoryview) -> int:
    """Fill ``view`` unless the peer ends first; the bytes received."""
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if not n:
            break
        got += n
    return got


def _run(threads: list[Callable[[], None]]) -> None:
    running = [threading.Thread(target=t) for t in threads]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()


def _open_direct(path: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        return os.open(path, flags | os.O_DIRECT, 0o600)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return os.open(path, flags, 0o600)


def put_floor(root: Path, size: int, replicas: int) -> float:
    """MB/s of the minimal replicated PUT pipeline."""
    listeners = [_listener() for _ in range(replicas + 1)]
    proxy_in, writers_in = listeners[0], listeners[1:]
    written = [0] * replicas

    def writer(i: int) -> Callable[[], None]:
        def run() -> None:
            conn, _ = writers_in[i].accept()
            buf = memoryview(mmap.mmap(-1, MIB))  # page-aligned, as O_DIRECT wants
            fd = _open_direct(root / f"floor-{i}")
            try:
                while n := _recv_exactly(conn, buf):
                    if n % 4096:  # a ragged tail: O_DIRECT takes whole blocks only
                        fcntl.fcntl(
                            fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT
                        )
                    os.write(fd, buf[:n])
                    written[i] += n
                os.fsync(fd)
            finally:
                os.close(fd)
                conn.close()

        return run

    def proxy() -> None:
        conn, _ = proxy_in.accept()
        outs = [socket.create_connection(s.getsockname()) for s in writers_in]
        buf = memoryview(bytearray(MIB))
        md5 = hashlib.md5(usedforsecurity=False)
        while n := _recv_exactly(conn, buf):
            md5.update(buf[:n])
            for out in outs:
                out.sendall(buf[:n])
        for out in outs:
            out.close()
        conn.close()

    def client() -> None:
        block = memoryview(os.urandom(MIB))
        with socket.create_connection(proxy_in.getsockname()) as out:
            for _ in range(size // MIB):
                out.sendall(block)

    start = time.perf_counter()
    _run([proxy, client, *(writer(i) for i in range(replicas))])
    elapsed = time.perf_counter() - start
    for sock in listeners:
        sock.close()
    for i in range(replicas):
        (root / f"floor-{i}").unlink()
    if written != [size] * replicas:
        raise RuntimeError(f"PUT floor: wrote {written} of {size} bytes each")
    return size / elapsed / 1e6


def get_floor(root: Path, size: int) -> float:
    """MB/s of the minimal GET pipeline, from a file dropped from the page cache."""
    path = root / "floor-get"
    block = os.urandom(MIB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(size // MIB):
            os.write(fd, block)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    server_in, proxy_in = _listener(), _listener()
    received = [0]

    def server() -> None:
        conn, _ = server_in.accept()
        file_fd = os.open(path, os.O_RDONLY)
        crc, pos = 0, 0
        try:
            while chunk := os.pread(file_fd, MIB, pos):
                crc = zlib.crc32(chunk, crc)
                conn.sendall(chunk)
                pos += len(chunk)
        finally:
            os.close(file_fd)
            conn.close()

    def proxy() -> None:
        conn, _ = proxy_in.accept()
        buf = memoryview(bytearray(MIB))
        with socket.create_connection(server_in.getsockname()) as backend:
            while n := _recv_exactly(backend, buf):
                conn.sendall(buf[:n])
        conn.close()

    def client() -> None:
        buf = memoryview(bytearray(MIB))
        with socket.create_connection(proxy_in.getsockname()) as conn:
            while n := conn.recv_into(buf):
                received[0] += n

    start = time.perf_counter()
    _run([server, proxy, client])
    elapsed = time.perf_counter() - start
    server_in.close()
    proxy_in.close()
    path.unlink()
    if received[0] != size:
        raise RuntimeError(f"GET floor: received {received[0]} of {size} bytes")
    return size / elapsed / 1e6
