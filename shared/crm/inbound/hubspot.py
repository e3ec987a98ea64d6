"""HubSpot webhooks: ``deal.propertyChange`` of ``dealstage`` into the won or lost stage.

Every request is signed with the app's client secret (``X-HubSpot-Signature-v3``: base64 of an
HMAC-SHA256 over method + URI + raw body + timestamp) and dated (``X-HubSpot-Request-Timestamp``,
milliseconds); older than five minutes is refused. Events are routed by ``portalId``. A won deal's
amount is read from HubSpot (the event carries only the stage).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from shared.crm import hubspot
from shared.crm.http import ProviderError
from shared.crm.inbound.common import (
    Connected,
    DealOutcome,
    Receipt,
    amount,
    load_by_external_ids,
    parse_json,
    record,
)
from shared.errors import MalformedRequest, NotFound, Unauthorized, UpstreamUnavailable
from shared.observability import logger
from shared.settings import get_settings

# Secrets this module reads (shared/settings.py: require_used_secrets, and the serverless.yml test).
SECRETS_USED = ("hubspot_client_secret",)

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_AGE_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class SignedRequest:
    """The parts of the request HubSpot signed."""

    method: str
    uri: str
    body: bytes
    signature: str | None
    timestamp: str | None


def signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature of a request."""
    message = method.encode() + unquote(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify(secret: str, request: SignedRequest, now_ms: float | None = None) -> bool:
    """True for a signature by ``secret`` dated within five minutes; compared in constant time."""
    stamp, presented = request.timestamp or "", request.signature or ""
    if not stamp.isascii() or not stamp.isdigit() or not presented:
        return False
    if abs((time.time() * 1000 if now_ms is None else now_ms) - int(stamp)) > MAX_AGE_MS:
        return False
    expected = signature(secret, request.method, request.uri, request.body, stamp)
    return hmac.compare_digest(expected.encode(), presented.encode())


async def receive(request: SignedRequest) -> Receipt:
    """Verify, route by portal, and record the deals that reached a won or lost stage."""
    secret = get_settings().hubspot_client_secret
    if secret is None:
        logger.error("HUBSPOT_CLIENT_SECRET is not set; HubSpot webhooks cannot be verified")
        raise Unauthorized("HubSpot webhooks are not configured")
    if not verify(secret.get_secret_value(), request):
        raise Unauthorized("invalid or expired HubSpot signature")
    events = parse_json(request.body)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise MalformedRequest("expected HubSpot's array of subscription events")
    portals = {str(e.get("portalId")) for e in events}
    deals = [str(e.get("objectId")) for e in events if e.get("subscriptionType") == "deal.propertyChange"]
    integrations = await load_by_external_ids("hubspot", portals, deals)
    if events and not integrations:
        raise NotFound("no integration for this HubSpot portal")
    recorded = 0
    for integration in integrations:
        mine = [e for e in events if str(e.get("portalId")) == integration.external_id]
        recorded += await record(integration, await _outcomes(integration, mine))
    return Receipt(received=len(events), recorded=recorded)


async def _outcomes(integration: Connected, events: list[dict[str, Any]]) -> list[DealOutcome]:
    stages = {
        integration.config.get("won_stage") or "closedwon": "won",
        integration.config.get("lost_stage") or "closedlost": "lost",
    }
    changes = [
        e
        for e in events
        if e.get("subscriptionType") == "deal.propertyChange"
        and e.get("propertyName") == "dealstage"
        and str(e.get("propertyValue")) in stages
    ]
    if not changes or not integration.enabled:
        return []
    linked = integration.linked_deals
    outcomes = []
    for event in changes:
        deal_id = str(event.get("objectId"))
        if deal_id not in linked:
            continue  # not a deal we created: no lead of ours to credit
        outcome = stages[str(event["propertyValue"])]
        deal = await _deal(integration, deal_id) if outcome == "won" else {}
        outcomes.append(
            DealOutcome(
                outcome="won" if outcome == "won" else "lost",
                external_id=f"deal:{deal_id}",
                deal_id=deal_id,
                value=amount(deal.get("amount")),
                currency=deal.get("deal_currency_code") or integration.config.get("currency"),
                occurred_at=_when(event.get("occurredAt")),
                data={"hubspot_event_id": str(event.get("eventId"))},
            )
        )
    return outcomes


async def _deal(integration: Connected, deal_id: str) -> dict[str, Any]:
    try:
        return await hubspot.fetch_deal(deal_id, integration.credentials.get("access_token", ""))
    except ProviderError as exc:
        # 503: HubSpot retries the delivery, and recording it again is idempotent.
        logger.warning("HubSpot deal not readable", extra={"deal_id": deal_id, "error": exc.detail})
        raise UpstreamUnavailable("HubSpot did not return the deal; retry later") from exc


def _when(milliseconds: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
