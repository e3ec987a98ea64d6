"""Fetch a web page source through the SSRF guard: public addresses only (each redirect re-checked),
a time limit and a size limit; any failure is a ``FetchFailed`` whose message becomes the problem."""

from __future__ import annotations

import asyncio

import httpx

from shared import public_urls
from shared.clients.http import get_http
from shared.knowledge.extraction import HTML_TYPES, TEXT_TYPES
from shared.settings import get_settings

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3


class FetchFailed(ValueError):
    """The page could not be fetched; the message says why, safe to show the tenant."""


async def fetch_page(url: str) -> tuple[bytes, str]:
    """The page's bytes and media type, within ``TIMEOUT_SECONDS`` in all (a server that drips is cut off)."""
    seconds, max_bytes = TIMEOUT_SECONDS, MAX_BYTES  # read per call: a test shortens them
    try:
        async with asyncio.timeout(seconds):
            return await _fetch(url, max_bytes, seconds)
    except TimeoutError as exc:
        raise FetchFailed(f"url: no answer within {seconds:g} s") from exc


async def _fetch(url: str, max_bytes: int, seconds: float) -> tuple[bytes, str]:
    client = await get_http()
    loopback = get_settings().app_env in ("dev", "test")
    try:
        response = await public_urls.send(
            client,
            "GET",
            url,
            allow_loopback=loopback,
            max_redirects=MAX_REDIRECTS,
            headers={"accept": "text/html, text/plain, text/markdown"},
            timeout=httpx.Timeout(seconds),
        )
    except public_urls.NotPublic as exc:
        raise FetchFailed(f"url: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise FetchFailed(f"url: no answer within {seconds:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"url: could not connect ({type(exc).__name__})") from exc
    try:
        if response.status_code != 200:
            raise FetchFailed(f"url: the server answered {response.status_code}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in HTML_TYPES | TEXT_TYPES:
            raise FetchFailed(f"url: unsupported content type {media_type or 'none'!r}")
        body = bytearray()
        async for part in response.aiter_bytes():
            body += part
            if len(body) > max_bytes:
                raise FetchFailed(f"url: the page is larger than {max_bytes // (1024 * 1024)} MiB")
        return bytes(body), media_type
    except httpx.TimeoutException as exc:
        raise FetchFailed(f"url: no answer within {seconds:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"url: the transfer failed ({type(exc).__name__})") from exc
    finally:
        await response.aclose()
