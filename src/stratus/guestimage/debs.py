"""Debian packages of the guest: downloaded with ``apt-get download``, unpacked with
``dpkg-deb -x`` (neither needs root nor touches the host's installed packages)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

KERNEL_META = "linux-image-amd64"
PACKAGES = ("busybox-static", "dropbear-bin")


class BuildError(Exception):
    """The guest image cannot be built here; the message says what is missing."""


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BuildError(f"{argv[0]} is not installed") from None
    if done.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def kernel_package() -> str:
    """The versioned kernel package ``linux-image-amd64`` currently depends on."""
    deps = _run(["apt-cache", "depends", KERNEL_META])
    match = re.search(r"Depends: (linux-image-\S+-amd64)", deps)
    if match is None:
        raise BuildError(f"{KERNEL_META} names no kernel package (apt-get update?)")
    return match.group(1)


def download(package: str, cache: Path) -> Path:
    """The package's ``.deb`` in ``cache``, downloaded unless already there."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        _run(["apt-get", "download", "-q", package], cwd=cache)
        found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        raise BuildError(f"apt-get download {package} left no .deb in {cache}")
    return found[-1]


def unpack(deb: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    _run(["dpkg-deb", "-x", str(deb), str(target)])
    return target


def shared_libraries(binary: Path) -> list[Path]:
    """The libraries the dynamic ``binary`` loads, and the loader itself (from ``ldd``,
    on the host's Debian libraries: same distribution as the package)."""
    libs = []
    for line in _run(["ldd", str(binary)]).splitlines():
        if "not found" in line:
            raise BuildError(f"{binary.name} needs {line.split()[0]}: install dropbear-bin")
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            libs.append(Path(match.group(1)))
    return libs
