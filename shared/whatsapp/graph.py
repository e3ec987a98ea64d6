"""The Graph API's messages endpoint: one POST per message, retried while Meta asks for patience.

Retried: network failures, 5xx and error 130429 (the number's throughput), with backoff. Every
other error is Meta's final answer for that body (131047 means the 24-hour window has closed).
Neither the access token nor the body is ever logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from shared.clients.http import get_http
from shared.errors import AppError
from shared.observability import metrics
from shared.settings import get_settings

THROUGHPUT_EXCEEDED = 130429
RE_ENGAGEMENT_REQUIRED = 131047
# Pauses before the second, third and fourth attempt.
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
# Meta answers in well under a second; four slow attempts must still fit a worker batch (120 s, 5 records).
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
_TRANSIENT_CODES = frozenset({THROUGHPUT_EXCEEDED})
_sleep = asyncio.sleep  # replaced in tests, which do not wait


class GraphError(AppError):
    """Meta refused or could not take a message; ``transient`` ones may succeed later."""

    status = 502
    code = "whatsapp-error"
    title = "WhatsApp error"

    def __init__(
        self,
        graph_title: str,
        details: str | None = None,
        *,
        graph_code: int | None = None,
        http_status: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(f"{graph_title}: {details}" if details else graph_title)
        self.graph_title = graph_title
        self.details = details
        self.graph_code = graph_code
        self.http_status = http_status
        self.transient = transient

    def problem(self) -> dict[str, Any]:
        """What the message row keeps as its ``error``: Meta's code, title and details."""
        return {
            "type": f"/problems/{self.code}",
            "title": self.graph_title,
            "status": self.status,
            "detail": self.details or self.graph_title,
            "code": self.graph_code,
            "http_status": self.http_status,
        }


def messages_url(phone_number_id: str) -> str:
    """``POST`` here to send from ``phone_number_id``."""
    settings = get_settings()
    return f"{settings.whatsapp_graph_url}/{settings.whatsapp_graph_version}/{phone_number_id}/messages"


async def send(
    phone_number_id: str, token: str, body: dict[str, Any], *, retry_delays: Sequence[float] = RETRY_DELAYS
) -> str:
    """POST one message (again after each of ``retry_delays`` while transient); its ``wamid``, else ``GraphError``."""
    client = await get_http()
    error: GraphError | None = None
    for delay in (0.0, *retry_delays):
        if error is not None:
            metrics.add_metric(name="WhatsAppSendRetried", unit="Count", value=1)
            await _sleep(delay)
        try:
            response = await client.post(
                messages_url(phone_number_id), json=body, headers={"authorization": f"Bearer {token}"}, timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            # The exception's text may repeat the request; keep only its kind.
            error = GraphError(f"Graph API unreachable ({type(exc).__name__})", transient=True)
            continue
        if response.is_success:
            return _wamid(response)
        error = _error(response)
        if not error.transient:
            raise error
    assert error is not None
    raise error


def _wamid(response: httpx.Response) -> str:
    try:
        wamid = response.json()["messages"][0]["id"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GraphError("Graph API answered without a message id", http_status=response.status_code) from exc
    return str(wamid)


def _error(response: httpx.Response) -> GraphError:
    """Meta's ``{"error": {message, type, code, error_data: {details}}}`` as a GraphError."""
    try:
        body = response.json()
    except ValueError:
        body = None
    data: dict[str, Any] = body["error"] if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    code = data.get("code") if isinstance(data.get("code"), int) else None
    error_data: dict[str, Any] = data["error_data"] if isinstance(data.get("error_data"), dict) else {}
    details = str(error_data["details"])[:500] if error_data.get("details") else None
    title = str(data.get("message") or f"Graph API answered {response.status_code}")[:300]
    transient = response.status_code >= 500 or response.status_code == 429 or code in _TRANSIENT_CODES
    return GraphError(title, details, graph_code=code, http_status=response.status_code, transient=transient)
