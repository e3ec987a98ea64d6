"""Verify Supabase Auth access tokens: HS256 with the project secret, or ES256/RS256 via JWKS.

The algorithm family is chosen from the configured keys, never trusted from the
token alone: an HS256 token is only ever checked against the project secret and an
asymmetric one only against a JWKS key of the same algorithm, which rules out
``alg: none`` and HS/RS key confusion.
"""

from __future__ import annotations

import time
import uuid
from functools import lru_cache
from typing import Any

import jwt

from shared.auth.principal import Principal
from shared.errors import Unauthorized
from shared.settings import Settings, get_settings

# Secrets this module reads (shared/settings.py: require_used_secrets, and the serverless.yml test).
SECRETS_USED = ("supabase_jwt_secret",)

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})
JWKS_CACHE_SECONDS = 600
VERIFIED_CACHE_SIZE = 256


class TokenVerifier:
    """Checks signature, ``exp``, ``aud`` and ``iss``; built once per container."""

    def __init__(
        self,
        *,
        audience: str,
        issuer: str,
        hs_secret: str | None = None,
        jwks_url: str | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._audience = audience
        self._issuer = issuer
        self._hs_secret = hs_secret
        self._leeway = leeway_seconds
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5) if jwks_url else None
        )

    def needs_key_fetch(self, token: str) -> bool:
        """True when verifying ``token`` would first download the JWKS (blocking I/O)."""
        if self._jwks is None or _alg(token) not in ASYMMETRIC_ALGORITHMS:
            return False
        cache = self._jwks.jwk_set_cache
        return cache is None or cache.get() is None

    def verify(self, token: str) -> Principal:
        """Return the principal for a valid user token, or raise ``Unauthorized``.

        A front end sends the same token on every request until it refreshes it, so a token
        already verified in this container is answered from memory until its ``exp``; only
        successes are kept, keyed by the exact token string.
        """
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[0] + self._leeway:
            return cached[1]
        principal = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # oldest first: dicts keep insertion order
        self._verified[token] = (float(principal.claims["exp"]), principal)
        return principal

    def _verify(self, token: str) -> Principal:
        alg = _alg(token)
        key = self._key_for(token, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {_reason(exc)}") from exc
        return principal_from_claims(claims)

    def _key_for(self, token: str, alg: str) -> Any:
        if alg == "HS256" and self._hs_secret:
            return self._hs_secret
        if alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            try:
                signing_key = self._jwks.get_signing_key_from_jwt(token)
            except jwt.PyJWKClientError as exc:
                raise Unauthorized("invalid token: unknown signing key") from exc
            except jwt.PyJWKError as exc:  # a key PyJWT cannot load (e.g. no cryptography): refused, not a 500
                raise Unauthorized("invalid token: signing key not usable") from exc
            if signing_key.algorithm_name != alg:
                raise Unauthorized("invalid token: algorithm does not match its key")
            return signing_key.key
        raise Unauthorized("invalid token: algorithm not accepted")


def _alg(token: str) -> str:
    """The header's ``alg``; a non-string one (a crafted header) is refused, not a 500."""
    alg = _header(token).get("alg")
    if not isinstance(alg, str):
        raise Unauthorized("invalid token: algorithm not accepted")
    return alg


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("invalid token: malformed") from exc


def _reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {exc.claim}"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    return "malformed"


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The user session verified claims describe; ``Unauthorized`` for any other role or a bad ``sub``."""
    if claims.get("role") != "authenticated":
        raise Unauthorized("invalid token: not a user session")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise Unauthorized("invalid token: bad subject") from exc
    email = claims.get("email")
    return Principal(
        user_id=user_id, role="authenticated", email=email if isinstance(email, str) else None, claims=claims
    )


_current: tuple[Settings, TokenVerifier] | None = None  # the verifier and the settings it was built from


def get_verifier() -> TokenVerifier:
    """The container's verifier, rebuilt (with an empty verified-token cache) when settings reload.

    Settings reload after the secrets' max age, so a rotated JWT secret is used within it. The
    verifier is kept with the settings object it was built from and reused while ``get_settings``
    returns that same object: hashing the settings (``lru_cache``'s key) costs more than a cached
    token's whole verification.
    """
    global _current
    settings = get_settings()
    current = _current
    if current is not None and current[0] is settings:
        return current[1]
    verifier = _verifier_for(settings)
    _current = (settings, verifier)
    return verifier


@lru_cache(maxsize=1)
def _verifier_for(settings: Settings) -> TokenVerifier:
    secret = settings.supabase_jwt_secret
    return TokenVerifier(
        audience=settings.jwt_audience,
        issuer=settings.issuer,
        hs_secret=secret.get_secret_value() if secret else None,
        jwks_url=settings.jwks_url,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


def clear_verifier() -> None:
    """Forget the container's verifier (tests, after changing settings)."""
    global _current
    _current = None
    _verifier_for.cache_clear()
