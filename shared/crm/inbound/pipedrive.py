"""Pipedrive webhooks: a deal whose ``status`` became ``won`` or ``lost``.

Pipedrive signs nothing; each webhook is created with HTTP basic auth credentials, which are the
integration's (kept in Vault) and checked in constant time. Both payload versions are read:
v2 (``meta.action``/``meta.entity``, ``data``, ``previous`` with only the changed fields) and v1
(``event: "updated.deal"``, ``current``, ``previous``).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.crm.inbound.common import Connected, DealOutcome, Receipt, amount, load_one, parse_json, record, same_secret
from shared.errors import MalformedRequest, NotFound, Unauthorized


async def receive(integration_id: uuid.UUID, authorization: str | None, body: bytes) -> Receipt:
    """Authenticate the webhook, then record the deal's outcome if it just changed."""
    integration = await load_one("pipedrive", integration_id)
    if integration is None:
        raise NotFound("no Pipedrive integration here")
    if not authorized(authorization, integration):
        raise Unauthorized("invalid basic auth credentials")
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise MalformedRequest("expected a Pipedrive webhook object")
    outcome = deal_outcome(payload)
    recorded = await record(integration, [outcome]) if outcome else 0
    return Receipt(received=1, recorded=recorded)


def authorized(header: str | None, integration: Connected) -> bool:
    """True when ``Authorization: Basic`` carries the integration's webhook user and password."""
    scheme, _, encoded = (header or "").partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    user, _, password = decoded.partition(":")
    # Both comparisons always run, so the time taken does not tell which part was wrong.
    user_ok = same_secret(user, integration.credentials.get("webhook_username"))
    password_ok = same_secret(password, integration.credentials.get("webhook_password"))
    return scheme.lower() == "basic" and user_ok and password_ok


def deal_outcome(payload: dict[str, Any]) -> DealOutcome | None:
    """The won or lost deal in a v1 or v2 payload; None for anything else or an unchanged status."""
    meta = _object(payload.get("meta"))
    if "current" in payload or "event" in payload:
        is_deal = payload.get("event") == "updated.deal" or (
            meta.get("object") == "deal" and meta.get("action") == "updated"
        )
        current, previous = payload.get("current"), payload.get("previous")
    else:
        is_deal = meta.get("entity") == "deal" and meta.get("action") in ("change", "create")
        current, previous = payload.get("data"), payload.get("previous")
    if not is_deal or not isinstance(current, dict) or current.get("status") not in ("won", "lost"):
        return None
    status = str(current["status"])
    # v2 sends only the changed fields in previous: no "status" there means the status did not change.
    if isinstance(previous, dict) and previous.get("status", status) == status:
        return None
    deal_id = str(current.get("id") or meta.get("entity_id") or meta.get("id") or "")
    if not deal_id:
        return None
    return DealOutcome(
        outcome="won" if status == "won" else "lost",
        external_id=f"deal:{deal_id}",
        deal_id=deal_id,
        value=amount(current.get("value")),
        currency=str(current["currency"]).upper() if current.get("currency") else None,
        occurred_at=_when(current.get("won_time") or current.get("lost_time") or current.get("update_time")),
        data={"pipedrive_status": status},
    )


def _when(value: Any) -> datetime | None:
    """Pipedrive's times: ISO 8601 (v2) or "YYYY-MM-DD HH:MM:SS" in UTC (v1)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
