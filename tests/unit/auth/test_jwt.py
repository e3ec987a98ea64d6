"""TokenVerifier: HS256 with the project secret, ES256/RS256 through a JWKS served over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.requests import Request

from shared.auth.jwt import Principal, TokenVerifier
from shared.errors import Unauthorized
from shared.http import deps
from shared.settings import get_settings
from tests.support.tokens import ISSUER, claims_for, hs256_token

SECRET = "unit-test-hs256-secret-0123456789abcdefghijklmnop"
AUDIENCE = "authenticated"
EC_KID = "ec-key-1"
RSA_KID = "rsa-key-1"


# ----------------------------------------------------------------------------- helpers


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _unsigned_token(claims: dict[str, Any]) -> str:
    """``alg: none``: header and payload, empty signature."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def _hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand, so any bytes (an RSA public key PEM included) can be the secret."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _hs_verifier(leeway: int = 30) -> TokenVerifier:
    return TokenVerifier(audience=AUDIENCE, issuer=ISSUER, hs_secret=SECRET, leeway_seconds=leeway)


@dataclass(frozen=True)
class Keys:
    ec_private: ec.EllipticCurvePrivateKey
    rsa_private: rsa.RSAPrivateKey
    other_ec_private: ec.EllipticCurvePrivateKey

    @property
    def rsa_public_pem(self) -> bytes:
        return self.rsa_private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self) -> dict[str, Any]:
        ec_jwk = ECAlgorithm.to_jwk(self.ec_private.public_key(), as_dict=True)
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa_private.public_key(), as_dict=True)
        return {
            "keys": [
                {**ec_jwk, "kid": EC_KID, "alg": "ES256", "use": "sig"},
                {**rsa_jwk, "kid": RSA_KID, "alg": "RS256", "use": "sig"},
            ]
        }


@dataclass
class JwksServer:
    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        ec_private=ec.generate_private_key(ec.SECP256R1()),
        rsa_private=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        other_ec_private=ec.generate_private_key(ec.SECP256R1()),
    )


