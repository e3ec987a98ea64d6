"""Which URLs an endpoint may have: public HTTPS; plain HTTP to loopback only on a laptop or in tests.

Refusing private, loopback and link-local addresses outside dev/test keeps a tenant from pointing
our workers at the network they run in. (Names that resolve to such addresses are not caught
here; that needs a check at connect time.)
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from shared.settings import get_settings

MAX_LENGTH = 2048
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


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
    local = get_settings().app_env in ("dev", "test")
    if parts.scheme == "http" and not (local and host in _LOOPBACK_NAMES):
        raise ValueError("must use https")
    if not local and _is_internal(host):
        raise ValueError("must point at a public host")
    return url


def _is_internal(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        # A single-label name ("db", "metadata") only resolves inside some private network.
        return host in _LOOPBACK_NAMES or host.endswith(_INTERNAL_SUFFIXES) or "." not in host
