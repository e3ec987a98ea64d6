"""RD Station Marketing webhooks: a contact whose lifecycle stage became a customer (won) or a lost one.

RD Station signs nothing, so its webhook URL carries a per-integration token (``?token=``, or the
``X-Webhook-Token`` header), kept in Vault and compared in constant time. Both payloads are read:
the classic ``{"leads": [...]}`` with ``lead_stage``, and ``{"event_type": "WEBHOOK.…",
"contact": {...}}`` with ``funnel.lifecycle_stage``. Contacts are matched to leads by e-mail.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.crm.inbound.common import Connected, DealOutcome, Receipt, amount, load_one, parse_json, record, same_secret
from shared.errors import MalformedRequest, NotFound, Unauthorized


async def receive(integration_id: uuid.UUID, token: str | None, body: bytes) -> Receipt:
    """Check the token, then record the contacts that reached a won or lost stage."""
    integration = await load_one("rdstation", integration_id)
    if integration is None:
        raise NotFound("no RD Station integration here")
    if not same_secret(token, integration.credentials.get("webhook_token")):
        raise Unauthorized("invalid webhook token")
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise MalformedRequest("expected an RD Station webhook object")
    contacts = _contacts(payload)
    outcomes = [o for o in (contact_outcome(c, integration) for c in contacts) if o is not None]
    return Receipt(received=len(contacts), recorded=await record(integration, outcomes))


def contact_outcome(contact: dict[str, Any], integration: Connected) -> DealOutcome | None:
    """Won when the stage is one of ``won_stages`` (Cliente/Client by default), lost for ``lost_stages``."""
    config = integration.config
    funnel = _object(contact.get("funnel"))
    stage = str(contact.get("lead_stage") or funnel.get("lifecycle_stage") or "")
    email = contact.get("email")
    won, lost = config.get("won_stages") or ["Cliente", "Client"], config.get("lost_stages") or []
    if not email or stage not in (*won, *lost):
        return None
    identity = contact.get("uuid") or contact.get("id") or str(email).lower()
    field = config.get("value_field")
    custom = _object(contact.get("custom_fields"))
    return DealOutcome(
        outcome="won" if stage in won else "lost",
        external_id=f"contact:{identity}",
        email=str(email),
        value=amount(contact.get(field, custom.get(field))) if field else None,
        data={"rdstation_stage": stage},
    )


def _contacts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    leads = payload.get("leads")
    if isinstance(leads, list):
        return [lead for lead in leads if isinstance(lead, dict)]
    contact = payload.get("contact")
    return [contact] if isinstance(contact, dict) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
