"""Which networks a new server gets: the boot request's ``networks``, resolved by the
network service as the caller (``network.check_networks``) before any row is written,
so an unknown network, a port in use or an ambiguous ``auto`` fails the request itself.

What is stored on the instance is the resolved list, which the conductor binds on the
chosen host (``network.bind_ports``). A deployment without a network service boots
``auto`` servers without a NIC, and refuses servers that name a network or port; a
network service that does not answer in time is a 503, never a server without its NIC.
"""

from __future__ import annotations

from typing import Any

from stratus.common.context import RequestContext
from stratus.common.errors import Conflict, InvalidInput, Kind, StratusError
from stratus.common.rpc import Bus, NoServer
from stratus.compute.api.common import bad
from stratus.network.binding_rpc import (
    NETWORK_TOPIC,
    CheckNetworks,
    Mode,
    RequestedNetwork,
)


def _requested(networks: list[dict[str, str]]) -> list[RequestedNetwork]:
    return [
        RequestedNetwork(
            network_id=n.get("uuid"), port_id=n.get("port"), fixed_ip=n.get("fixed_ip")
        )
        for n in networks
    ]


# what the network service could not find, in Nova's words: its error code names the
# kind, the message the id it was given
_NOT_FOUND = {
    "network.SecurityGroupNotFound": "Security group {} not found.",
    "network.PortNotFound": "Port id {} could not be found.",
    "network.NetworkNotFound": "Network {} could not be found.",
}


def _refusal(exc: StratusError, asked: list[str]) -> StratusError:
    """The network service's refusal in the words Nova uses for it."""
    if exc.kind == Kind.NOT_FOUND:
        words = _NOT_FOUND.get(exc.code)
        ident = next((a for a in asked if a in str(exc)), None)
        return bad(words.format(ident) if words and ident else str(exc))
    if exc.kind == Kind.CONFLICT:
        return Conflict("compute.network.conflict", str(exc))
    if exc.kind in (Kind.INVALID, Kind.FORBIDDEN):
        return InvalidInput("compute.network.invalid", str(exc))
    return exc


async def resolve(
    bus: Bus, ctx: RequestContext, networks: Any, count: int, security_groups: list[str]
) -> list[dict[str, Any]]:
    """The NICs every server of this request gets, in order (``[]``: none)."""
    if networks == "none":
        return []
    mode: Mode = networks if networks in ("auto", "all") else "list"
    requested = _requested(networks) if mode == "list" else []
    if count > 1 and any(r.port_id for r in requested):
        raise bad("Unable to launch multiple instances with a single configured port ID. "
                  "Please launch your instance one by one with different ports.")  # fmt: skip
    try:
        ask = CheckNetworks(mode=mode, requested=requested, security_groups=security_groups)
        checked = await bus.call(NETWORK_TOPIC, ask, ctx=ctx)
    except NoServer:  # no network service in this deployment (a timeout is a 503)
        if mode != "list":
            return []  # no NIC, as asked for "any"
        msg = "The network service is not available to attach the requested networks."
        raise bad(msg) from None
    except StratusError as exc:
        asked = [i for r in requested for i in (r.port_id, r.network_id) if i]
        raise _refusal(exc, [*asked, *security_groups]) from None
    return [r.model_dump(exclude_none=True) for r in checked.requested]
