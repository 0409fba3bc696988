"""Neutron's errors by name: the code's last part becomes the fault's ``type``."""

from __future__ import annotations

from stratus.common.errors import Conflict, InvalidInput, NotFound, StratusError, Unavailable

# resources Neutron names differently from their words
_NAMED = {
    "floatingip": ("FloatingIP", "Floating IP"),
    "port_forwarding": ("PortForwarding", "Port Forwarding"),
}


def not_found(resource: str, ident: str) -> NotFound:
    """``NetworkNotFound`` and the like, with Neutron's message."""
    kind, words = _NAMED.get(resource) or (
        "".join(part.capitalize() for part in resource.split("_")),
        resource.replace("_", " ").capitalize(),
    )
    if resource.startswith("security_group"):  # Neutron words these two differently
        return NotFound(f"network.{kind}NotFound", f"{words} {ident} does not exist")
    return NotFound(f"network.{kind}NotFound", f"{words} {ident} could not be found.")


def missing(error_type: str, message: str) -> NotFound:
    """A 404 whose Neutron name and message are not the plain ``XNotFound`` ones."""
    return NotFound(f"network.{error_type}", message)


def bad_request(message: str) -> InvalidInput:
    """Neutron's ``InvalidInput``: the message is wrapped as Neutron words it."""
    return InvalidInput("network.InvalidInput", f"Invalid input for operation: {message}")


def bad(error_type: str, message: str) -> InvalidInput:
    return InvalidInput(f"network.{error_type}", message)


def conflict(error_type: str, message: str) -> Conflict:
    return Conflict(f"network.{error_type}", message)


def unavailable(error_type: str, message: str) -> StratusError:
    return Unavailable(f"network.{error_type}", message)


def over_quota(resource: str) -> Conflict:
    """Neutron answers an exceeded quota with 409 ``OverQuota``."""
    return Conflict("network.OverQuota", f"Quota exceeded for resources: ['{resource}'].")
