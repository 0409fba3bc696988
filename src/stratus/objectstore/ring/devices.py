"""A storage device as the ring sees it, and the failure-domain tiers it belongs to.

Devices are plain frozen values: the builder replaces a device to change its weight, so a
``Ring`` handed to a request can never see a half-updated device.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping

from stratus.common.errors import InvalidInput

# Device ids index the ring's 16-bit partition table; the top value means "unassigned".
MAX_DEVICE_ID = 0xFFFE
NO_DEVICE = 0xFFFF


@dataclasses.dataclass(frozen=True, slots=True)
class Device:
    """One disk on one storage server.

    ``weight`` is relative (typically the capacity in GiB); a weight of 0 drains the
    device without forgetting it. ``meta`` is free text for operators.
    """

    id: int
    region: int
    zone: int
    ip: str
    port: int
    device: str
    weight: float
    meta: str = ""

    def __post_init__(self) -> None:
        _check_device(self)

    @property
    def zone_key(self) -> tuple[int, int]:
        """Zones are numbered inside their region, so a zone is named by both."""
        return (self.region, self.zone)

    @property
    def server_key(self) -> tuple[int, int, str]:
        """Two devices on one host share its failures whatever their ports are."""
        return (self.region, self.zone, self.ip)

    @property
    def address(self) -> str:
        """``ip:port/device``, the name operators use; IPv6 in brackets."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}/{self.device}"

    def describe(self) -> str:
        return f"device {self.id} r{self.region}z{self.zone}-{self.address} weight {self.weight:g}"

    def to_record(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> Device:
        """Rebuild a device from a stored record, refusing anything malformed."""
        try:
            return cls(
                id=_int(record["id"]),
                region=_int(record["region"]),
                zone=_int(record["zone"]),
                ip=str(record["ip"]),
                port=_int(record["port"]),
                device=str(record["device"]),
                weight=float(record["weight"]),  # type: ignore[arg-type]
                meta=str(record.get("meta", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("ring.device.invalid", f"malformed device record: {exc}") from exc


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _check_device(dev: Device) -> None:
    """Reject values that would break placement or make a device unreachable."""
    if not 0 <= dev.id <= MAX_DEVICE_ID:
        raise InvalidInput("ring.device.invalid", f"device id {dev.id} out of range")
    if dev.region < 0 or dev.zone < 0:
        raise InvalidInput("ring.device.invalid", "region and zone must be >= 0")
    if not 1 <= dev.port <= 65535:
        raise InvalidInput("ring.device.invalid", f"port {dev.port} out of range")
    if not dev.weight >= 0 or dev.weight == float("inf"):  # also rejects NaN
        raise InvalidInput("ring.device.invalid", f"weight {dev.weight} must be a number >= 0")
    if not dev.device or "/" in dev.device or dev.device in (".", ".."):
        raise InvalidInput("ring.device.invalid", f"bad device name {dev.device!r}")
    try:
        ipaddress.ip_address(dev.ip)
    except ValueError:
        if not _is_hostname(dev.ip):
            raise InvalidInput("ring.device.invalid", f"bad address {dev.ip!r}") from None


def _is_hostname(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return (
        bool(name)
        and len(name) <= 253
        and all(
            0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
            for label in labels
        )
    )
