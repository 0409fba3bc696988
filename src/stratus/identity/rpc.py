"""Identity's RPC messages: the fan-out that keeps every node's token validator current."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from stratus.common.context import RequestContext
from stratus.common.rpc import Cast, Dispatcher

# A topic of its own: every identity node listens, whatever else serves "identity".
REVOCATION_TOPIC = "identity_tokens"


class TokensRevoked(Cast):
    """A node recorded a revocation or changed what tokens grant (roles, users, catalog).

    Receivers drop their cached validations and reload revocation events at once, instead
    of on their next poll. ``origin`` lets the sender ignore its own broadcast.
    """

    wire_name: ClassVar[str] = "identity.revoked"
    origin: str


def revocation_dispatcher(on_revoked: Callable[[TokensRevoked], Awaitable[None]]) -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.handler(TokensRevoked)
    async def revoked(ctx: RequestContext, msg: TokensRevoked) -> None:
        await on_revoked(msg)

    return dispatcher
