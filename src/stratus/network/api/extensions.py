"""``/v2.0/extensions``: exactly the extensions this service implements (clients decide
what to send by this list, so nothing is announced ahead of its code)."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network.api.common import READ
from stratus.network.errors import not_found

routes = Routes("network")
UPDATED = "2026-11-24T00:00:00-00:00"
# alias -> (name, description)
EXTENSIONS = {
    "auto-allocated-topology": ("Auto Allocated Topology Services", "A network on demand"),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode", "enable_snat on gateways"),
    "expose-port-forwarding-in-fip": ("Expose port forwardings in a floating IP", "The list"),
    "extraroute": ("Neutron Extra Route", "Static routes on routers"),
    "fip-port-details": ("Floating IP Port Details Extension", "port_details of floating IPs"),
    "floating-ip-port-forwarding": ("Floating IP Port Forwarding", "TCP/UDP port forwarding"),
    "router": ("Neutron L3 Router", "Routers, external gateways and floating IPs"),
    "allowed-address-pairs": ("Allowed Address Pairs", "Extra MAC/IP pairs a port may send from"),
    "binding": ("Port Binding", "Where a port is plugged: host, VIF type and details"),
    "external-net": ("Neutron external network", "router:external on networks"),
    "filter-validation": ("Filter parameters validation", "Unknown filters are refused"),
    "ip-substring-filtering": ("IP address substring filtering", "fixed_ips=ip_address_substr="),
    "network-mtu": ("Network MTU", "The MTU of each network"),
    "net-mtu-writable": ("Network MTU (writable)", "The MTU may be set and changed"),
    "pagination": ("Pagination support", "limit, marker and page_reverse"),
    "port-security": ("Port Security", "port_security_enabled on networks and ports"),
    "project-id": ("project_id field enabled", "project_id beside tenant_id"),
    "provider": ("Provider Network", "provider:network_type, physical_network, segmentation_id"),
    "quota_details": ("Quota details management support", "Limit, use and reservations"),
    "quotas": ("Quota management support", "Per-project quotas"),
    "quota-check-limit": ("Quota engine limit check", "check_limit refuses limits below use"),
    "security-group": ("security-group", "Security groups and their rules"),
    "sorting": ("Sorting support", "sort_key and sort_dir"),
    "standard-attr-description": ("standard-attr-description", "A description on resources"),
    "standard-attr-revisions": ("Resource revision numbers", "revision_number on resources"),
    "standard-attr-timestamp": ("Resource timestamps", "created_at and updated_at"),
}


def _view(alias: str) -> dict[str, object]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


@routes.route("GET", "/v2.0/extensions", rule=READ)
async def list_extensions(req: ApiRequest) -> Response:
    return json_response({"extensions": [_view(alias) for alias in sorted(EXTENSIONS)]})


@routes.route("GET", "/v2.0/extensions/{alias}", rule=READ)
async def show_extension(req: ApiRequest) -> Response:
    alias = req.params["alias"]
    if alias not in EXTENSIONS:
        raise not_found("extension", alias)
    return json_response({"extension": _view(alias)})