@pytest.fixture
def jwks_server(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    """A real HTTP server on 127.0.0.1 publishing the JWKS and counting fetches."""
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    body = json.dumps(keys.jwks()).encode()
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            if self.path != "/auth/v1/.well-known/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="jwks-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield JwksServer(url=f"http://{host!s}:{port}/auth/v1/.well-known/jwks.json", requests=served)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _jwks_verifier(server: JwksServer, hs_secret: str | None = None) -> TokenVerifier:
    return TokenVerifier(audience=AUDIENCE, issuer=ISSUER, hs_secret=hs_secret, jwks_url=server.url)


def _es256(key: ec.EllipticCurvePrivateKey, user_id: uuid.UUID, kid: str = EC_KID, **overrides: Any) -> str:
    return jwt.encode(claims_for(user_id, **overrides), key, algorithm="ES256", headers={"kid": kid})


def _rs256(key: rsa.RSAPrivateKey, user_id: uuid.UUID, kid: str = RSA_KID, **overrides: Any) -> str:
    return jwt.encode(claims_for(user_id, **overrides), key, algorithm="RS256", headers={"kid": kid})


# ----------------------------------------------------------------------------- HS256


def test_hs256_token_signed_with_the_project_secret_yields_the_principal() -> None:
    # given a token for a user signed with the project secret
    user_id = uuid.uuid4()
    token = hs256_token(SECRET, user_id, "ana@example.com")

    # when it is verified
    principal = _hs_verifier().verify(token)

    # then the principal carries the user's id, email and claims
    assert principal == Principal(
        user_id=user_id, role="authenticated", email="ana@example.com", claims=principal.claims
    )
    assert principal.claims["sub"] == str(user_id)
    assert principal.claims["session_id"]


def test_hs256_token_signed_with_another_secret_is_rejected() -> None:
    # given a token signed with a secret that is not the project's
    token = hs256_token("another-secret-of-enough-length-0123456789", uuid.uuid4())

    # when / then verification refuses it
    with pytest.raises(Unauthorized, match="bad signature"):
        _hs_verifier().verify(token)


def test_hs256_verifier_never_needs_a_key_fetch() -> None:
    # given a verifier with only a project secret
    token = hs256_token(SECRET, uuid.uuid4())

    # when asked whether verification would download keys
    needs = _hs_verifier().needs_key_fetch(token)

    # then it would not
    assert needs is False


# ----------------------------------------------------------------------------- JWKS (ES256 / RS256)


def test_es256_token_verifies_against_the_jwks(keys: Keys, jwks_server: JwksServer) -> None:
    # given an ES256 token signed by the key published as EC_KID
    user_id = uuid.uuid4()
    token = _es256(keys.ec_private, user_id, email="bo@example.com")

    # when it is verified through the JWKS
    principal = _jwks_verifier(jwks_server).verify(token)

    # then the caller is the token's user
    assert (principal.user_id, principal.email) == (user_id, "bo@example.com")


def test_rs256_token_verifies_against_the_jwks(keys: Keys, jwks_server: JwksServer) -> None:
    # given an RS256 token signed by the key published as RSA_KID
    user_id = uuid.uuid4()
    token = _rs256(keys.rsa_private, user_id)

    # when it is verified through the JWKS
    principal = _jwks_verifier(jwks_server).verify(token)

    # then the caller is the token's user
    assert principal.user_id == user_id


def test_jwks_is_fetched_once_for_two_verifications(keys: Keys, jwks_server: JwksServer) -> None:
    # given one verifier and two tokens signed by published keys
    verifier = _jwks_verifier(jwks_server)
    first = _es256(keys.ec_private, uuid.uuid4())
    second = _rs256(keys.rsa_private, uuid.uuid4())

    # when both are verified
    verifier.verify(first)
    verifier.verify(second)

    # then the JWKS was downloaded exactly once
    assert len(jwks_server.requests) == 1


def test_needs_key_fetch_is_true_before_the_first_fetch(keys: Keys, jwks_server: JwksServer) -> None:
    # given a fresh JWKS verifier and an ES256 token
    verifier = _jwks_verifier(jwks_server)
    token = _es256(keys.ec_private, uuid.uuid4())

    # when asked before any verification
    needs = verifier.needs_key_fetch(token)

    # then a download would be needed, and none happened yet
    assert needs is True
    assert jwks_server.requests == []


def test_needs_key_fetch_is_false_once_keys_are_cached(keys: Keys, jwks_server: JwksServer) -> None:
    # given a JWKS verifier that has verified one token
    verifier = _jwks_verifier(jwks_server)
    token = _es256(keys.ec_private, uuid.uuid4())
    verifier.verify(token)

    # when asked again
    needs = verifier.needs_key_fetch(token)

    # then the keys are cached
    assert needs is False


def test_a_jwks_key_pyjwt_cannot_load_is_a_401_not_a_500(
    keys: Keys, jwks_server: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a verifier whose JWKS key cannot be loaded (as without the cryptography package)
    verifier = _jwks_verifier(jwks_server)

    def unusable(token: str) -> Any:
        raise jwt.PyJWKError("Unable to find an algorithm for key")

    monkeypatch.setattr(verifier._jwks, "get_signing_key_from_jwt", unusable)

    # when / then an ES256 token is refused as unauthorized
    with pytest.raises(Unauthorized, match="signing key not usable"):
        verifier.verify(_es256(keys.ec_private, uuid.uuid4()))


def test_es256_token_from_a_key_outside_the_jwks_is_rejected(keys: Keys, jwks_server: JwksServer) -> None:
    # given an ES256 token signed by a key the JWKS does not publish (unknown kid)
    token = _es256(keys.other_ec_private, uuid.uuid4(), kid="not-published")

    # when / then it is refused
    with pytest.raises(Unauthorized, match="unknown signing key"):
        _jwks_verifier(jwks_server).verify(token)


def test_es256_token_signed_by_another_key_under_a_known_kid_is_rejected(keys: Keys, jwks_server: JwksServer) -> None:
    # given an ES256 token claiming EC_KID but signed by a different EC key
    token = _es256(keys.other_ec_private, uuid.uuid4(), kid=EC_KID)

    # when / then the signature does not verify
    with pytest.raises(Unauthorized, match="bad signature"):
        _jwks_verifier(jwks_server).verify(token)


def test_es256_token_whose_kid_points_at_an_rs256_key_is_rejected(keys: Keys, jwks_server: JwksServer) -> None:
    # given an ES256 token whose kid names the published RS256 key
    token = _es256(keys.ec_private, uuid.uuid4(), kid=RSA_KID)

    # when / then the algorithm/key mismatch is refused
    with pytest.raises(Unauthorized, match="algorithm does not match its key"):
        _jwks_verifier(jwks_server).verify(token)


# ----------------------------------------------------------------------------- algorithm attacks


def test_alg_none_token_is_rejected() -> None:
    # given an unsigned token with valid claims
    token = _unsigned_token(claims_for(uuid.uuid4()))

    # when / then it is refused
    with pytest.raises(Unauthorized, match="algorithm not accepted"):
        _hs_verifier().verify(token)


def test_hs256_token_keyed_with_the_rsa_public_key_is_rejected_by_a_jwks_only_verifier(
    keys: Keys, jwks_server: JwksServer
) -> None:
    # given an HS256 token whose HMAC secret is the published RSA public key PEM
    token = _hmac_token({"alg": "HS256", "typ": "JWT", "kid": RSA_KID}, claims_for(uuid.uuid4()), keys.rsa_public_pem)

    # when / then a verifier without a project secret refuses HS256 outright
    with pytest.raises(Unauthorized, match="algorithm not accepted"):
        _jwks_verifier(jwks_server).verify(token)


def test_hs256_token_keyed_with_the_rsa_public_key_is_rejected_when_a_secret_is_also_set(
    keys: Keys, jwks_server: JwksServer
) -> None:
    # given an HS256 token whose HMAC secret is the published RSA public key PEM
    token = _hmac_token({"alg": "HS256", "typ": "JWT", "kid": RSA_KID}, claims_for(uuid.uuid4()), keys.rsa_public_pem)

    # when / then a verifier with both a secret and a JWKS checks it against the secret only
    with pytest.raises(Unauthorized, match="bad signature"):
        _jwks_verifier(jwks_server, hs_secret=SECRET).verify(token)


def test_hs256_confusion_attempt_never_fetches_the_jwks(keys: Keys, jwks_server: JwksServer) -> None:
    # given an HS256 token keyed with the RSA public key PEM
    token = _hmac_token({"alg": "HS256", "typ": "JWT", "kid": RSA_KID}, claims_for(uuid.uuid4()), keys.rsa_public_pem)

    # when a verifier with both a secret and a JWKS rejects it
    with pytest.raises(Unauthorized):
        _jwks_verifier(jwks_server, hs_secret=SECRET).verify(token)

    # then the JWKS keys were never consulted
    assert jwks_server.requests == []


@pytest.mark.parametrize("alg", [["ES256"], {"alg": "HS256"}], ids=["list", "object"])
def test_token_with_a_non_string_alg_header_is_rejected(alg: object) -> None:
    # given a token whose header alg is not a string
    token = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(claims_for(uuid.uuid4()))}.c2ln"
    verifier = TokenVerifier(audience=AUDIENCE, issuer=ISSUER, hs_secret=SECRET, jwks_url="http://127.0.0.1:9/jwks")

    # when / then it is refused as unauthorized
    with pytest.raises(Unauthorized):
        verifier.verify(token)


# ----------------------------------------------------------------------------- claims


def test_expired_token_is_rejected() -> None:
    # given a token that expired two minutes ago (beyond the 30 s leeway)
    token = hs256_token(SECRET, uuid.uuid4(), exp=int(time.time()) - 120)

    # when / then it is refused as expired
    with pytest.raises(Unauthorized, match="token expired"):
        _hs_verifier().verify(token)


def test_token_for_another_audience_is_rejected() -> None:
    # given a token issued for another audience
    token = hs256_token(SECRET, uuid.uuid4(), aud="some-other-api")

    # when / then it is refused
    with pytest.raises(Unauthorized, match="wrong audience"):
        _hs_verifier().verify(token)


def test_token_from_another_issuer_is_rejected() -> None:
    # given a token issued by another Supabase project
    token = hs256_token(SECRET, uuid.uuid4(), iss="https://evil.supabase.co/auth/v1")

    # when / then it is refused
    with pytest.raises(Unauthorized, match="wrong issuer"):
        _hs_verifier().verify(token)


@pytest.mark.parametrize("claim", ["exp", "sub", "aud", "iss"])
def test_token_missing_a_required_claim_is_rejected(claim: str) -> None:
    # given a token without one required claim (claims_for drops None values)
    token = hs256_token(SECRET, uuid.uuid4(), **{claim: None})

    # when / then it is refused naming the claim
    with pytest.raises(Unauthorized, match=f"missing claim {claim}"):
        _hs_verifier().verify(token)


@pytest.mark.parametrize("role", ["anon", "service_role"])
def test_token_that_is_not_a_user_session_is_rejected(role: str) -> None:
    # given a validly signed token for a non-user role
    token = hs256_token(SECRET, uuid.uuid4(), role=role)

    # when / then it is refused
    with pytest.raises(Unauthorized, match="not a user session"):
        _hs_verifier().verify(token)


def test_token_without_a_role_is_rejected() -> None:
    # given a validly signed token with no role claim
    token = hs256_token(SECRET, uuid.uuid4(), role=None)

    # when / then it is refused
    with pytest.raises(Unauthorized, match="not a user session"):
        _hs_verifier().verify(token)


def test_token_with_a_non_uuid_subject_is_rejected() -> None:
    # given a validly signed user token whose sub is not a UUID
    claims = claims_for(uuid.uuid4(), sub="user-42")
    token = jwt.encode(claims, SECRET, algorithm="HS256")

    # when / then it is refused
    with pytest.raises(Unauthorized, match="bad subject"):
        _hs_verifier().verify(token)


@pytest.mark.parametrize("token", ["abc", "a.b.c", ""], ids=["one-segment", "garbage-segments", "empty"])
def test_malformed_token_is_rejected(token: str) -> None:
    # given a string that is not a JWT
    verifier = _hs_verifier()

    # when / then it is refused as malformed
    with pytest.raises(Unauthorized, match="malformed"):
        verifier.verify(token)


def test_token_expired_within_the_leeway_is_accepted() -> None:
    # given a token that expired 10 s ago and a 30 s leeway
    user_id = uuid.uuid4()
    token = hs256_token(SECRET, user_id, exp=int(time.time()) - 10)

    # when it is verified
    principal = _hs_verifier(leeway=30).verify(token)

    # then it still passes
    assert principal.user_id == user_id


def test_token_expired_10s_ago_is_rejected_without_leeway() -> None:
    # given a token that expired 10 s ago and no leeway
    token = hs256_token(SECRET, uuid.uuid4(), exp=int(time.time()) - 10)

    # when / then it is refused as expired
    with pytest.raises(Unauthorized, match="token expired"):
        _hs_verifier(leeway=0).verify(token)


# ----------------------------------------------------------------------------- current_principal


@pytest.fixture(autouse=True)
def _local_verification(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings of a function that verifies tokens itself (JWT_VERIFICATION unset: local)."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:5432/postgres")
    monkeypatch.delenv("JWT_VERIFICATION", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _request() -> Request:
    """A request that did not come through API Gateway's JWT authorizer."""
    return Request({"type": "http", "method": "GET", "path": "/", "headers": []})


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic dXNlcjpwYXNz", "Basic x", "Bearer ", "Bearer    ", "Bearer"],
    ids=["missing", "empty", "basic", "basic-short", "bearer-empty", "bearer-blank", "bearer-no-token"],
)
def test_current_principal_rejects_a_missing_or_non_bearer_header(
    authorization: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the container verifier replaced by a local one
    monkeypatch.setattr(deps, "get_verifier", _hs_verifier)

    # when / then the dependency refuses the header
    with pytest.raises(Unauthorized):
        asyncio.run(deps.current_principal(_request(), authorization))


def test_current_principal_returns_the_verified_user(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a valid HS256 bearer token and the container verifier replaced by a local one
    monkeypatch.setattr(deps, "get_verifier", _hs_verifier)
    user_id = uuid.uuid4()
    token = hs256_token(SECRET, user_id)

    # when the dependency runs
    principal = asyncio.run(deps.current_principal(_request(), f"Bearer {token}"))

    # then it yields the token's user
    assert principal.user_id == user_id


def test_current_principal_accepts_a_lowercase_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a valid token sent as "bearer <token>"
    monkeypatch.setattr(deps, "get_verifier", _hs_verifier)
    user_id = uuid.uuid4()
    token = hs256_token(SECRET, user_id)

    # when the dependency runs
    principal = asyncio.run(deps.current_principal(_request(), f"bearer {token}"))

    # then the scheme is matched case-insensitively
    assert principal.user_id == user_id


def test_current_principal_rejects_an_invalid_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a bearer token signed with the wrong secret
    monkeypatch.setattr(deps, "get_verifier", _hs_verifier)
    token = hs256_token("not-the-project-secret-0123456789abcdef", uuid.uuid4())

    # when / then the dependency refuses it
    with pytest.raises(Unauthorized):
        asyncio.run(deps.current_principal(_request(), f"Bearer {token}"))


def test_current_principal_fetches_the_jwks_off_the_loop_on_first_use(
    keys: Keys, jwks_server: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a fresh JWKS verifier and an ES256 bearer token
    verifier = _jwks_verifier(jwks_server)
    monkeypatch.setattr(deps, "get_verifier", lambda: verifier)
    user_id = uuid.uuid4()
    token = _es256(keys.ec_private, user_id)

    # when the dependency runs (the key download happens in a worker thread)
    principal = asyncio.run(deps.current_principal(_request(), f"Bearer {token}"))

    # then the user is verified and the JWKS was fetched once
    assert principal.user_id == user_id
    assert len(jwks_server.requests) == 1


# ----------------------------------------------------------------------------- the verified-token cache


def test_a_token_verified_once_is_answered_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a verifier that has verified a token once
    verifier = _hs_verifier()
    token = hs256_token(SECRET, uuid.uuid4())
    first = verifier.verify(token)
    decodes: list[str] = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append("decode"))
    # when the same token comes again / then the same principal, with no second signature check
    assert verifier.verify(token) is first
    assert decodes == []


def test_a_cached_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a token verified while valid, expiring in 60 s
    verifier = _hs_verifier(leeway=0)
    now = time.time()
    token = hs256_token(SECRET, uuid.uuid4(), exp=int(now) + 60)
    verifier.verify(token)
    # when the clock (ours and PyJWT's) passes its exp / then it is checked again and refused
    later = datetime.fromtimestamp(now + 120, tz=UTC)
    monkeypatch.setattr(time, "time", lambda: now + 120)
    monkeypatch.setattr(jwt.api_jwt, "datetime", type("Clock", (), {"now": staticmethod(lambda tz=None: later)}))
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)


def test_a_forged_token_is_never_cached() -> None:
    # given a token signed with another secret, presented twice / then refused both times
    verifier = _hs_verifier()
    forged = hs256_token("another-secret-0123456789abcdefghijklmnopqrstu", uuid.uuid4())
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verifier.verify(forged)
