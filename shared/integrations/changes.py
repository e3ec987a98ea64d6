"""A PATCH checked against the integration's kind: the merged config, the new credentials, the external id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.errors import InvalidInput
from shared.integrations.kinds import CONFIGS, CREDENTIALS, EXTERNAL_ID_REQUIRED, NumericId, secret_values
from shared.integrations.models import UpdateIntegration
from shared.integrations.validation import validate_part

_NUMERIC_ID: TypeAdapter[str] = TypeAdapter(NumericId)


@dataclass(frozen=True)
class Change:
    """What an update writes: column values (None keeps the column) and the credentials' JSON, if sent."""

    params: dict[str, Any]
    credentials: str | None


def checked_change(kind: str, current_config: dict[str, Any], data: UpdateIntegration) -> Change:
    """Validate ``data`` for an integration of ``kind``; InvalidInput names the offending field."""
    sent = data.model_fields_set
    config = None
    if data.config is not None:
        merged = validate_part(CONFIGS[kind], {**current_config, **data.config}, "config")
        config = json.dumps(merged.model_dump(mode="json"))
    credentials = None
    if data.credentials is not None:
        credentials = json.dumps(secret_values(validate_part(CREDENTIALS[kind], data.credentials, "credentials")))
    if "agent_id" in sent and data.agent_id is None and kind == "whatsapp":
        raise InvalidInput.for_field("body.agent_id", "a WhatsApp number needs the agent that answers it")
    params = {
        "name": data.name,
        "enabled": data.enabled,
        "config": config,
        "set_agent": "agent_id" in sent,
        "agent_id": data.agent_id,
        "set_external": "external_id" in sent,
        "external_id": _external_id(kind, data.external_id) if "external_id" in sent else None,
    }
    return Change(params=params, credentials=credentials)


def _external_id(kind: str, value: str | None) -> str | None:
    if kind not in EXTERNAL_ID_REQUIRED:
        return value
    if value is None:
        raise InvalidInput.for_field("body.external_id", f"is required for a {kind} integration")
    try:
        return _NUMERIC_ID.validate_python(value)
    except ValidationError as exc:
        raise InvalidInput.for_field("body.external_id", "must be the provider's numeric id") from exc
