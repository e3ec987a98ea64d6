"""Integrations API tier: real handlers, Postgres (with the local vault), tokens signed with the test secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import get_settings
from tests.integration.api.conftest import api, make_org, make_user  # noqa: F401  (shared fixtures)
from tests.integration.whatsapp.fake_graph import FakeGraph, serve_graph


@pytest.fixture(scope="session")
def _graph_server() -> Iterator[FakeGraph]:
    fake, stop = serve_graph()
    yield fake
    stop()


@pytest.fixture(autouse=True)
def graph(_graph_server: FakeGraph, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    """The Graph API faked on loopback for ownership checks, empty for each test."""
    monkeypatch.setenv("WHATSAPP_GRAPH_URL", _graph_server.url)
    get_settings.cache_clear()
    _graph_server.reset()
    yield _graph_server
    get_settings.cache_clear()
