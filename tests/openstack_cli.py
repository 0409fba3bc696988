"""The real ``openstack`` CLI, without paying for its imports on every command.

The ``openstack`` console script is ``sys.exit(openstackclient.shell.main())``. Importing
openstackclient, its plugins and what they import costs most of a second of CPU per
command, and the suite runs the CLI about a thousand times. A fork server imports all that
once; each command then runs ``main(argv)`` in a fresh fork of that interpreter, with the
caller's environment, working directory and its own files as stdout and stderr. It is the
script's code path in a process of its own, so nothing one command does reaches the next.

``run`` answers as ``subprocess.run(..., capture_output=True, text=True)`` would. With
``STRATUS_TEST_CLI_SPAWN=1`` it runs the console script itself instead.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "openstack"
_HEADER = struct.Struct("!I")
_MAX_REQUEST = 1 << 22


# ---- the caller's side ----------------------------------------------------------------------


def run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``openstack *args`` with ``env``; its exit code, stdout and stderr."""
    if os.environ.get("STRATUS_TEST_CLI_SPAWN") == "1":
        return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    return _server().run(args, env, timeout)


class _Server:
    """The fork server this process started; it ends with this process."""

    def __init__(self) -> None:
        from cloudproc import clean_env  # noqa: PLC0415 - cloudproc imports this module

        self.dir = tempfile.mkdtemp(prefix="osc-forks-")
        self.path = os.path.join(self.dir, "socket")
        self.log = os.path.join(self.dir, "log")
        with open(self.log, "ab") as log:  # the server's own output, for failures
            self.proc = subprocess.Popen(
                [sys.executable, __file__, self.path], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, env=clean_env(),
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while not os.path.exists(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                said = self._log()
                self.close()
                raise RuntimeError(f"the openstack CLI fork server did not start:\n{said}")
            time.sleep(0.02)

    def _log(self) -> str:
        with contextlib.suppress(FileNotFoundError), open(self.log, "rb") as log:
            return log.read().decode(errors="replace")[-3000:]
        return ""

    def run(
        self, args: list[str], env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        request = json.dumps({"args": args, "env": env, "cwd": os.getcwd()}).encode()
        with (
            tempfile.TemporaryFile() as out,
            tempfile.TemporaryFile() as err,
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn,
        ):
            conn.settimeout(timeout)
            conn.connect(self.path)
            framed = _HEADER.pack(len(request)) + request
            socket.send_fds(conn, [framed], [out.fileno(), err.fileno()])
            answer = conn.makefile("rb")
            pid = int(answer.readline() or b"0")
            try:
                code_line = answer.readline()
            except TimeoutError:
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(["openstack", *args], timeout) from None
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
        if not code_line:  # the command's process died without answering
            stderr += f"\n[the command's process ended without an exit code]\n{self._log()}"
            return subprocess.CompletedProcess(["openstack", *args], -9, stdout, stderr)
        return subprocess.CompletedProcess(["openstack", *args], int(code_line), stdout, stderr)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for name in ("socket", "log"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.dir, name))
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)


_started: list[_Server] = []
_lock = threading.Lock()


def _server() -> _Server:
    with _lock:
        if not _started or _started[-1].proc.poll() is not None:
            _started.append(_Server())
            atexit.register(_started[-1].close)
        return _started[-1]


# ---- the server's side ----------------------------------------------------------------------


def _warm() -> None:
    """Import what any command would: the shell, every command module of every
    ``openstack.*`` entry-point group, and cliff's map of modules to distributions."""
    from importlib import metadata  # noqa: PLC0415

    import openstackclient.shell  # noqa: F401, PLC0415
    from cliff import command  # noqa: PLC0415

    command._get_distributions_by_modules()
    modules = {
        ep.module
        for group in metadata.entry_points().groups
        if group.startswith("openstack.")
        for ep in metadata.entry_points(group=group)
    }
    for module in sorted(modules):
        with contextlib.suppress(Exception):
            __import__(module)


def _serve(path: str) -> None:
    sys.argv = [str(SCRIPT)]  # cliff names the program from it when its classes are made
    _warm()
    parent = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # commands are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)  # the caller waits for the name: bound and listening
    listener.settimeout(1.0)
    while os.getppid() == parent:  # a caller killed outright leaves no server behind
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        sys.stdout.flush()  # nothing of the server's own may reach a command's output
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _command(conn)  # never returns
        conn.close()


def _command(conn: socket.socket) -> None:
    """One command in this fresh fork: the request's argv, environment, cwd and files."""
    code = 1
    try:
        conn.settimeout(None)
        data, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST, 2)
        while len(data) < _HEADER.size or len(data) < _HEADER.size + _HEADER.unpack_from(data)[0]:
            more = conn.recv(_MAX_REQUEST)
            if not more:
                os._exit(2)
            data += more
        request = json.loads(data[_HEADER.size :])
        conn.sendall(b"%d\n" % os.getpid())
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [str(SCRIPT), *request["args"]]
        from openstackclient.shell import main  # noqa: PLC0415

        try:
            code = _exit_code(main(request["args"]))
        except SystemExit as exc:
            code = _exit_code(exc.code)
    except BaseException:  # reported as the script would report it, on stderr
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(b"%d\n" % code)
        os._exit(0)


def _exit_code(value: object) -> int:
    """What ``sys.exit(value)`` makes the process exit with."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _serve(sys.argv[1])
