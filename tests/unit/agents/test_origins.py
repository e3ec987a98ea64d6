"""Widget origins are stored the way browsers send ``Origin``."""

from __future__ import annotations

import pytest

from shared.agents.origins import canonical_origin


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("HTTPS://Shop.Example.com:443/", "https://shop.example.com"),
        ("http://localhost:3001", "http://localhost:3001"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("  https://a.example  ", "https://a.example"),
    ],
)
def test_origins_are_canonical(raw: str, origin: str) -> None:
    assert canonical_origin(raw) == origin


@pytest.mark.parametrize(
    "raw",
    [
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/widget",
        "https://shop.example.com?x=1",
        "https://shop.example.com#top",
        "https://user:pw@shop.example.com",
        "https://*.example.com",
        "https://",
        "https://shop.example.com:0",
        "https://shop.example.com:99999",
        "https://bad_host.example",
        "https://[zz::1]",
        "*",
    ],
)
def test_anything_but_an_origin_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"must|invalid"):
        canonical_origin(raw)
