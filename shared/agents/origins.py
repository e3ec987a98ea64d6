"""Web origins a widget may be embedded on, kept in the form browsers send in ``Origin``."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_origin(value: str) -> str:
    """``HTTPS://Shop.example.com:443/`` → ``https://shop.example.com``; paths, queries and credentials are refused."""
    try:
        parts = urlsplit(value.strip())
    except ValueError as exc:  # e.g. a bracketed host that is not an IPv6 address
        raise ValueError("has an invalid host") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("must start with http:// or https://")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must be an origin, without path, query or fragment (e.g. https://shop.example.com)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    host = _host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    if port == 0:
        raise ValueError("has an invalid port")
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{suffix}"


def _host(hostname: str) -> str:
    if ":" in hostname:
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError as exc:
            raise ValueError("has an invalid host") from exc
    if not _HOSTNAME.fullmatch(hostname) or len(hostname) > 253:
        raise ValueError("has an invalid host")
    return hostname
