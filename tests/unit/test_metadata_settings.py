"""Where the metadata proxies forward to when nobody says: this node's metadata
service on the port it was given (a test cloud's free port, not 8775)."""

from __future__ import annotations

from stratus.compute.metadata.settings import MetadataSettings


def test_the_default_url_follows_the_port() -> None:
    assert MetadataSettings().url == "http://127.0.0.1:8775"
    assert MetadataSettings(port=23456).url == "http://127.0.0.1:23456"
    assert MetadataSettings(port=23456, url="http://md:80").url == "http://md:80"
