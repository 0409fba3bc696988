"""The image's required architecture, hypervisor type, VM mode and hypervisor version.

Nova reads ``hw_architecture``, ``img_hv_type``, ``hw_vm_mode`` and
``img_hv_requested_version``; images uploaded with the older names (``architecture``,
``hypervisor_type``, ``vm_mode``) are honoured too. Names are compared canonically
(``amd64`` is ``x86_64``); a KVM host also runs images that ask for QEMU.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest

ARCH_KEYS = ("hw_architecture", "architecture")
HV_TYPE_KEYS = ("img_hv_type", "hypervisor_type")
VM_MODE_KEYS = ("hw_vm_mode", "vm_mode")
HV_VERSION_KEY = "img_hv_requested_version"

ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "i386": "i686", "arm64": "aarch64"}
HV_RUNS = {"kvm": {"kvm", "qemu"}}  # what a host of this type also accepts
VM_MODES = {"hvm", "exe"}  # every Stratus host runs full virtualisation (or a container)
COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


def _first(props: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if props.get(key):
            return props[key].strip().lower()
    return None


def canonical_arch(arch: str) -> str:
    arch = arch.strip().lower()
    return ARCH_ALIASES.get(arch, arch)


def version_number(text: str) -> int:
    """Nova's encoding of ``major.minor.micro`` as one integer (2.12.0 -> 2012000)."""
    parts = [int(p) for p in text.split(".")[:3]] + [0, 0]
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def version_test(requested: str) -> tuple[Callable[[int, int], bool], int]:
    """``">=2.1"`` etc. as (comparison, wanted version); a bare number means >=.

    Raises ``ValueError`` for text that is no version.
    """
    text = requested.strip()
    for op in sorted(COMPARE, key=len, reverse=True):
        if text.startswith(op):
            return COMPARE[op], version_number(text[len(op) :].strip())
    return operator.ge, version_number(text)


class ImagePropertiesFilter:
    name: ClassVar[str] = "ImagePropertiesFilter"

    def active(self, req: PlacementRequest) -> bool:
        props = req.spec.image_properties
        keys = (*ARCH_KEYS, *HV_TYPE_KEYS, *VM_MODE_KEYS, HV_VERSION_KEY)
        return any(props.get(k) for k in keys)

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        props = req.spec.image_properties
        mode = _first(props, VM_MODE_KEYS)
        if mode is not None and mode not in VM_MODES:
            return []
        arch = _first(props, ARCH_KEYS)
        if arch is not None:
            wanted = canonical_arch(arch)
            hosts = [h for h in hosts if canonical_arch(h.cpu_arch) == wanted]
        hv_type = _first(props, HV_TYPE_KEYS)
        if hv_type is not None:
            hosts = [h for h in hosts if hv_type in _runs(h.hypervisor_type)]
        if props.get(HV_VERSION_KEY):
            try:
                compare, version = version_test(props[HV_VERSION_KEY])
            except ValueError:
                return []  # no hypervisor has a version that is not a number
            hosts = [h for h in hosts if compare(h.hypervisor_version, version)]
        return hosts


def _runs(hypervisor_type: str) -> set[str]:
    kind = hypervisor_type.lower()
    return HV_RUNS.get(kind, {kind})
