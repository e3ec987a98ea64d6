"""E2E tier: the local gateway in front of the real handlers and services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from local_runtime.gateway.app import create_gateway


@pytest.fixture(scope="module")
def gateway(app_env: dict[str, str]) -> Iterator[TestClient]:
    """The gateway app over HTTP semantics; leaving the block retires its containers."""
    with TestClient(create_gateway(), base_url="http://127.0.0.1:3000") as client:
        yield client
