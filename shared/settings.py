"""Settings for every function, validated once at cold start.

Values come from the environment. In AWS a secret's variable may instead hold a
reference, ``ssm:/path`` or ``secretsmanager:name``, resolved here through
Powertools Parameters (cached, so warm invocations never refetch).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError

SECRET_MAX_AGE_SECONDS = 300
_SECRET_FIELDS = (
    "database_url",
    "supabase_jwt_secret",
    "supabase_service_role_key",
    "upstash_redis_rest_token",
    "whatsapp_verify_token",
    "whatsapp_app_secret",
    "hubspot_client_secret",
)
# Values shipped in samples and docs (Supabase's local default included); never valid outside dev.
_PLACEHOLDERS = (
    "changeme",
    "change-me",
    "placeholder",
    "your-",
    "xxxx",
    "super-secret-jwt-token-with-at-least-32-characters-long",
    "dev-only",
)


def resolve_reference(value: str) -> str:
    """Resolve ``ssm:`` / ``secretsmanager:`` references; return other values unchanged."""
    if not value.startswith(("ssm:", "secretsmanager:")):
        return value
    from aws_lambda_powertools.utilities import parameters

    try:
        if value.startswith("ssm:"):
            return str(parameters.get_parameter(value[4:], decrypt=True, max_age=SECRET_MAX_AGE_SECONDS))
        return str(parameters.get_secret(value[15:], max_age=SECRET_MAX_AGE_SECONDS))
    except (parameters.GetParameterError, parameters.TransformParameterError) as exc:
        # Not a ValueError, so pydantic would let it escape get_settings() unwrapped.
        raise ConfigurationError(f"cannot resolve secret reference {value}: {exc}") from exc


class Settings(BaseSettings):
    """Everything a function reads from its environment."""

    # hide_input_in_errors: a ValidationError would otherwise print (the tail of) the raw secrets.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True, hide_input_in_errors=True)

    app_env: Literal["dev", "test", "staging", "prod"] = "dev"
    service_name: str = Field("conversion-agents", validation_alias="POWERTOOLS_SERVICE_NAME")
    log_level: str = "INFO"

    database_url: SecretStr
    db_connect_timeout_seconds: int = Field(5, ge=1, le=30)
    db_statement_timeout_ms: int = Field(8000, ge=100, le=120_000)

    supabase_url: str = "http://127.0.0.1:54321"
    supabase_jwt_secret: SecretStr | None = None
    supabase_jwks_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = None
    jwt_leeway_seconds: int = Field(30, ge=0, le=300)

    upstash_redis_rest_url: str | None = None
    upstash_redis_rest_token: SecretStr | None = None

    # SQS FIFO queue of model turns (one message group per conversation).
    turn_queue_url: str | None = None
    # LiteLLM Router config in LiteLLM's own model_list / router_settings format.
    litellm_config_path: str | None = None
    # A module whose register() adds a LiteLLM custom provider: the local model in development and tests
    # (local_runtime.model.local_model, which never ships); unset in production.
    litellm_custom_provider: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    # Requests per minute, enforced with upstash-ratelimit (sliding window).
    rate_limit_org_per_minute: int = Field(600, ge=1)
    rate_limit_ip_per_minute: int = Field(60, ge=1)
    # SQS standard queue of event deliveries (one message per event and subscriber).
    events_queue_url: str | None = None
    # WhatsApp Cloud API: the webhook's verify token and Meta app secret (signatures), and the Graph API.
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com"
    whatsapp_graph_version: str = Field("v21.0", pattern=r"^v[0-9]+\.[0-9]+$")
    # CRMs: HubSpot's app client secret signs its webhooks (v3); base URLs are settings so tests use fakes.
    hubspot_client_secret: SecretStr | None = None
    hubspot_api_url: str = "https://api.hubapi.com"
    pipedrive_api_url: str = "https://api.pipedrive.com"
    rdstation_api_url: str = "https://api.rd.services"

    @model_validator(mode="before")
    @classmethod
    def _resolve_secret_references(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        resolved = dict(data)
        for key, value in data.items():
            if key.lower() in _SECRET_FIELDS and isinstance(value, str):
                resolved[key] = resolve_reference(value)
        return resolved

    @field_validator("supabase_url", "supabase_jwks_url", "upstash_redis_rest_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.supabase_jwt_secret is None and self.jwks_url is None:
            raise ValueError("set SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL to verify tokens")
        if self.app_env == "dev":
            return self
        for name in _SECRET_FIELDS:
            secret = getattr(self, name)
            if secret is not None and _is_placeholder(secret.get_secret_value()):
                raise ValueError(f"{name.upper()} holds a placeholder; set a real secret")
        jwt_secret = self.supabase_jwt_secret
        if jwt_secret is not None and len(jwt_secret.get_secret_value()) < 32:
            raise ValueError("SUPABASE_JWT_SECRET must be at least 32 characters")
        return self

    @field_validator("whatsapp_graph_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def issuer(self) -> str:
        """The ``iss`` every accepted token must carry (Supabase Auth's URL)."""
        return self.jwt_issuer or f"{self.supabase_url}/auth/v1"

    @property
    def jwks_url(self) -> str | None:
        """Where asymmetric signing keys are published, when the project uses them."""
        return self.supabase_jwks_url

    @property
    def is_dev(self) -> bool:
        """True only for a developer's laptop."""
        return self.app_env == "dev"


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return not value.strip() or any(marker in lowered for marker in _PLACEHOLDERS)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load and validate settings once per container; a bad config fails the cold start."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or err["msg"] for err in exc.errors())
        raise ConfigurationError(f"invalid settings: {fields}: {exc.errors()[0]['msg']}") from exc
