"""Secret references against moto's SSM: one batch per cold start, reloaded after max age, refetched on demand,
backed off when SSM throttles, and kept in hand when a warm reload cannot reach it.

In Lambda the role's credentials are in the environment and SSM is called directly over HTTP
(``shared.parameter_store``, reaching a moto server here); without them, through boto3 (a profile's
keys, the same moto server). No in-process ``mock_aws`` here: leaving it resets every moto backend,
the session's moto server's queues included, which later tiers still use.
"""

from __future__ import annotations

import datetime as real_datetime
import http.client
import http.server
import json
import threading
import time
import types
import urllib.parse
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
from shared import sigv4
from shared.errors import ConfigurationError, SecretsUnavailable
from shared.parameter_store import AT_COLD_START
from shared.settings import (
    SECRET_AGE_SPREAD,
    SECRET_MAX_AGE_SECONDS,
    SECRET_RETRY_SECONDS,
    get_settings,
    refresh_secrets,
)

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


class ThrottlingSsm:
    """SSM as a burst of cold starts meets it: the next ``n`` calls refused with AWS's throttle, the rest
    passed on to moto. The refusal is SSM's JSON-protocol error: HTTP 400, ``ThrottlingException``, "Rate exceeded"."""

    def __init__(self, upstream: str) -> None:
        self.requests = 0
        self._throttle = 0
        target = urllib.parse.urlsplit(upstream)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests += 1
                if fake._throttle > 0:
                    fake._throttle -= 1
                    status, data = 400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
                    answer = data.encode()
                else:
                    upstream_conn = http.client.HTTPConnection(target.netloc, timeout=10)
                    upstream_conn.request("POST", "/", body=body, headers=dict(self.headers))
                    response = upstream_conn.getresponse()
                    status, answer = response.status, response.read()
                    upstream_conn.close()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def throttle(self, calls: int) -> None:
        """Refuse the next ``calls`` calls (0: none)."""
        self._throttle = calls

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def throttling_ssm(ssm: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThrottlingSsm]:
    """Lambda's case (the direct, signed call) against SSM that throttles when told to."""
    fake = ThrottlingSsm(aws.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", fake.url)
    yield fake
    fake.close()


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the signed call asks for between tries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(sigv4, "time", types.SimpleNamespace(sleep=recorded.append))
    return recorded


def _caps(retries: int) -> list[float]:
    return [min(AT_COLD_START.cap_seconds, AT_COLD_START.base_seconds * 2**n) for n in range(retries)]


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
    # when invocations read them until just before the shortest age a load is kept
    clock.advance(SECRET_MAX_AGE_SECONDS * (1 - SECRET_AGE_SPREAD) - 1)
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


def test_a_throttled_cold_start_backs_off_and_loads(throttling_ssm: ThrottlingSsm, pauses: list[float]) -> None:
    # given SSM throttling the next three GetParameters calls (a burst of cold starts in the account)
    throttling_ssm.throttle(3)
    # when settings load at cold start
    settings = get_settings()
    # then the fourth try read them, after three pauses each drawn below its growing cap (full jitter)
    assert throttling_ssm.requests == 4
    assert settings.database_url.get_secret_value() == VALUES["DATABASE_URL"][1]
    assert len(pauses) == 3
    assert all(0 <= pause <= cap for pause, cap in zip(pauses, _caps(3), strict=True)), pauses


def test_a_cold_start_throttled_past_its_retries_fails_naming_the_references(
    throttling_ssm: ThrottlingSsm, pauses: list[float]
) -> None:
    # given SSM throttling every call
    throttling_ssm.throttle(1_000)
    # when settings load / then the cold start fails, naming the references and the throttle, never a value
    with pytest.raises(SecretsUnavailable, match="database-url") as raised:
        get_settings()
    assert "ThrottlingException" in str(raised.value)
    assert VALUES["DATABASE_URL"][1] not in str(raised.value)
    # after every try, with the pauses between them inside Lambda's 10 s init
    assert throttling_ssm.requests == AT_COLD_START.attempts
    assert len(pauses) == AT_COLD_START.attempts - 1
    assert sum(_caps(AT_COLD_START.attempts - 1)) < 5


def test_a_warm_reload_ssm_refuses_keeps_the_values_in_hand_and_is_tried_again_later(
    ssm: Any,
    throttling_ssm: ThrottlingSsm,
    pauses: list[float],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a warm container's settings, a password rotated since, and SSM throttling every call
    clock = Clock(monkeypatch)
    first = get_settings()
    rotated = "postgresql://app:N3wPassw0rd@db.internal:6543/postgres"
    ssm.put_parameter(Name=f"{PREFIX}/database-url", Value=rotated, Type="SecureString", Overwrite=True)
    throttling_ssm.throttle(1_000)
    # when the max age passes and an invocation reads its settings
    clock.advance(SECRET_MAX_AGE_SECONDS + 1)
    during = get_settings()
    # then it is served the values in hand instead of failing, with a warning that names no value
    assert during is first
    logged = caplog.text
    assert "secret reload failed" in logged
    assert VALUES["DATABASE_URL"][1] not in logged
    assert rotated not in logged
    # and the invocations that follow do not ask SSM again until the retry pause has passed
    asked = throttling_ssm.requests
    get_settings()
    clock.advance(SECRET_RETRY_SECONDS - 1)
    assert get_settings() is first
    assert throttling_ssm.requests == asked
    # when SSM answers again and the retry pause has passed / then the rotated value is picked up
    throttling_ssm.throttle(0)
    clock.advance(2)
    assert get_settings().database_url.get_secret_value() == rotated


def test_a_refresh_after_a_refused_credential_still_fails_when_ssm_cannot_answer(
    throttling_ssm: ThrottlingSsm, pauses: list[float]
) -> None:
    # given loaded settings whose database password was just refused, and SSM throttling every call
    get_settings()
    throttling_ssm.throttle(1_000)
    # when the function refreshes its secrets / then that fails: the values in hand are the refused ones
    with pytest.raises(SecretsUnavailable):
        refresh_secrets()
