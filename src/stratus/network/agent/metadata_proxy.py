"""The metadata proxy: ``169.254.169.254:80`` inside each network's DHCP namespace.

It knows the network from the socket it was reached on and the guest from the source
address, finds the port holding that address, and forwards the request to the metadata
service with the instance id, project and a signature (``compute.metadata.signature``). A source
that is no instance's port gets 404, so a guest can only ever read its own metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from stratus.compute.metadata import signature
from stratus.network import rpc

log = logging.getLogger(__name__)
HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Instance:
    instance_id: str
    project_id: str


def instances_of(net_id: str, ports: list[rpc.Port]) -> dict[str, Instance]:
    """(source address → instance) of a network: ports with a device that is not ours."""
    return {
        f.ip_address: Instance(p.device_id, p.project_id)
        for p in ports
        if p.network_id == net_id and p.device_id and not p.device_owner.startswith("network:")
        for f in p.fixed_ips
    }


@dataclass
class MetadataProxy:
    """The ASGI app of one network's proxy; ``instances`` is replaced on every sync."""

    url: str
    secret: str
    client: httpx.AsyncClient
    instances: dict[str, Instance] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.forward(request)
        await response(scope, receive, send)

    async def forward(self, request: Request) -> Response:
        source = request.client.host if request.client else ""
        found = self.instances.get(source)
        if found is None:
            return PlainTextResponse("404 Not Found\n", status_code=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        headers |= {
            signature.INSTANCE_HEADER: found.instance_id,
            signature.TENANT_HEADER: found.project_id,
            signature.FORWARDED_HEADER: source,
            signature.SIGNATURE_HEADER: signature.sign(self.secret, found.instance_id),
        }
        target = self.url.rstrip("/") + request.url.path
        if request.url.query:
            target += "?" + request.url.query
        try:
            upstream = await self.client.request(
                request.method, target, headers=headers, content=await request.body()
            )
        except httpx.HTTPError as exc:
            log.warning("metadata service unreachable at %s: %s", self.url, exc)
            return PlainTextResponse("502 Bad Gateway\n", status_code=502)
        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
        return Response(upstream.content, status_code=upstream.status_code, headers=kept)


class ProxyServer:
    """Serves one ``MetadataProxy`` on a socket made in the network's namespace."""

    def __init__(self, app: MetadataProxy, sock: socket.socket) -> None:
        self.app = app
        self._sock = sock
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        import uvicorn  # noqa: PLC0415 - only agents with a proxy need it

        config = uvicorn.Config(self.app, http="h11", loop="none", lifespan="off",
                                access_log=False, log_config=None)  # fmt: skip
        config.load()
        self._uvicorn = uvicorn.Server(config)
        self._uvicorn.lifespan = config.lifespan_class(config)
        await self._uvicorn.startup(sockets=[self._sock])

    async def stop(self) -> None:
        self._uvicorn.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._uvicorn.shutdown(), timeout=2)
        self._sock.close()
