"""Typed RPC between services, in one process (``memory://``) or over RabbitMQ (``amqp://``).

Declare messages in a service's ``rpc.py`` as ``Cast`` or ``Call[Reply]`` models, register
handlers on a ``Dispatcher``, ``serve`` it on a ``Bus``; ``bus.call`` returns the typed reply.
This package never touches the database: agents use it without DB credentials.
"""

from stratus.common.rpc.bus import Bus, Server, connect, connect_from_settings
from stratus.common.rpc.dispatcher import Dispatcher
from stratus.common.rpc.errors import BusUnavailable, NoServer, RpcTimeout
from stratus.common.rpc.messages import Call, Cast, Message

__all__ = [
    "Bus",
    "BusUnavailable",
    "Call",
    "Cast",
    "Dispatcher",
    "Message",
    "NoServer",
    "RpcTimeout",
    "Server",
    "connect",
    "connect_from_settings",
]
