"""Typed RPC messages: a ``Cast`` expects no reply, a ``Call[Reply]`` fixes its reply type.

Each service declares its messages in its ``rpc.py``::

    class Heartbeat(Cast):
        wire_name: ClassVar[str] = "registry.heartbeat"
        host: str

    class ListServices(Call[ServiceList]):
        wire_name: ClassVar[str] = "registry.list_services"

``wire_name`` is the stable name on the wire; ``version`` is the message's major version:
bump it only for an incompatible change (adding a field with a default is compatible and
needs no bump). A server rejects a message whose version is newer than the one it knows.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

WIRE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

Reply = TypeVar("Reply", bound=BaseModel)


class Message(BaseModel):
    """Base of every RPC message; use ``Cast`` or ``Call[Reply]``, not this directly."""

    wire_name: ClassVar[str] = ""
    version: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__module__ == __name__ or _is_generic_alias(cls):
            return  # Cast, Call, or an alias such as Call[ServiceList]: not messages
        if not WIRE_NAME.match(cls.wire_name):
            raise TypeError(
                f"{cls.__qualname__}.wire_name must be a dotted lower-case name "
                f"such as 'registry.heartbeat', not {cls.wire_name!r}"
            )
        if cls.version < 1:
            raise TypeError(f"{cls.__qualname__}.version must be at least 1")


def _is_generic_alias(cls: type[BaseModel]) -> bool:
    return cls.__pydantic_generic_metadata__["origin"] is not None


class Cast(Message):
    """A one-way message: delivered to one server (or all, with ``fanout``), no reply."""


class Call(Message, Generic[Reply]):
    """A request whose reply is a ``Reply`` model; ``bus.call`` returns that type."""

    @classmethod
    def reply_type(cls) -> type[BaseModel]:
        """The reply model this call declares (``ServiceList`` for ``Call[ServiceList]``)."""
        for klass in cls.__mro__:
            meta = getattr(klass, "__pydantic_generic_metadata__", None)
            if meta and meta["origin"] is Call and meta["args"]:
                reply = meta["args"][0]
                if isinstance(reply, type) and issubclass(reply, BaseModel):
                    return reply
        raise TypeError(f"{cls.__qualname__} does not declare a reply type: use Call[ReplyModel]")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not _is_generic_alias(cls) and cls.__module__ != __name__:
            cls.reply_type()  # fail at import time, not on the first call


def describe(msg_type: type[Message]) -> str:
    """``registry.heartbeat v1``: how errors and logs name a message type."""
    return f"{msg_type.wire_name} v{msg_type.version}"
