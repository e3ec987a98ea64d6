"""Integrations API tier: real handlers, Postgres (with the local vault), tokens signed with the test secret."""

from __future__ import annotations

from tests.integration.api.conftest import api, make_org, make_user  # noqa: F401  (shared fixtures)
