"""The errors the RPC layer itself raises; handlers' own errors cross the wire unchanged."""

from __future__ import annotations

from stratus.common.errors import Kind, StratusError, Unavailable

TIMEOUT = "rpc.timeout"
NO_SERVER = "rpc.no_server"
UNAVAILABLE = "rpc.unavailable"
UNKNOWN_MESSAGE = "rpc.unknown_message"
INVALID_MESSAGE = "rpc.invalid_message"
REMOTE_ERROR = "rpc.remote_error"
BAD_REPLY = "rpc.bad_reply"


class RpcTimeout(Unavailable):
    """Nobody answered a call in time (``rpc.timeout``)."""

    def __init__(self, message: str) -> None:
        super().__init__(TIMEOUT, message)


class NoServer(Unavailable):
    """No queue exists for the address: no server of that topic or host ever started."""

    def __init__(self, message: str) -> None:
        super().__init__(NO_SERVER, message)


class BusUnavailable(Unavailable):
    """The broker could not be reached, or took a message too late (``rpc.unavailable``)."""

    def __init__(self, message: str) -> None:
        super().__init__(UNAVAILABLE, message)


def unknown_message(message: str) -> StratusError:
    """The server does not know this wire name, or only an older version of it."""
    return StratusError(UNKNOWN_MESSAGE, message, kind=Kind.INTERNAL)


def remote_error(message: str) -> StratusError:
    """A handler failed unexpectedly; its traceback stays in the server's log."""
    return StratusError(REMOTE_ERROR, message, kind=Kind.INTERNAL)
