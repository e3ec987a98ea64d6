"""JWT_VERIFICATION=authorizer: asymmetric tokens verified by API Gateway's JWT authorizer, their claims trusted.

Requests are canonical HTTP API (payload v2) events (tests/events/apigw_http_v2_jwt_authorizer.json)
handed to a real app (``create_app`` + Mangum); the authorizer's claims are the strings API Gateway
puts there, built from the token the test signs with ES256 as a new Supabase project does.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from mangum import Mangum

from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.settings import get_settings, missing_secret
from tests.support.aio import use_container_loop
from tests.support.lambda_events import FakeLambdaContext, load_event
from tests.support.tokens import claims_for, hs256_token

SECRET = "unit-test-hs256-secret-0123456789abcdefghijklmnop"
ISSUER = "https://project-ref.supabase.co/auth/v1"


def _app() -> FastAPI:
    app = create_app("whoami")

    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> dict[str, Any]:
        return {"user_id": str(user.user_id), "claims": dict(user.claims)}

    return app


@pytest.fixture
def verification(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set JWT_VERIFICATION (and the project's issuer), then build the app as a cold start would."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:5432/postgres")
    monkeypatch.setenv("SUPABASE_URL", ISSUER.removesuffix("/auth/v1"))
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)

    def configure(mode: str, jwt_secret: str | None = None) -> Mangum:
        monkeypatch.setenv("JWT_VERIFICATION", mode)
        if jwt_secret:
            monkeypatch.setenv("SUPABASE_JWT_SECRET", jwt_secret)
        else:
            monkeypatch.delenv("SUPABASE_JWT_SECRET", raising=False)
        get_settings.cache_clear()
        use_container_loop()  # Mangum runs on the current loop; asyncio.run elsewhere unsets it
        return Mangum(_app(), lifespan="off")

    yield configure
    get_settings.cache_clear()


def _es256(claims: dict[str, Any]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "supabase-signing-key"})


def _as_api_gateway_renders(value: Any) -> str:
    """A claim as the HTTP API authorizer hands it to Lambda: always a string."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_as_api_gateway_renders(v)}" for k, v in value.items()) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_as_api_gateway_renders(v) for v in value) + "]"
    return str(value)


def _event(token: str | None, authorizer_claims: dict[str, Any] | None) -> dict[str, Any]:
    event = load_event("apigw_http_v2_jwt_authorizer.json")
    if token is None:
        event["headers"].pop("authorization")
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    if authorizer_claims is None:
        event["requestContext"].pop("authorizer")
    else:
        rendered = {k: _as_api_gateway_renders(v) for k, v in authorizer_claims.items()}
        event["requestContext"]["authorizer"]["jwt"]["claims"] = rendered
    return event


