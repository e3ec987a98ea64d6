"""Unit tier for webhooks and events: no services; settings come from a minimal environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shared.settings import get_settings


@pytest.fixture
def app_env_is(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Switch APP_ENV (with the other settings a cold start needs) for one test."""

    def _set(env: str) -> None:
        monkeypatch.setenv("APP_ENV", env)
        monkeypatch.setenv("DATABASE_URL", "postgresql://app:Zq8w3Kp1@127.0.0.1:1/app")
        monkeypatch.setenv("SUPABASE_JWT_SECRET", "k3Jd8vQ2mZr7Lx1Np4Wt9Ys6Hb0Fc5Ge")
        get_settings.cache_clear()

    yield _set
    get_settings.cache_clear()
