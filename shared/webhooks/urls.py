"""Which URLs an endpoint may have: public HTTPS; plain HTTP to loopback only on a laptop or in tests.

Refusing internal hosts (``shared.public_urls``, every spelling of an address included) outside
dev/test keeps a tenant from pointing our workers at the network they run in. Names are resolved
and checked again at every delivery, and the connection is pinned to the address that passed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.public_urls import NotPublic, check_host
from shared.settings import get_settings

MAX_LENGTH = 2048
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def check_webhook_url(value: str) -> str:
    """``value`` stripped, or ValueError saying why an endpoint may not use it."""
    url = value.strip()
    if len(url) > MAX_LENGTH:
        raise ValueError(f"must be at most {MAX_LENGTH} characters")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; deliveries are signed instead")
    if parts.fragment or any(c.isspace() for c in url):
        raise ValueError("must not contain a fragment or spaces")
    try:
        parts.port  # noqa: B018  (raises on an invalid port)
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    local = may_call_loopback()
    if parts.scheme == "http" and not (local and host in _LOOPBACK_NAMES):
        raise ValueError("must use https")
    if not local:
        try:
            check_host(host)
        except NotPublic as exc:
            raise ValueError(str(exc)) from None
    return url


def may_call_loopback() -> bool:
    """Loopback receivers are for a laptop and tests only."""
    return get_settings().app_env in ("dev", "test")
