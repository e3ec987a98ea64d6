"""Calls to CRM APIs on the shared client, and how their failures are classified.

Rate limits (429), server errors, timeouts, network errors and refused credentials (401/403, which
an admin can fix) are retryable: the worker backs off and tries again. Any other 4xx means the
CRM rejected what we sent; retrying would repeat it, so the delivery fails for good.

httpx is imported by the first call, not at init (the CRM webhook functions import this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.clients.http import get_http
from shared.observability.pii import mask_text

if TYPE_CHECKING:
    import httpx

# httpx's (connect, read, write, pool): 3 s to connect, 8 s for the rest. A tuple, so httpx waits for the first call.
TIMEOUT = (3.0, 8.0, 8.0, 8.0)
_RETRYABLE = frozenset({401, 403, 408, 423, 425, 429})
_MESSAGE_CHARS = 300


class ProviderError(Exception):
    """A CRM call failed; ``retryable`` says whether trying again later may succeed."""

    def __init__(self, provider: str, message: str, *, status: int | None = None, retryable: bool) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.status = status
        self.retryable = retryable

    @property
    def detail(self) -> str:
        """The failure with personal data masked, for logs and the link's last_error."""
        return mask_text(str(self))[:500]


async def call(
    provider: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json: Any = None,
    params: Mapping[str, str] | None = None,
) -> Any:
    """Make one request; the decoded JSON body of a 2xx answer, else ProviderError."""
    client = await get_http()  # builds the container's client, importing httpx, the first time
    import httpx

    try:
        response = await client.request(method, url, headers=dict(headers), json=json, params=params, timeout=TIMEOUT)
    except httpx.TimeoutException as exc:
        raise ProviderError(provider, "timed out", retryable=True) from exc
    except httpx.HTTPError as exc:
        # The exception text can repeat the URL, which may carry a key: keep only its kind.
        raise ProviderError(provider, f"request failed ({type(exc).__name__})", retryable=True) from exc
    status = response.status_code
    if response.is_success:
        return _json(response)
    retryable = status in _RETRYABLE or status >= 500
    raise ProviderError(provider, f"answered {status}: {_message(response)}", status=status, retryable=retryable)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json() if response.content else {}
    except ValueError:
        return {}


def _message(response: httpx.Response) -> str:
    """The provider's own error message (HubSpot ``message``, Pipedrive ``error``, RD ``errors``)."""
    body = _json(response)
    text = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            errors = errors[0]
        if isinstance(errors, dict):
            text = errors.get("error_message") or errors.get("message")
        text = text or body.get("message") or body.get("error")
    return str(text or response.text or "no message")[:_MESSAGE_CHARS]
