"""Settings: validated at cold start, placeholders refused outside dev, secrets resolved via Parameters."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from shared import settings as settings_module
from shared.errors import ConfigurationError
from shared.settings import Settings, get_settings, require_used_secrets

REAL_JWT_SECRET = "k3Jd8vQ2mZr7Lx1Np4Wt9Ys6Hb0Fc5Ge"  # 32 characters, no placeholder marker
REAL_DATABASE_URL = "postgresql://app:Zq8w3Kp1@db.internal:5432/app"
REGION = "us-east-1"


def _env_names() -> set[str]:
    """Every variable Settings reads: field names and validation aliases, upper-cased."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias.upper())
    return names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Start each test from an environment holding none of the app's variables and no cached settings."""
    for name in _env_names():
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    yield monkeypatch
    get_settings.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


@pytest.fixture
def valid_env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    clean_env.setenv("DATABASE_URL", REAL_DATABASE_URL)
    clean_env.setenv("SUPABASE_JWT_SECRET", REAL_JWT_SECRET)
    return clean_env


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """This module's own moto server (reset before each test that uses it)."""
    from local_runtime.aws import start_aws

    local = start_aws({})
    yield local.endpoint
    local.stop()


@pytest.fixture
def aws(clean_env: pytest.MonkeyPatch, moto_server: str) -> None:
    """Fake credentials and a region, as Lambda sets them, with every AWS call served by moto holding no
    parameter and no secret (boto3 and the direct SSM call alike reach it through AWS_ENDPOINT_URL)."""
    _forget_parameters_and_secrets(moto_server)
    clean_env.setenv("AWS_ENDPOINT_URL", moto_server)
    clean_env.setenv("AWS_DEFAULT_REGION", REGION)
    clean_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clean_env.setenv("AWS_SESSION_TOKEN", "testing")
    clean_env.delenv("AWS_PROFILE", raising=False)


