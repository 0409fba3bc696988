"""Pure ASGI middleware: after a successful write to the API, tell the agents.

Every write that succeeds may change what some host builds (a port bound, a rule added,
a subnet's DNS servers); agents debounce, so one fan-out per write is cheap and nothing
needs to know which writes matter.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.network.agent_rpc import AgentEndpoints

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotifyAgents:
    def __init__(self, app: ASGIApp, endpoints: AgentEndpoints) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if 200 <= status < 300:
            parts = str(scope.get("path", "")).split("/")
            self.endpoints.notify(parts[2] if len(parts) > 2 else "")
