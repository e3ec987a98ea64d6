"""Request and response models of the integrations API: one create body per kind, told apart by ``kind``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, computed_field, model_validator

from shared.integrations.kinds import (
    HubSpotConfig,
    HubSpotCredentials,
    NumericId,
    PipedriveConfig,
    PipedriveCredentials,
    RDStationConfig,
    RDStationCredentials,
    Strict,
    WhatsAppConfig,
    WhatsAppCredentials,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
_WEBHOOK_PATHS = {
    "whatsapp": "/webhooks/whatsapp",
    "hubspot": "/webhooks/hubspot",
    "pipedrive": "/webhooks/pipedrive/{id}",
    "rdstation": "/webhooks/rdstation/{id}",
}


class _Create(Strict):
    name: Name
    agent_id: uuid.UUID | None = Field(default=None, description="the agent this integration serves, if one")
    enabled: bool = True


class CreateWhatsApp(_Create):
    kind: Literal["whatsapp"]
    external_id: NumericId = Field(description="the phone_number_id Meta's webhooks name")
    agent_id: uuid.UUID = Field(description="the agent that answers this number")
    config: WhatsAppConfig
    credentials: WhatsAppCredentials


class CreateHubSpot(_Create):
    kind: Literal["hubspot"]
    external_id: NumericId = Field(description="the portal (hub) id; HubSpot's webhooks are routed by it")
    config: HubSpotConfig = Field(default_factory=lambda: HubSpotConfig())
    credentials: HubSpotCredentials


class CreatePipedrive(_Create):
    kind: Literal["pipedrive"]
    external_id: ExternalId | None = Field(default=None, description="the Pipedrive company id, for reference")
    config: PipedriveConfig = Field(default_factory=lambda: PipedriveConfig())
    credentials: PipedriveCredentials


class CreateRDStation(_Create):
    kind: Literal["rdstation"]
    external_id: ExternalId | None = Field(default=None, description="the RD Station account, for reference")
    config: RDStationConfig = Field(default_factory=lambda: RDStationConfig())
    credentials: RDStationCredentials


CreateIntegration = Annotated[
    CreateWhatsApp | CreateHubSpot | CreatePipedrive | CreateRDStation, Field(discriminator="kind")
]


class UpdateIntegration(Strict):
    """Body of ``PATCH /integrations/{integration_id}``: only the fields sent change.

    ``config`` is merged into the current one; ``credentials`` replace the stored ones as a whole.
    Both are checked against the integration's kind.
    """

    name: Name | None = None
    agent_id: uuid.UUID | None = Field(default=None, description="null detaches the agent")
    external_id: ExternalId | None = None
    enabled: bool | None = None
    config: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = Field(default=None, description="write-only; never returned")

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateIntegration:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, agent_id, external_id, enabled, config, credentials")
        return self


class Integration(BaseModel):
    """An integration as members see it: its config, never its credentials."""

    id: uuid.UUID
    organization_id: uuid.UUID
    kind: str
    name: str
    agent_id: uuid.UUID | None
    external_id: str | None
    config: dict[str, Any]
    enabled: bool
    has_credentials: bool = Field(description="credentials are stored (encrypted); they are never returned")
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def webhook_path(self) -> str | None:
        """Where the provider's webhooks for this integration are sent (on this API's host)."""
        path = _WEBHOOK_PATHS.get(self.kind)
        return path.format(id=self.id) if path else None


class IntegrationList(BaseModel):
    """Body of ``GET /organizations/{organization_id}/integrations``: newest first."""

    data: list[Integration]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")
