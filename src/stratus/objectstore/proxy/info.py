"""Looking up account and container metadata through the storage servers, cached.

Middleware (TempURL, FormPOST, CORS) and the ACL check ask here rather than issuing a
subrequest: they need the facts before anyone is authorised, and the cache
(``info_cache.py``) spares the container servers a HEAD per object request.
"""

from __future__ import annotations

from stratus.objectstore.proxy.backend import backend_path
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.info_cache import Info
from stratus.objectstore.proxy.replicas import read_one


async def container_info(cluster: Cluster, account: str, container: str) -> Info:
    key = (account, container)
    cached = cluster.info_cache.get(key)
    if cached is not None:
        return cached
    nodes = cluster.container_nodes(account, container)
    path = lambda d: backend_path(d, nodes.partition, account, container)  # noqa: E731
    reply = await read_one(cluster, nodes, path, "HEAD", {})
    info = Info(reply.status, {k.lower(): v for k, v in reply.headers.items()})
    cluster.info_cache.put(key, info)
    return info


async def account_info(cluster: Cluster, account: str) -> Info:
    key = (account,)
    cached = cluster.info_cache.get(key)
    if cached is not None:
        return cached
    nodes = cluster.account_nodes(account)
    path = lambda d: backend_path(d, nodes.partition, account)  # noqa: E731
    reply = await read_one(cluster, nodes, path, "HEAD", {})
    info = Info(reply.status, {k.lower(): v for k, v in reply.headers.items()})
    cluster.info_cache.put(key, info)
    return info