def _forget_parameters_and_secrets(endpoint: str) -> None:
    """Delete every SSM parameter and secret in ``REGION``: what the tests here write.

    Not moto's ``/moto-api/reset``: servers in one process share moto's backends, so a reset would also
    empty the queues of the session's moto server (``tests/conftest.py``), which later tiers still use.
    """
    keys = {"region_name": REGION, "endpoint_url": endpoint, "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    ssm = boto3.client("ssm", **keys)
    names = [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate() for p in page["Parameters"]]
    for start in range(0, len(names), 10):  # DeleteParameters takes at most 10 names
        ssm.delete_parameters(Names=names[start : start + 10])
    secrets = boto3.client("secretsmanager", **keys)
    for page in secrets.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


# ----------------------------------------------------------------------------- plain environment


def test_valid_env_loads_and_applies_defaults(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN only the required variables
    # WHEN settings load
    settings = get_settings()

    # THEN the values are read and the defaults fill the rest
    assert settings.database_url.get_secret_value() == REAL_DATABASE_URL
    assert settings.app_env == "dev"
    assert settings.is_dev
    assert settings.issuer == "http://127.0.0.1:54321/auth/v1"


def test_get_settings_is_cached_per_container(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN settings loaded once
    first = get_settings()

    # WHEN the environment changes afterwards
    valid_env.setenv("LOG_LEVEL", "DEBUG")

    # THEN the same validated object is returned
    assert get_settings() is first


def test_missing_database_url_names_the_field(clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN a JWT secret but no DATABASE_URL
    clean_env.setenv("SUPABASE_JWT_SECRET", REAL_JWT_SECRET)

    # WHEN / THEN the cold start fails naming the field
    with pytest.raises(ConfigurationError, match="database_url"):
        get_settings()


def test_missing_token_verification_key_is_refused_where_tokens_are_verified(clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN a deployed function that verifies tokens, given neither a JWT secret nor a JWKS URL
    import shared.auth.jwt  # noqa: F401  (loaded: this function verifies tokens)

    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", REAL_DATABASE_URL)

    # WHEN / THEN its cold start fails, naming what to set
    with pytest.raises(ConfigurationError, match="SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL"):
        require_used_secrets()


def test_jwks_url_alone_is_enough_to_verify_tokens(clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN a JWKS URL instead of a shared secret, in prod
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", REAL_DATABASE_URL)
    clean_env.setenv("SUPABASE_JWKS_URL", "https://proj.supabase.co/auth/v1/.well-known/jwks.json/")

    # WHEN settings load
    settings = get_settings()

    # THEN the URL is kept without its trailing slash
    assert settings.jwks_url == "https://proj.supabase.co/auth/v1/.well-known/jwks.json"


def test_jwks_url_without_cryptography_fails_the_cold_start(clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN a JWKS URL in a function whose layers have no cryptography (the HTTP layer's case)
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", REAL_DATABASE_URL)
    clean_env.setenv("SUPABASE_JWKS_URL", "https://proj.supabase.co/auth/v1/.well-known/jwks.json")
    clean_env.setattr(settings_module, "has_cryptography", lambda: False)

    # WHEN / THEN settings refuse to load, naming what is missing
    with pytest.raises(ConfigurationError, match="cryptography"):
        get_settings()


def test_non_http_url_is_refused(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN a Supabase URL that is not http(s)
    valid_env.setenv("SUPABASE_URL", "ftp://example.com")

    # WHEN / THEN the field is named
    with pytest.raises(ConfigurationError, match="supabase_url"):
        get_settings()


def test_unknown_app_env_is_refused(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN an APP_ENV outside the allowed set
    valid_env.setenv("APP_ENV", "production")

    # WHEN / THEN the field is named
    with pytest.raises(ConfigurationError, match="app_env"):
        get_settings()


# ----------------------------------------------------------------------------- placeholders


PLACEHOLDER_CASES = [
    ("DATABASE_URL", "postgresql://postgres:changeme@db:5432/app"),
    ("SUPABASE_JWT_SECRET", "super-secret-jwt-token-with-at-least-32-characters-long"),
    ("SUPABASE_SERVICE_ROLE_KEY", "your-service-role-key"),
    ("UPSTASH_REDIS_REST_TOKEN", "xxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ("SUPABASE_JWT_SECRET", "dev-only-secret-0123456789abcdefghijkl"),
]


@pytest.mark.parametrize("app_env", ["staging", "prod"])
@pytest.mark.parametrize(("variable", "value"), PLACEHOLDER_CASES)
def test_placeholder_secret_refused_outside_dev(
    valid_env: pytest.MonkeyPatch, app_env: str, variable: str, value: str
) -> None:
    # GIVEN a deployed environment with a sample value in a secret
    valid_env.setenv("APP_ENV", app_env)
    valid_env.setenv(variable, value)

    # WHEN / THEN the cold start fails naming the variable, without echoing the value
    with pytest.raises(ConfigurationError, match=f"{variable} holds a placeholder") as caught:
        get_settings()
    assert value not in str(caught.value)


@pytest.mark.parametrize(("variable", "value"), PLACEHOLDER_CASES)
def test_placeholder_secret_allowed_in_dev(valid_env: pytest.MonkeyPatch, variable: str, value: str) -> None:
    # GIVEN a developer's laptop with the sample values
    valid_env.setenv("APP_ENV", "dev")
    valid_env.setenv(variable, value)

    # WHEN settings load
    settings = get_settings()

    # THEN the placeholder is accepted as is
    assert getattr(settings, variable.lower()).get_secret_value() == value


def test_placeholder_detection_ignores_case(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN a placeholder in upper case in prod
    valid_env.setenv("APP_ENV", "prod")
    valid_env.setenv("SUPABASE_SERVICE_ROLE_KEY", "CHANGEME-0123456789")

    # WHEN / THEN it is still refused
    with pytest.raises(ConfigurationError, match="SUPABASE_SERVICE_ROLE_KEY holds a placeholder"):
        get_settings()


@pytest.mark.parametrize("app_env", ["test", "staging", "prod"])
def test_short_jwt_secret_refused_outside_dev(valid_env: pytest.MonkeyPatch, app_env: str) -> None:
    # GIVEN a 31-character JWT secret outside dev
    valid_env.setenv("APP_ENV", app_env)
    valid_env.setenv("SUPABASE_JWT_SECRET", REAL_JWT_SECRET[:31])

    # WHEN / THEN it is refused for its length
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        get_settings()


def test_jwt_secret_of_minimum_length_accepted_in_prod(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN exactly 32 characters in prod
    valid_env.setenv("APP_ENV", "prod")
    assert len(REAL_JWT_SECRET) == 32

    # WHEN / THEN settings load
    assert get_settings().app_env == "prod"


def test_short_jwt_secret_allowed_in_dev(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN a short secret on a laptop
    valid_env.setenv("SUPABASE_JWT_SECRET", "short")

    # WHEN / THEN settings load
    assert get_settings().supabase_jwt_secret is not None


# ----------------------------------------------------------------------------- secret hygiene


def test_secrets_never_appear_in_repr_str_or_dump(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN loaded settings
    settings = get_settings()

    # WHEN they are rendered every usual way
    renderings = [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())]

    # THEN neither secret is visible
    for text in renderings:
        assert REAL_JWT_SECRET not in text
        assert REAL_DATABASE_URL not in text
        assert "Zq8w3Kp1" not in text


def test_refused_settings_do_not_leak_secrets_in_traceback(valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN prod settings that fail validation while holding real secrets (the Redis token is read last)
    valid_env.setenv("APP_ENV", "prod")
    valid_env.setenv("SUPABASE_JWT_SECRET", "too-short-but-real-9")
    valid_env.setenv("UPSTASH_REDIS_REST_TOKEN", "AXk2Tok3nSecretValue99")

    # WHEN the cold start fails and the error is logged with its cause
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    logged = "".join(traceback.format_exception(caught.value))

    # THEN no secret, nor a tail of one, appears anywhere in what would be logged
    for secret in ("Zq8w3Kp1", "too-short-but-real-9", "Tok3nSecretValue99"):
        assert secret not in logged


# ----------------------------------------------------------------------------- references (moto)


def test_ssm_securestring_reference_is_decrypted(aws: None, clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN the database URL stored as an SSM SecureString
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/conversion-agents/prod/database-url", Value=REAL_DATABASE_URL, Type="SecureString"
    )
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", "ssm:/conversion-agents/prod/database-url")
    clean_env.setenv("SUPABASE_JWT_SECRET", REAL_JWT_SECRET)

    # WHEN settings load
    settings = get_settings()

    # THEN the decrypted value is used
    assert settings.database_url.get_secret_value() == REAL_DATABASE_URL


def test_secretsmanager_reference_is_resolved(aws: None, clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN the JWT secret stored in Secrets Manager
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="conversion-agents/prod/jwt", SecretString=REAL_JWT_SECRET
    )
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", REAL_DATABASE_URL)
    clean_env.setenv("SUPABASE_JWT_SECRET", "secretsmanager:conversion-agents/prod/jwt")

    # WHEN settings load
    settings = get_settings()

    # THEN the secret's value is used
    assert settings.supabase_jwt_secret is not None
    assert settings.supabase_jwt_secret.get_secret_value() == REAL_JWT_SECRET


def test_resolved_secret_is_still_checked_for_placeholders(aws: None, clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN an SSM parameter that holds a sample value
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/conversion-agents/prod/service-role", Value="your-service-role-key", Type="SecureString"
    )
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", REAL_DATABASE_URL)
    clean_env.setenv("SUPABASE_JWT_SECRET", REAL_JWT_SECRET)
    clean_env.setenv("SUPABASE_SERVICE_ROLE_KEY", "ssm:/conversion-agents/prod/service-role")

    # WHEN / THEN the resolved value is refused
    with pytest.raises(ConfigurationError, match="SUPABASE_SERVICE_ROLE_KEY holds a placeholder"):
        get_settings()


def test_non_secret_fields_are_not_resolved(aws: None, valid_env: pytest.MonkeyPatch) -> None:
    # GIVEN a reference-looking value in a field that is not a secret
    valid_env.setenv("JWT_AUDIENCE", "ssm:/not/a/secret")

    # WHEN settings load
    settings = get_settings()

    # THEN the value is kept verbatim (no AWS call is made)
    assert settings.jwt_audience == "ssm:/not/a/secret"


def test_missing_ssm_parameter_is_a_configuration_error(aws: None, clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN a reference to a parameter that does not exist, next to a real secret
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", "ssm:/conversion-agents/prod/missing")
    clean_env.setenv("SUPABASE_JWT_SECRET", REAL_JWT_SECRET)

    # WHEN / THEN the cold start fails with a configuration error that names the reference
    with pytest.raises(ConfigurationError, match="/conversion-agents/prod/missing") as caught:
        get_settings()
    assert REAL_JWT_SECRET not in str(caught.value)


def test_missing_secretsmanager_secret_is_a_configuration_error(aws: None, clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN a reference to a secret that does not exist
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("DATABASE_URL", REAL_DATABASE_URL)
    clean_env.setenv("SUPABASE_JWT_SECRET", "secretsmanager:conversion-agents/prod/nope")

    # WHEN / THEN the cold start fails with a configuration error, without the database password
    with pytest.raises(ConfigurationError, match="conversion-agents/prod/nope") as caught:
        get_settings()
    assert "Zq8w3Kp1" not in str(caught.value)


def test_rebuilt_settings_resolve_the_reference_again(aws: None, clean_env: pytest.MonkeyPatch) -> None:
    # GIVEN a resolved SSM reference
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/ca/db", Value=REAL_DATABASE_URL, Type="SecureString")
    clean_env.setenv("DATABASE_URL", "ssm:/ca/db")
    clean_env.setenv("SUPABASE_JWT_SECRET", REAL_JWT_SECRET)
    get_settings()

    # WHEN the parameter changes and settings are rebuilt within max_age
    ssm.put_parameter(Name="/ca/db", Value="postgresql://other@db/app", Type="SecureString", Overwrite=True)
    get_settings.cache_clear()

    # THEN the new value is fetched: the loaded settings are the only cache (warm invocations reuse them)
    assert get_settings().database_url.get_secret_value() == "postgresql://other@db/app"
