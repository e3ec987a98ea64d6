"""What each kind of integration is configured with: its external id, its config and its credentials.

Configs are returned to members; credentials are write-only (SecretStr, so never repr'd or logged)
and go to Vault as one JSON object. Unknown keys are refused, so a token never lands in config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, StringConstraints, model_validator

Kind = Literal["whatsapp", "hubspot", "pipedrive", "rdstation"]
CrmKind = Literal["hubspot", "pipedrive", "rdstation"]
KINDS: tuple[Kind, ...] = ("whatsapp", "hubspot", "pipedrive", "rdstation")
CRM_KINDS: tuple[CrmKind, ...] = ("hubspot", "pipedrive", "rdstation")

NumericId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,20}$")]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
ConversionType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _visible(min_length: int) -> Callable[[object], object]:
    """A check that a credential is visible ASCII, ``min_length`` to 4096 characters."""

    def check(value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not min_length <= len(value) <= 4096 or not all("!" <= c <= "~" for c in value):
            raise ValueError(f"must be {min_length} to 4096 visible ASCII characters")
        return value

    return check


AccessToken = Annotated[SecretStr, BeforeValidator(_visible(20))]
ApiKey = Annotated[SecretStr, BeforeValidator(_visible(16))]
Password = Annotated[SecretStr, BeforeValidator(_visible(12))]


class Strict(BaseModel):
    """Refuses unknown keys."""

    model_config = ConfigDict(extra="forbid")


class WhatsAppConfig(Strict):
    waba_id: NumericId = Field(description="the WhatsApp Business Account id")
    throughput_per_second: int | None = Field(
        default=None, ge=1, le=1000, description="messages a second this number may send; unset: Meta's default, 80"
    )


class WhatsAppCredentials(Strict):
    access_token: AccessToken = Field(description="a system-user access token for the Graph API")


class CrmConfig(Strict):
    """What every CRM shares: how a won deal is recorded here."""

    conversion_type: ConversionType = Field(default="purchase", description="conversions.type of a won deal")
    currency: Currency = Field(default="BRL", description="used when the CRM sends no currency")


class HubSpotConfig(CrmConfig):
    pipeline: Slug = "default"
    qualified_stage: Slug = Field(default="qualifiedtobuy", description="deal stage id for qualified leads")
    handoff_stage: Slug | None = Field(default=None, description="deal stage id on handoff; unset keeps the stage")
    won_stage: Slug = "closedwon"
    lost_stage: Slug = "closedlost"


class HubSpotCredentials(Strict):
    access_token: AccessToken = Field(description="a private app access token (crm.objects contacts/deals)")


class PipedriveConfig(CrmConfig):
    company_domain: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] | None = None
    pipeline_id: int | None = Field(default=None, ge=1)
    qualified_stage_id: int | None = Field(default=None, ge=1, description="unset: the pipeline's first stage")
    handoff_stage_id: int | None = Field(default=None, ge=1, description="unset keeps the stage")


class PipedriveCredentials(Strict):
    api_token: AccessToken = Field(description="the API token of the user deals are created as")
    webhook_username: Label = Field(description="HTTP basic auth user Pipedrive's webhooks send")
    webhook_password: Password = Field(description="HTTP basic auth password Pipedrive's webhooks send")


class RDStationConfig(CrmConfig):
    funnel_name: Label = "default"
    qualified_identifier: Label = Field(default="conversion-agents-qualified", description="conversion_identifier")
    handoff_identifier: Label = "conversion-agents-handoff"
    sale_identifier: Label = Field(
        default="conversion-agents-sale", description="used for sales without an access token"
    )
    won_stages: list[Label] = Field(default_factory=lambda: ["Cliente", "Client"], max_length=20)
    lost_stages: list[Label] = Field(default_factory=list, max_length=20)
    value_field: Label | None = Field(default=None, description="the lead field holding a sale's value, e.g. cf_valor")


class RDStationCredentials(Strict):
    api_key: ApiKey | None = Field(default=None, description="sends conversions")
    access_token: ApiKey | None = Field(default=None, description="OAuth token: also sends sales")
    webhook_token: ApiKey = Field(description="RD Station's webhook URL carries it as ?token=")

    @model_validator(mode="after")
    def _can_send(self) -> RDStationCredentials:
        if self.api_key is None and self.access_token is None:
            raise ValueError("send api_key or access_token")
        return self


CONFIGS: dict[str, type[Strict]] = {
    "whatsapp": WhatsAppConfig,
    "hubspot": HubSpotConfig,
    "pipedrive": PipedriveConfig,
    "rdstation": RDStationConfig,
}
CREDENTIALS: dict[str, type[Strict]] = {
    "whatsapp": WhatsAppCredentials,
    "hubspot": HubSpotCredentials,
    "pipedrive": PipedriveCredentials,
    "rdstation": RDStationCredentials,
}
# Kinds whose webhooks are routed by external_id need one; the others are addressed by integration id.
EXTERNAL_ID_REQUIRED = frozenset({"whatsapp", "hubspot"})


def secret_values(credentials: BaseModel) -> dict[str, str]:
    """The plaintext credentials, for the vault only."""
    values = credentials.model_dump(exclude_none=True)
    return {key: value.get_secret_value() if isinstance(value, SecretStr) else value for key, value in values.items()}
