"""The catalog as Keystone renders it in a token, with project substitution."""

from __future__ import annotations

from stratus.identity.catalog import CatalogEndpoint, ServiceEntry, render, substitute

PROJECT = "0123456789abcdef0123456789abcdef"


def entries() -> list[ServiceEntry]:
    compute = ServiceEntry(
        "svc1",
        "compute",
        "nova",
        (
            CatalogEndpoint("ep1", "public", "RegionOne", "http://h:8774/v2.1/%(project_id)s"),
            CatalogEndpoint("ep2", "internal", "RegionOne", "http://h:8774/v2.1/$(tenant_id)s"),
            CatalogEndpoint("ep3", "admin", None, "http://h:8774/v2.1"),
        ),
    )
    identity = ServiceEntry(
        "svc2",
        "identity",
        "keystone",
        (CatalogEndpoint("ep4", "public", "RegionOne", "http://h:5000/v3"),),
    )
    empty = ServiceEntry("svc3", "image", "", ())
    return [compute, identity, empty]


def test_keystone_shape() -> None:
    catalog = render(entries(), PROJECT)
    assert [s["type"] for s in catalog] == ["compute", "identity", "image"]
    compute = catalog[0]
    assert set(compute) == {"id", "type", "name", "endpoints"}
    assert compute["name"] == "nova"
    ep = compute["endpoints"][0]
    assert set(ep) == {"id", "interface", "region", "region_id", "url"}
    assert ep == {
        "id": "ep1",
        "interface": "public",
        "region": "RegionOne",
        "region_id": "RegionOne",
        "url": f"http://h:8774/v2.1/{PROJECT}",
    }
    assert compute["endpoints"][1]["url"] == f"http://h:8774/v2.1/{PROJECT}"
    assert compute["endpoints"][2]["region"] is None
    assert catalog[2] == {"id": "svc3", "type": "image", "name": "", "endpoints": []}


def test_project_urls_are_left_out_without_a_project() -> None:
    catalog = render(entries(), None)
    assert [e["id"] for e in catalog[0]["endpoints"]] == ["ep3"]
    assert [e["id"] for e in catalog[1]["endpoints"]] == ["ep4"]


def test_substitution_forms() -> None:
    for template in ("%(project_id)s", "$(project_id)s", "%(tenant_id)s", "$(tenant_id)s"):
        assert substitute(f"http://x/{template}/y", "p1") == "http://x/p1/y"
    assert substitute("http://x/%(user_id)s", "p1") is None  # unknown placeholder
    assert substitute("http://x/%(project_id)s", None) is None
    assert substitute("http://x/plain", None) == "http://x/plain"
