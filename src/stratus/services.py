"""The static registry of services a Stratus process can run, in start order."""

from __future__ import annotations

from collections.abc import Callable

from stratus.common.errors import InvalidInput
from stratus.common.service import Service


def _registry() -> Service:
    from stratus.registry.service import RegistryService  # noqa: PLC0415 - import on demand

    return RegistryService()


def _identity() -> Service:
    from stratus.identity.service import IdentityService  # noqa: PLC0415 - import on demand

    return IdentityService()


FACTORIES: dict[str, Callable[[], Service]] = {
    "registry": _registry,
    "identity": _identity,
}

ALL_IN_ONE: tuple[str, ...] = tuple(FACTORIES)


def create(name: str) -> Service:
    try:
        return FACTORIES[name]()
    except KeyError:
        known = ", ".join(FACTORIES)
        raise InvalidInput(
            "service.unknown", f"unknown service {name!r} (known: {known})"
        ) from None
