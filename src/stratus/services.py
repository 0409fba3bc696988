"""The static registry of services a Stratus process can run, in start order."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from stratus.common.errors import InvalidInput
from stratus.common.service import Service


def _registry() -> Service:
    from stratus.registry.service import RegistryService  # noqa: PLC0415 - import on demand

    return RegistryService()


def _identity() -> Service:
    from stratus.identity.service import IdentityService  # noqa: PLC0415 - import on demand

    return IdentityService()


def _image() -> Service:
    from stratus.image.service import ImageService  # noqa: PLC0415 - import on demand

    return ImageService()


def _network() -> Service:
    from stratus.network.service import NetworkService  # noqa: PLC0415 - import on demand

    return NetworkService()


def _network_agent() -> Service:
    from stratus.network.agent.service import NetworkAgentService  # noqa: PLC0415

    return NetworkAgentService()


def _compute_api() -> Service:
    from stratus.compute.service import ComputeApiService  # noqa: PLC0415 - import on demand

    return ComputeApiService()


def _scheduler() -> Service:
    from stratus.scheduler.service import SchedulerService  # noqa: PLC0415 - import on demand

    return SchedulerService()


def _conductor() -> Service:
    from stratus.compute.conductor.service import ConductorService  # noqa: PLC0415

    return ConductorService()


def _compute_agent() -> Service:
    from stratus.compute.agent.service import ComputeAgentService  # noqa: PLC0415

    return ComputeAgentService()


def _metadata() -> Service:
    from stratus.compute.metadata.service import MetadataService  # noqa: PLC0415

    return MetadataService()


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


def _daemon(module: str, cls: str) -> Callable[[], Service]:
    """A background daemon (``objectstore.daemons``), imported on demand."""

    def create() -> Service:
        found: type[Service] = getattr(importlib.import_module(module), cls)
        return found()

    return create


# Daemons: name -> (module, class). Each is a ``PeriodicDaemon`` with no HTTP API.
_DAEMONS = "stratus.objectstore.daemons"
DAEMONS: dict[str, tuple[str, str]] = {
    "container-replicator": (f"{_DAEMONS}.db_replicator", "ContainerReplicator"),
    "account-replicator": (f"{_DAEMONS}.db_replicator", "AccountReplicator"),
    "object-updater": (f"{_DAEMONS}.object_updater", "ObjectUpdater"),
    "object-expirer": (f"{_DAEMONS}.object_expirer", "ObjectExpirer"),
    "object-replicator": (f"{_DAEMONS}.object_replicator", "ObjectReplicatorDaemon"),
    "object-auditor": (f"{_DAEMONS}.object_auditor", "ObjectAuditorDaemon"),
}

# The backends before the proxy, so the proxy's first request finds them serving.
OBJECT_STORE = ("object-server", "container-server", "account-server", "object-store")

FACTORIES: dict[str, Callable[[], Service]] = {
    "registry": _registry,
    "identity": _identity,
    **{name: _object_store(name) for name in OBJECT_STORE},
    "image": _image,
    "network": _network,
    "network-agent": _network_agent,
    "compute-api": _compute_api,
    "scheduler": _scheduler,
    "conductor": _conductor,
    "compute-agent": _compute_agent,
    "metadata": _metadata,
    **{name: _daemon(module, cls) for name, (module, cls) in DAEMONS.items()},
}

ALL_IN_ONE: tuple[str, ...] = tuple(FACTORIES)

# Other names operators know a service by (Swift calls its API node the proxy).
ALIASES = {"proxy": "object-store"}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def create(name: str) -> Service:
    try:
        return FACTORIES[canonical(name)]()
    except KeyError:
        known = ", ".join(FACTORIES)
        raise InvalidInput(
            "service.unknown", f"unknown service {name!r} (known: {known})"
        ) from None
