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


def _object_store(name: str) -> Callable[[], Service]:
    def create() -> Service:
        from stratus.objectstore import service  # noqa: PLC0415 - import on demand

        classes: dict[str, type[Service]] = {
            "object-server": service.ObjectServerService,
            "container-server": service.ContainerServerService,
            "account-server": service.AccountServerService,
            "object-store": service.ObjectStoreService,
        }
        return classes[name]()

    return create


# The backends before the proxy, so the proxy's first request finds them serving.
OBJECT_STORE = ("object-server", "container-server", "account-server", "object-store")

FACTORIES: dict[str, Callable[[], Service]] = {
    "registry": _registry,
    "identity": _identity,
    **{name: _object_store(name) for name in OBJECT_STORE},
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
