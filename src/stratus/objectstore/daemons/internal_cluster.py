"""The cluster as the updater and the expirer see it: the proxy's ``Cluster`` with
``NoAuth``, so they place and send requests exactly as the proxy does (rings, handoffs,
error limiting) without going through the client-facing API. Container updates they
cannot deliver are queued as async pendings on this node's first device, as the proxy's.
"""

from __future__ import annotations

from stratus.common.service import Runtime
from stratus.objectstore.proxy.auth import NoAuth
from stratus.objectstore.proxy.cluster import Cluster, ProxyConfig
from stratus.objectstore.proxy.placement import Rings


def internal_cluster(runtime: Runtime) -> Cluster:
    from stratus.objectstore.service import (  # noqa: PLC0415 - avoids an import cycle
        pending_device,
        ring_loader,
    )

    loaders = {kind: ring_loader(runtime, kind) for kind in ("object", "container", "account")}
    rings = Rings(
        lambda: loaders["object"].ring,
        lambda: loaders["container"].ring,
        lambda: loaders["account"].ring,
    )
    devices_root, _ = runtime.settings.objectstore_dirs()
    return Cluster(ProxyConfig(pending_device=pending_device(devices_root)), rings, NoAuth())
