"""Proof that a WhatsApp number is the caller's before it is registered (HTTP functions may call this).

httpx is imported by the first verification, not at init: the integration functions import this
module, and only a WhatsApp registration calls out (about 12 ms of their cold init otherwise).

The supplied token must read the number (``GET /{phone-number-id}``), and the number must be
one of the WABA's (``GET /{waba-id}/phone_numbers``). Whatever fails, the answer is the same
neutral 422, so a caller learns nothing about numbers that are not theirs; a number another
organization registered answers the same way. Neither the token nor Meta's answer is logged.
"""

from __future__ import annotations

from typing import Any

from shared.clients.http import get_http
from shared.errors import InvalidInput, UpstreamUnavailable
from shared.observability import logger
from shared.settings import get_settings

FIELD = "body.external_id"
NOT_VERIFIED = "could not be verified as a number of this WhatsApp Business Account with these credentials"
# httpx's (connect, read, write, pool): 2 s to connect, 5 s for the rest. A tuple, so httpx waits for the first call.
TIMEOUT = (2.0, 5.0, 5.0, 5.0)
_MAX_PAGES = 5


def not_verified() -> InvalidInput:
    """The one answer for a number that is not the caller's to register."""
    return InvalidInput.for_field(FIELD, NOT_VERIFIED)


async def verify_ownership(phone_number_id: str, waba_id: str, token: str) -> None:
    """Return when ``token`` reads ``phone_number_id`` and it belongs to ``waba_id``; else ``not_verified()``."""
    base = f"{get_settings().whatsapp_graph_url}/{get_settings().whatsapp_graph_version}"
    number = await _get(f"{base}/{phone_number_id}", token, {"fields": "id,display_phone_number,verified_name"})
    if number is None or str(number.get("id")) != phone_number_id:
        raise not_verified()
    url: str | None = f"{base}/{waba_id}/phone_numbers"
    params: dict[str, str] | None = {"fields": "id", "limit": "100"}
    for _ in range(_MAX_PAGES):
        if url is None:
            break
        page = await _get(url, token, params)
        if page is None:
            break
        if any(str(item.get("id")) == phone_number_id for item in page.get("data") or [] if isinstance(item, dict)):
            return
        url, params = (page.get("paging") or {}).get("next"), None
    logger.info("whatsapp number ownership not verified")
    raise not_verified()


async def _get(url: str, token: str, params: dict[str, str] | None) -> dict[str, Any] | None:
    """Meta's JSON object, or None when Meta refuses (unknown id, no permission, bad token)."""
    client = await get_http()  # builds the container's client, importing httpx, the first time
    import httpx

    try:
        response = await client.get(url, params=params, headers={"authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"the Graph API is unreachable ({type(exc).__name__})") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise UpstreamUnavailable(f"the Graph API answered {response.status_code}")
    if not response.is_success:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
