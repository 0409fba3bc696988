"""``stratus guest-image build``: the small test guest, from Debian packages only.

Writes ``stratus-guest.vmlinuz``, ``stratus-guest.initrd`` (kernel + initramfs pair),
``stratus-guest.qcow2`` (ext4 root, booted with that kernel) and a manifest saying how
to register them. Packages are downloaded once into ``--cache``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from stratus.common.errors import Unavailable

DEFAULT_CACHE = Path("~/.cache/stratus/debs")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    guest = sub.add_parser("guest-image", help="build the small guest image VMs boot")
    cmds = guest.add_subparsers(dest="guest_command", required=True)
    build = cmds.add_parser("build", help="build kernel, initramfs and qcow2 disk")
    build.add_argument("--out", type=Path, default=Path("."), help="output directory (default .)")
    build.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"where .deb files are kept ({DEFAULT_CACHE})",
    )


def run(args: argparse.Namespace, out: Callable[[str], None]) -> None:
    from stratus.guestimage.build import build  # noqa: PLC0415 - only this command needs it
    from stratus.guestimage.debs import BuildError  # noqa: PLC0415

    try:
        image = build(args.out.expanduser().resolve(), args.cache.expanduser())
    except BuildError as exc:
        raise Unavailable("guestimage.build_failed", str(exc)) from None
    out(f"kernel {image.kernel_version}: {image.kernel}")
    out(f"initramfs: {image.initrd}")
    out(f"disk: {image.disk}")
