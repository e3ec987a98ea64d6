"""Settings for every function, validated once at cold start.

Values come from the environment. In AWS a secret's variable may instead hold a
reference, ``ssm:/path`` or ``secretsmanager:name``: all of a function's SSM references
are resolved in one ``GetParameters`` call (signed with the role's credentials, no boto3:
``shared.parameter_store``), decrypted, and kept for ``SECRET_MAX_AGE_SECONDS`` at most (each
container a little less, at random, so containers started together do not all ask SSM again
together); after that the next ``get_settings()`` resolves them again, so a rotated value is picked
up within that window (README, "Rotation"). When that reload cannot read the store (throttled,
unreachable), the values in hand are kept and the reload is tried again ``SECRET_RETRY_SECONDS``
later: an SSM outage fails cold starts, not the containers already serving.

Each function is given only the secrets it uses (serverless.yml). A module that reads a
secret declares it in ``SECRETS_USED``; ``require_used_secrets()``, called at the end of
init, fails the cold start when one of the loaded modules needs a secret that is missing.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from shared.errors import ConfigurationError, SecretsUnavailable

SECRET_MAX_AGE_SECONDS = 300
SECRET_AGE_SPREAD = 0.1  # each load is kept between 90 % and 100 % of the max age, at random
SECRET_RETRY_SECONDS = 30  # after a reload the secret store refused, the values in hand are kept this long
SECRET_FIELDS = (
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


def is_reference(value: object) -> bool:
    """True for an ``ssm:`` or ``secretsmanager:`` reference."""
    return isinstance(value, str) and value.startswith(("ssm:", "secretsmanager:"))


def resolve_references(values: Mapping[str, str], force: bool = False) -> dict[str, str]:
    """``values`` with every reference resolved: all SSM ones in one batch, decrypted.

    With the role's credentials in the environment (Lambda), SSM is called directly
    (``shared.parameter_store``: no boto3 at cold start); otherwise through Powertools Parameters
    (boto3's credential chain), where ``force`` skips its cache (a credential was just refused).
    The settings cache (``get_settings``) is what keeps warm invocations from calling SSM.
    Other values are returned unchanged.
    """
    resolved = dict(values)
    ssm = {key: value[4:] for key, value in values.items() if value.startswith("ssm:")}
    managed = {key: value[15:] for key, value in values.items() if value.startswith("secretsmanager:")}
    if not ssm and not managed:
        return resolved
    from shared import parameter_store as ssm_client

    credentials = ssm_client.credentials_from_environment()
    if ssm and credentials is not None:
        try:
            found = ssm_client.get_parameters(list(ssm.values()), credentials)
        except ssm_client.SsmError as exc:
            raise SecretsUnavailable(f"cannot resolve secret references {sorted(set(ssm.values()))}: {exc}") from exc
        resolved.update({key: found[name] for key, name in ssm.items()})
        ssm = {}
    if ssm or managed:
        resolved.update(_resolve_with_parameters(ssm, managed, force))
    return resolved


def _resolve_with_parameters(ssm: dict[str, str], managed: dict[str, str], force: bool) -> dict[str, str]:
    """The references resolved through Powertools Parameters (boto3), cached for ``SECRET_MAX_AGE_SECONDS``."""
    from aws_lambda_powertools.utilities import parameters

    max_age = SECRET_MAX_AGE_SECONDS
    if force:
        parameters.clear_caches()  # type: ignore[no-untyped-call]  # get_parameters_by_name has no force_fetch
    resolved: dict[str, str] = {}
    try:
        if ssm:
            found = parameters.get_parameters_by_name(
                {name: {} for name in sorted(set(ssm.values()))}, decrypt=True, max_age=max_age
            )
            resolved.update({key: str(found[name]) for key, name in ssm.items()})
        for key, name in managed.items():
            resolved[key] = str(parameters.get_secret(name, max_age=max_age))
    except (parameters.GetParameterError, parameters.TransformParameterError) as exc:
        # Not a ValueError, so pydantic would let it escape get_settings() unwrapped. Names only, never values.
        names = sorted({*ssm.values(), *managed.values()})
        raise SecretsUnavailable(f"cannot resolve secret references {names}: {exc}") from exc
    return resolved


def clear_parameter_caches() -> None:
    """Forget values Powertools Parameters cached, if this process ever used it (SnapStart restore)."""
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()


class Settings(BaseModel):
    """Everything a function reads from its environment (``from_environment``: variable names, any case).

    A plain pydantic model over ``os.environ``, as pydantic-settings would read it for these flat
    fields, without importing pydantic-settings' sources (python-dotenv and the cloud providers'
    modules) at every cold start.
    """

    # hide_input_in_errors: a ValidationError would otherwise print (the tail of) the raw secrets.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    app_env: Literal["dev", "test", "staging", "prod"] = "dev"
    service_name: str = Field("conversion-agents", validation_alias="powertools_service_name")
    log_level: str = "INFO"

    database_url: SecretStr
    db_connect_timeout_seconds: int = Field(5, ge=1, le=30)
    # How long the connection may go unanswered by the server (data we sent not acknowledged, or keepalive
    # probes during a statement) before the kernel drops it: a server or network gone dark fails the round
    # trip (then one reconnect) instead of holding the request until the function's own timeout.
    db_network_timeout_ms: int = Field(4000, ge=500, le=60_000)
    # A connection quiet for longer is checked (``select 1``) before a write that must not run twice is sent
    # on it: see shared.db.connection.get_connection. Below every silent-drop timeout on the way (NAT: 350 s).
    db_idle_check_seconds: float = Field(30, ge=0, le=3600)
    db_statement_timeout_ms: int = Field(8000, ge=100, le=120_000)

    supabase_url: str = "http://127.0.0.1:54321"
    supabase_jwt_secret: SecretStr | None = None
    supabase_jwks_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    # Supabase Storage's REST root; default <supabase_url>/storage/v1 (locally: the stand-in, local_runtime/storage.py).
    supabase_storage_url: str | None = None
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = None
    jwt_leeway_seconds: int = Field(30, ge=0, le=300)
    # "local": verify HS256 tokens here with SUPABASE_JWT_SECRET (or a JWKS, with cryptography);
    # "authorizer": asymmetric keys, verified by API Gateway's JWT authorizer, whose claims are trusted.
    jwt_verification: Literal["local", "authorizer"] = "local"

    upstash_redis_rest_url: str | None = None
    upstash_redis_rest_token: SecretStr | None = None
    # The bound on one Upstash call (shared.clients.redis.deadline): past it the caller fails open.
    upstash_timeout_ms: int = Field(1000, ge=50, le=10_000)

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
    # SQS FIFO queue of knowledge-source ingestion jobs (one message group per source).
    knowledge_queue_url: str | None = None
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
        references = {k: v for k, v in data.items() if k.lower() in SECRET_FIELDS and is_reference(v)}
        if not references:
            return data
        return {**data, **resolve_references(references, force=_force_refetch.active)}

    @field_validator("supabase_url", "supabase_jwks_url", "supabase_storage_url", "upstash_redis_rest_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.app_env == "dev":
            return self
        for name in SECRET_FIELDS:
            secret = getattr(self, name)
            if secret is not None and _is_placeholder(secret.get_secret_value()):
                raise ValueError(f"{name.upper()} holds a placeholder; set a real secret")
        jwt_secret = self.supabase_jwt_secret
        if jwt_secret is not None and len(jwt_secret.get_secret_value()) < 32:
            raise ValueError("SUPABASE_JWT_SECRET must be at least 32 characters")
        return self

    @model_validator(mode="after")
    def _asymmetric_keys_need_cryptography(self) -> Settings:
        # The HTTP layer leaves `cryptography` out (README "Deploying"): without it PyJWT cannot check an
        # ES256/RS256 signature, so a JWKS-configured function fails its cold start instead of every request.
        if self.supabase_jwks_url is not None and not has_cryptography():
            raise ValueError("SUPABASE_JWKS_URL needs the cryptography package in the function's layers")
        return self

    @field_validator("whatsapp_graph_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @classmethod
    def from_environment(cls) -> Settings:
        """Validate the process environment (names matched case-insensitively, unknown ones ignored)."""
        import os

        return cls.model_validate({name.lower(): value for name, value in os.environ.items()})

    @property
    def issuer(self) -> str:
        """The ``iss`` every accepted token must carry (Supabase Auth's URL)."""
        return self.jwt_issuer or f"{self.supabase_url}/auth/v1"

    @property
    def storage_url(self) -> str:
        """Supabase Storage's REST root."""
        return self.supabase_storage_url or f"{self.supabase_url}/storage/v1"

    @property
    def jwks_url(self) -> str | None:
        """Where asymmetric signing keys are published, when the project uses them."""
        return self.supabase_jwks_url

    @property
    def is_dev(self) -> bool:
        """True only for a developer's laptop."""
        return self.app_env == "dev"


def has_cryptography() -> bool:
    """True when asymmetric JWT signatures can be verified here (PyJWT needs ``cryptography`` for them)."""
    return importlib.util.find_spec("cryptography") is not None


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return not value.strip() or any(marker in lowered for marker in _PLACEHOLDERS)


class _ForceRefetch(threading.local):
    active = False


_force_refetch = _ForceRefetch()


def _load() -> Settings:
    try:
        return Settings.from_environment()
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or err["msg"] for err in exc.errors())
        raise ConfigurationError(f"invalid settings: {fields}: {exc.errors()[0]['msg']}") from exc


