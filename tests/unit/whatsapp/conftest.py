"""Unit tier for the WhatsApp channel: no services; Meta's documented payloads from tests/events/whatsapp."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.settings import get_settings

EVENTS = Path(__file__).resolve().parents[2] / "events" / "whatsapp"
APP_SECRET = "a3f1c9e07b2d4e6f8a0b1c2d3e4f5a6b"
VERIFY_TOKEN = "vt-5d1e8c0a9b7f4e2d"
GRAPH_URL = "https://graph.test"


def load(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/events/whatsapp/<name>``."""
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A minimal valid environment with the WhatsApp secrets and a fake Graph API URL."""
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:Zq8w3Kp1@127.0.0.1:1/app")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "k3Jd8vQ2mZr7Lx1Np4Wt9Ys6Hb0Fc5Ge")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
    monkeypatch.setenv("WHATSAPP_GRAPH_URL", GRAPH_URL)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()
