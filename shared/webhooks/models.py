"""Request and response models of the developer webhooks API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.events.catalog import EVENT_TYPES, EventType
from shared.webhooks.urls import check_webhook_url

DeliveryStatus = Literal["pending", "succeeded", "failed"]
WebhookUrl = Annotated[str, AfterValidator(check_webhook_url)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _unique(events: list[EventType]) -> list[EventType]:
    return list(dict.fromkeys(events))


EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES)), AfterValidator(_unique)]


class CreateWebhookEndpoint(BaseModel):
    """Body of ``POST /organizations/{organization_id}/webhook-endpoints``."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="where events are POSTed; https only")
    events: EventTypes = Field(description="the event types this endpoint receives")
    description: Description = ""
    enabled: bool = True


class UpdateWebhookEndpoint(BaseModel):
    """Body of ``PATCH /webhook-endpoints/{endpoint_id}``: only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    events: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateWebhookEndpoint:
        if not self.model_fields_set:
            raise ValueError("send at least one of url, events, description, enabled")
        return self


class RotateWebhookSecret(BaseModel):
    """Body of ``POST /webhook-endpoints/{endpoint_id}/rotate-secret`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    grace_period_hours: int = Field(
        default=24, ge=0, le=168, description="how long the old secret keeps signing; 0 retires it now"
    )


class WebhookEndpoint(BaseModel):
    """An endpoint as members see it: never its signing secret."""

    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    description: str
    events: list[str]
    enabled: bool
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="until then deliveries are signed with the previous secret too"
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpoint):
    """An endpoint with its new signing secret: shown in this response only, never again."""

    secret: str = Field(description="whsec_…; store it now, it cannot be read again")


class WebhookEndpointList(BaseModel):
    """Body of ``GET /organizations/{organization_id}/webhook-endpoints``."""

    data: list[WebhookEndpoint]


class WebhookDelivery(BaseModel):
    """One delivery attempt: the event id repeats across retries, the delivery id never does."""

    id: str = Field(description="dlv_…, sent as CA-Delivery-Id")
    event_id: str = Field(description="evt_…, sent as CA-Event-Id; dedupe on it")
    event_type: str
    attempt: int
    status: DeliveryStatus
    response_status: int | None
    response_body: str | None = Field(description="the first 1 KB of the response")
    error: str | None
    duration_ms: int | None
    next_attempt_at: datetime | None = Field(description="when a failed delivery is tried again; null if never")
    created_at: datetime
    completed_at: datetime | None


class WebhookDeliveryList(BaseModel):
    """Body of ``GET /webhook-endpoints/{endpoint_id}/deliveries``: newest first."""

    data: list[WebhookDelivery]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")
