"""Secret references against moto's SSM: one batch per cold start, reloaded after max age, refetched on demand.

In Lambda the role's credentials are in the environment and SSM is called directly over HTTP
(``shared.parameter_store``, reaching a moto server here); without them, through boto3 (a profile's
keys, the same moto server). No in-process ``mock_aws`` here: leaving it resets every moto backend,
the session's moto server's queues included, which later tiers still use.
"""

from __future__ import annotations

import datetime as real_datetime
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import base as parameters_base

import shared.settings
from shared import parameter_store as ssm_client
from shared.errors import ConfigurationError
from shared.settings import SECRET_MAX_AGE_SECONDS, get_settings, refresh_secrets

REGION = "us-east-1"
PREFIX = "/conversion-agents/prod"
VALUES = {
    "DATABASE_URL": ("database-url", "postgresql://app:Zq8w3Kp1@db.internal:6543/postgres"),
    "SUPABASE_JWT_SECRET": ("supabase-jwt-secret", "k3Jd8vQ2mZr7Lx1Np4Wt9Ys6Hb0Fc5Ge"),
    "UPSTASH_REDIS_REST_TOKEN": ("upstash-redis-rest-token", "AX1kUpstashT0kenValue"),
    "WHATSAPP_APP_SECRET": ("whatsapp-app-secret", "a9f3c2WhatsappAppSecret"),
}


class Clock:
    """Moves the clocks settings and Powertools' cache read, without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        clock = self

        class ShiftedDatetime(real_datetime.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> ShiftedDatetime:  # type: ignore[override]
                return real_datetime.datetime.now(tz) + real_datetime.timedelta(seconds=clock.offset)  # type: ignore[return-value]

        real_monotonic = time.monotonic
        monkeypatch.setattr(parameters_base, "datetime", ShiftedDatetime)
        monkeypatch.setattr(shared.settings.time, "monotonic", lambda: real_monotonic() + clock.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def _referenced(monkeypatch: pytest.MonkeyPatch, client: Any) -> None:
    """The secrets in SSM and references to them in the environment, as serverless.yml sets it."""
    for name in ("AWS_PROFILE", "POWERTOOLS_TRACE_DISABLED", "SUPABASE_SERVICE_ROLE_KEY", "HUBSPOT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "prod")
    for variable, (name, value) in VALUES.items():
        client.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="SecureString", Overwrite=True)
        monkeypatch.setenv(variable, f"ssm:{PREFIX}/{name}")
    get_settings.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch, aws: Any) -> Iterator[Any]:
    """Lambda's case: the role's credentials in the environment, SSM (a moto server) reached over HTTP."""
    for variable, value in aws.environment().items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    client = boto3.client("ssm", region_name=REGION, endpoint_url=aws.endpoint)
    _referenced(monkeypatch, client)
    yield client
    get_settings.cache_clear()


@pytest.fixture
def ssm_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SSM calls made (a spy: every call still goes to moto), boto3's and the direct ones."""
    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "ssm" and operation.startswith("Get"):
            calls.append(operation)
        return real(self, operation, params)

    real_call = ssm_client._call

    def direct(url: str, where: str, credentials: Any, payload: dict[str, object]) -> Any:
        calls.append("GetParameters")
        return real_call(url, where, credentials, payload)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    monkeypatch.setattr(ssm_client, "_call", direct)
    return calls


def test_every_reference_is_resolved_in_one_get_parameters_call(ssm: Any, ssm_calls: list[str]) -> None:
    # given four SecureString references in the environment
    # when settings load at cold start
    settings = get_settings()
    # then one GetParameters call fetched them all, decrypted
    assert ssm_calls == ["GetParameters"]
    assert settings.database_url.get_secret_value() == VALUES["DATABASE_URL"][1]
    assert settings.upstash_redis_rest_token is not None
    assert settings.upstash_redis_rest_token.get_secret_value() == VALUES["UPSTASH_REDIS_REST_TOKEN"][1]
    assert settings.whatsapp_app_secret is not None
    assert settings.whatsapp_app_secret.get_secret_value() == VALUES["WHATSAPP_APP_SECRET"][1]


def test_warm_invocations_within_max_age_make_no_call(
    ssm: Any, ssm_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given settings loaded at cold start
    clock = Clock(monkeypatch)
    get_settings()
    # when invocations read them until just before max age
    clock.advance(SECRET_MAX_AGE_SECONDS - 1)
    for _ in range(3):
        get_settings()
    # then nothing more was fetched
    assert ssm_calls == ["GetParameters"]


def test_a_rotated_value_is_used_after_max_age(ssm: Any, ssm_calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # given settings loaded, then the database password rotated in SSM
    clock = Clock(monkeypatch)
    first = get_settings()
    rotated = "postgresql://app:N3wPassw0rd@db.internal:6543/postgres"
    ssm.put_parameter(Name=f"{PREFIX}/database-url", Value=rotated, Type="SecureString", Overwrite=True)
    # when the max age passes
    clock.advance(SECRET_MAX_AGE_SECONDS + 1)
    second = get_settings()
    # then settings were reloaded with one more batch call, and carry the new value
    assert first.database_url.get_secret_value() == VALUES["DATABASE_URL"][1]
    assert second.database_url.get_secret_value() == rotated
    assert ssm_calls == ["GetParameters", "GetParameters"]


def test_refresh_refetches_at_once_bypassing_the_cache(ssm: Any, ssm_calls: list[str]) -> None:
    # given settings loaded, then a secret rotated (well within max age)
    get_settings()
    rotated = "postgresql://app:N3wPassw0rd@db.internal:6543/postgres"
    ssm.put_parameter(Name=f"{PREFIX}/database-url", Value=rotated, Type="SecureString", Overwrite=True)
    # when a credential is refused and the function refreshes its secrets
    refreshed = refresh_secrets()
    # then the new value is fetched at once, in one batch, and get_settings() returns it from then on
    assert refreshed.database_url.get_secret_value() == rotated
    assert get_settings().database_url.get_secret_value() == rotated
    assert ssm_calls == ["GetParameters", "GetParameters"]


def test_plain_values_are_never_reloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    # given an environment with no references (a laptop, a test)
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    for variable in ("SUPABASE_JWT_SECRET", "UPSTASH_REDIS_REST_TOKEN", "WHATSAPP_APP_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    get_settings.cache_clear()
    clock = Clock(monkeypatch)
    first = get_settings()
    # when far more than max age passes
    clock.advance(10 * SECRET_MAX_AGE_SECONDS)
    # then the same settings object is served
    assert get_settings() is first
    get_settings.cache_clear()


def test_without_credentials_in_the_environment_boto3_resolves_them_in_one_call(
    ssm: Any, ssm_calls: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given no keys in the environment but a profile's (a laptop): boto3's credential chain reads the profile
    profile = tmp_path / "credentials"
    profile.write_text("[default]\naws_access_key_id = laptop\naws_secret_access_key = laptop-secret\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # providers too: a new boto3 client, as at a cold start
    get_settings.cache_clear()
    # when settings load
    settings = get_settings()
    # then one GetParameters call through boto3 resolved them
    assert ssm_calls == ["GetParameters"]
    assert settings.database_url.get_secret_value() == VALUES["DATABASE_URL"][1]
    get_settings.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def test_a_missing_parameter_fails_the_cold_start_naming_it(ssm: Any) -> None:
    # given a reference to a parameter SSM does not hold
    ssm.delete_parameter(Name=f"{PREFIX}/database-url")
    # when / then settings refuse to load, naming the reference (never a value)
    with pytest.raises(ConfigurationError, match="database-url"):
        get_settings()