class _SettingsCache:
    """``get_settings()``: load once per container, again after at most ``SECRET_MAX_AGE_SECONDS`` when
    the environment holds secret references (plain values never change, so they are never reloaded)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._reload_at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> Settings:
        settings = self._settings
        if settings is not None and not self._expired():
            return settings
        with self._lock:
            settings = self._settings
            if settings is None:
                return self._keep(_load())  # the cold start: nothing to serve without it, so a failure fails it
            return self._reload(settings) if self._expired() else settings

    def _expired(self) -> bool:
        return time.monotonic() >= self._reload_at and _references_in_environment()

    def _keep(self, settings: Settings) -> Settings:
        self._settings = settings
        self._reload_at = time.monotonic() + SECRET_MAX_AGE_SECONDS * (1 - SECRET_AGE_SPREAD * random.random())
        return settings

    def _reload(self, in_hand: Settings) -> Settings:
        """The periodic reload: a secret store that cannot be read leaves the values in hand in use."""
        try:
            return self._keep(_load())
        except SecretsUnavailable as exc:
            self._reload_at = time.monotonic() + SECRET_RETRY_SECONDS
            from shared.observability import logger, metrics  # only on this path: settings load before them

            logger.warning(
                "secret reload failed; keeping the values in hand",
                extra={"error": type(exc.__cause__ or exc).__name__, "retry_in_seconds": SECRET_RETRY_SECONDS},
            )
            metrics.add_metric(name="SecretReloadFailed", unit="Count", value=1)
            return in_hand

    def refresh(self) -> Settings:
        """Reload now, fetching every secret reference again (bypassing the Parameters cache).

        Called when a credential was refused, so a failure here is raised: the values in hand are the refused ones.
        """
        with self._lock:
            _force_refetch.active = True
            try:
                return self._keep(_load())
            finally:
                _force_refetch.active = False

    def cache_clear(self) -> None:
        """Forget the loaded settings (tests; SnapStart restore does not need it)."""
        with self._lock:
            self._settings = None


def _references_in_environment() -> bool:
    import os

    return any(is_reference(os.environ.get(name.upper())) for name in SECRET_FIELDS)


get_settings = _SettingsCache()
"""Load and validate settings once per container; a bad config fails the cold start."""


def refresh_secrets() -> Settings:
    """Settings with every secret fetched again now: call it when a credential is refused."""
    return get_settings.refresh()


def missing_secret(settings: Settings, name: str) -> bool:
    """True when the function was not given the secret ``name`` (a JWKS URL, or trusting API Gateway's
    JWT authorizer, stands in for the JWT secret)."""
    if name == "supabase_jwt_secret" and (settings.jwks_url is not None or settings.jwt_verification == "authorizer"):
        return False
    return getattr(settings, name) is None


def used_secrets(modules: Iterable[object] | None = None, optional: bool = False) -> set[str]:
    """The secrets the loaded modules of this code base declare they need (``SECRETS_USED``),
    plus, with ``optional``, those they read only when present (``SECRETS_OPTIONAL``)."""
    loaded = modules if modules is not None else list(sys.modules.values())
    used: set[str] = set()
    for module in loaded:
        if getattr(module, "__name__", "").startswith("shared."):
            used.update(getattr(module, "SECRETS_USED", ()))
            if optional:
                used.update(getattr(module, "SECRETS_OPTIONAL", ()))
    return used


def _variable(name: str) -> str:
    return "SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL" if name == "supabase_jwt_secret" else name.upper()


def require_used_secrets() -> Settings:
    """Validate settings and fail the cold start when a loaded module needs a secret this function lacks.

    Called at the end of init (``create_app``, and the workers' module level), once every
    module the handler imports is loaded. Enforced where functions are deployed (``staging``,
    ``prod``), where one container holds one function; on a laptop or in a test process that
    imports many functions, a missing secret surfaces at first use instead.
    """
    settings = get_settings()
    if settings.app_env not in ("staging", "prod"):
        return settings
    missing = sorted(_variable(name) for name in used_secrets() if missing_secret(settings, name))
    if missing:
        raise ConfigurationError(f"this function needs {', '.join(missing)}; set it in serverless.yml")
    return settings