def _call(handler: Mangum, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler(event, FakeLambdaContext("whoami"))
    body = base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"]
    return response["statusCode"], json.loads(body)


def test_the_canonical_event_carries_claims_as_strings() -> None:
    # given the canonical HTTP API event of a request the JWT authorizer let through
    claims = load_event("apigw_http_v2_jwt_authorizer.json")["requestContext"]["authorizer"]["jwt"]["claims"]
    # then every claim is a string, numbers and objects included: they cannot go to Postgres as they are
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["exp"].isdigit()


def test_an_asymmetric_token_the_authorizer_verified_is_trusted_with_its_typed_claims(verification: Any) -> None:
    # given a function in authorizer mode (no JWT secret, no cryptography needed) and an ES256 token
    handler = verification("authorizer")
    user_id = uuid.uuid4()
    claims = claims_for(user_id, "ana@example.com", iss=ISSUER)
    token = _es256(claims)
    # when API Gateway's authorizer passed it and the function gets the request
    status, body = _call(handler, _event(token, claims))
    # then the caller is the token's user, with the claims typed as the token carries them
    assert status == 200, body
    assert body["user_id"] == str(user_id)
    assert body["claims"] == claims
    assert isinstance(body["claims"]["exp"], int)
    assert body["claims"]["app_metadata"] == {"provider": "email", "providers": ["email"]}


def test_a_request_without_the_authorizer_context_is_refused(verification: Any) -> None:
    # given a function in authorizer mode and a well-formed token
    handler = verification("authorizer")
    claims = claims_for(uuid.uuid4(), iss=ISSUER)
    # when the request reaches it with no authorizer context (a route without the authorizer, a direct invoke)
    status, body = _call(handler, _event(_es256(claims), None))
    # then it is refused as unauthenticated, as problem+json
    assert status == 401
    assert "authorizer" in body["detail"]


def test_a_token_other_than_the_one_the_authorizer_verified_is_refused(verification: Any) -> None:
    # given the authorizer verified Ana's token, but the header carries another user's token
    handler = verification("authorizer")
    verified = claims_for(uuid.uuid4(), iss=ISSUER)
    other = claims_for(uuid.uuid4(), iss=ISSUER)
    # when the function gets the request
    status, _ = _call(handler, _event(_es256(other), verified))
    # then it is refused
    assert status == 401


def test_an_expired_token_is_refused_even_with_claims(verification: Any) -> None:
    # given claims that expired an hour ago (the authorizer refuses them; a replayed event must not pass)
    handler = verification("authorizer")
    claims = claims_for(uuid.uuid4(), iss=ISSUER, exp=int(time.time()) - 3600)
    # when / then
    status, body = _call(handler, _event(_es256(claims), claims))
    assert status == 401
    assert body["detail"] == "token expired"


def test_a_missing_bearer_token_is_refused_in_authorizer_mode(verification: Any) -> None:
    # given the authorizer context but no Authorization header
    handler = verification("authorizer")
    claims = claims_for(uuid.uuid4(), iss=ISSUER)
    # when / then
    assert _call(handler, _event(None, claims))[0] == 401


def test_hs256_projects_keep_verifying_locally_whatever_the_event_says(verification: Any) -> None:
    # given a function in local mode with the project's HS256 secret
    handler = verification("local", SECRET)
    user_id = uuid.uuid4()
    claims = claims_for(user_id, iss=ISSUER)
    forged = hs256_token("not-the-project-secret-0123456789abcdef", user_id, iss=ISSUER)
    # when a forged token arrives with authorizer claims that match it / then the claims are not trusted
    assert _call(handler, _event(forged, claims))[0] == 401
    # and a token signed with the project secret is verified here
    status, body = _call(handler, _event(hs256_token(SECRET, user_id, iss=ISSUER), None))
    assert status == 200
    assert body["user_id"] == str(user_id)


def test_postgres_gets_the_same_claims_either_way(verification: Any) -> None:
    # given one session's claims, issued once as HS256 (verified here) and once as ES256 (by the authorizer)
    claims = claims_for(uuid.uuid4(), "ana@example.com", iss=ISSUER)
    local = verification("local", SECRET)
    _, verified_here = _call(local, _event(jwt.encode(claims, SECRET, algorithm="HS256"), None))
    trusted = verification("authorizer")
    _, from_authorizer = _call(trusted, _event(_es256(claims), claims))
    # then the claims handed to Postgres (request.jwt.claims, as shared.db serialises them) are identical
    assert json.dumps(verified_here["claims"], separators=(",", ":")) == json.dumps(
        from_authorizer["claims"], separators=(",", ":")
    )


def test_authorizer_mode_needs_no_jwt_secret_at_cold_start(verification: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a deployed function (prod) given no SUPABASE_JWT_SECRET
    verification("authorizer")
    monkeypatch.setenv("APP_ENV", "prod")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:Zq8w3Kp1@db.internal:6543/postgres")
    get_settings.cache_clear()
    # when init checks the secrets token verification uses (shared.auth.jwt's SECRETS_USED)
    # then in authorizer mode none is missing
    assert missing_secret(get_settings(), "supabase_jwt_secret") is False
    # while in local mode the secret is missing, which fails the cold start (require_used_secrets)
    monkeypatch.setenv("JWT_VERIFICATION", "local")
    get_settings.cache_clear()
    assert missing_secret(get_settings(), "supabase_jwt_secret") is True
