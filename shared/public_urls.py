"""The SSRF guard: is a URL's host public, and a request pinned to the address that was checked.

A tenant names the URLs we call (webhook endpoints; later the knowledge-base fetcher), so every
address a host resolves to is checked with ``ipaddress``: loopback, private, link-local, shared,
multicast, reserved and unspecified are refused, and so are IPv6 forms that embed one (IPv4-mapped,
IPv4-compatible, 6to4, Teredo, NAT64). Hosts are read the way ``inet_aton`` and browsers read them,
so ``127.1``, ``0177.0.0.1``, ``0x7f.0.0.1`` and ``169.254.43518`` are the addresses they spell.
The connection then goes to the checked address (Host and TLS SNI keep the name), so a DNS answer
that changes between check and connect (rebinding) changes nothing; redirects are re-checked.

httpx is imported by ``pin`` and ``send``, not at init: the webhook-endpoint functions check hosts
(``check_host``) and never call out, and httpx would add about 12 ms to their cold start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
MAX_REDIRECTS = 3


class NotPublic(ValueError):
    """The URL's host is, or resolves to, an address we do not call."""


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells (any form ``inet_aton`` accepts, or IPv6), or None for a name."""
    host = host.strip("[]").lower()
    if "%" in host:
        raise NotPublic("must not name an IPv6 zone")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None  # a name after all ("1.ad.be"); its resolution is checked
    return None


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or int(address) >> 32 == 0:  # NAT64, or IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address, *, allow_loopback: bool = False) -> str | None:
    """Why ``address`` may not be called, or None when it is public."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return refusal(inner, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "is a loopback address"
    if (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return "is not a public address"
    return None


def check_host(host: str, *, allow_loopback: bool = False) -> Address | None:
    """Refuse a host that is, or can only be, internal; the address for a literal, None for a name."""
    address = literal_address(host)
    if address is not None:
        if reason := refusal(address, allow_loopback=allow_loopback):
            raise NotPublic(f"must point at a public host ({host} {reason})")
        return address
    name = host.lower().rstrip(".")
    if name == "localhost" and allow_loopback:
        return None
    if name == "localhost" or name.endswith(_INTERNAL_SUFFIXES) or "." not in name:
        # A single-label name ("db", "metadata") only resolves inside some private network.
        raise NotPublic(f"must point at a public host ({host} is an internal name)")
    return None


async def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


# Replaceable in tests, which must not query DNS for public names.
resolver = _getaddrinfo


async def resolve_public(host: str, port: int, *, allow_loopback: bool = False) -> Address:
    """The address to connect to: every address ``host`` resolves to must be public."""
    literal = check_host(host, allow_loopback=allow_loopback)
    if literal is not None:
        return literal
    try:
        found = [ipaddress.ip_address(a.split("%")[0]) for a in await resolver(host, port)]
    except (OSError, UnicodeError, ValueError) as exc:
        raise NotPublic(f"{host} does not resolve") from exc
    if not found:
        raise NotPublic(f"{host} does not resolve")
    for address in found:
        if reason := refusal(address, allow_loopback=allow_loopback):
            raise NotPublic(f"must point at a public host ({host} resolves to an address that {reason})")
    return found[0]


@dataclass(frozen=True)
class Pinned:
    """A request's URL rewritten to the checked address, with the name kept for Host and SNI."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any] = field(default_factory=dict)


async def pin(url: str, *, allow_loopback: bool = False) -> Pinned:
    """Resolve and check ``url``'s host now, and aim the request at the address that passed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotPublic("must be an absolute http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = await resolve_public(parts.hostname, port, allow_loopback=allow_loopback)
    import httpx

    target = httpx.URL(url).copy_with(host=str(address))
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return Pinned(str(target), {"host": host_header}, extensions)


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    allow_loopback: bool = False,
    max_redirects: int = 0,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request to a tenant-named URL, pinned; each redirect (at most ``max_redirects``) is re-checked.

    The response is streamed: the caller reads what it needs and must close it.
    """
    import httpx

    for _ in range(max_redirects + 1):
        pinned = await pin(url, allow_loopback=allow_loopback)
        headers = {**kwargs.pop("headers", {}), **pinned.headers}
        request = client.build_request(method, pinned.url, headers=headers, extensions=pinned.extensions, **kwargs)
        response = await client.send(request, stream=True, follow_redirects=False)
        location = response.headers.get("location")
        if not response.is_redirect or location is None or max_redirects == 0:
            return response
        await response.aclose()
        url = str(httpx.URL(url).join(location))
        if response.status_code in (301, 302, 303):
            method = "GET"
            kwargs.pop("content", None)
        kwargs["headers"] = {k: v for k, v in headers.items() if k.lower() != "host"}
    raise NotPublic(f"followed more than {max_redirects} redirects")
