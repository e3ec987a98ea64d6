"""What is built from a secret is rebuilt when settings reload with a rotated value (README "Rotation")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared.auth.jwt import clear_verifier, get_verifier
from shared.clients import redis
from shared.errors import Unauthorized
from shared.settings import get_settings
from tests.support.aio import run
from tests.support.tokens import hs256_token

OLD_SECRET = "k3Jd8vQ2mZr7Lx1Np4Wt9Ys6Hb0Fc5Ge-old-one"
NEW_SECRET = "Qm4Zx7Wc2Lp9Rt5Vb8Nk3Hs6Jd1Fg0Ya-new-one"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:1/app")
    monkeypatch.setenv("SUPABASE_URL", "https://project.supabase.co")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", OLD_SECRET)
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", "https://redis.upstash.io")
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "AX-old-token-value")
    get_settings.cache_clear()
    clear_verifier()
    yield monkeypatch
    get_settings.cache_clear()
    clear_verifier()


def _token(secret: str) -> str:
    return hs256_token(secret, uuid.uuid4(), iss="https://project.supabase.co/auth/v1")


def test_a_rotated_jwt_secret_is_used_once_settings_reload(env: pytest.MonkeyPatch) -> None:
    # given a container verifying tokens with the old secret (and remembering one it verified)
    before = get_verifier()
    old_token = _token(OLD_SECRET)
    before.verify(old_token)
    # when the secret rotates and settings reload (after their max age)
    env.setenv("SUPABASE_JWT_SECRET", NEW_SECRET)
    get_settings.cache_clear()
    after = get_verifier()
    # then a new verifier accepts tokens signed with the new secret, and no longer the old ones (not even cached)
    assert after is not before
    assert after.verify(_token(NEW_SECRET)).role == "authenticated"
    with pytest.raises(Unauthorized):
        after.verify(old_token)


def test_the_verifier_is_kept_while_settings_do_not_change(env: pytest.MonkeyPatch) -> None:
    # given a verifier / when settings are read again without reloading / then it is the same one
    assert get_verifier() is get_verifier()


def test_a_reload_with_unchanged_values_keeps_the_verifier_and_its_verified_tokens(env: pytest.MonkeyPatch) -> None:
    # given a verifier that has verified a token
    before = get_verifier()
    before.verify(_token(OLD_SECRET))
    settings_before = get_settings()
    # when settings reload (a new object) with the same values
    get_settings.cache_clear()
    assert get_settings() is not settings_before
    after = get_verifier()
    # then the same verifier serves, and again for every later read of the reloaded settings
    assert after is before
    assert get_verifier() is after


def test_the_upstash_client_is_rebuilt_with_a_rotated_token(env: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[object, object, object]:
        # given this container's client, built with the old token
        first = await redis.get_redis()
        again = await redis.get_redis()
        # when the token rotates and settings reload
        env.setenv("UPSTASH_REDIS_REST_TOKEN", "AX-new-token-value")
        get_settings.cache_clear()
        rebuilt = await redis.get_redis()
        await redis.close_redis()
        return first, again, rebuilt

    first, again, rebuilt = run(scenario())  # on the container loop: asyncio.run would unset it
    # then the same client served until then, and a new one afterwards
    assert again is first
    assert rebuilt is not first
