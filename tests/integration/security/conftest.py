"""The security findings reuse the API tier's fixtures (handlers, users, organizations)."""

from tests.integration.api.conftest import api, make_org, make_user

__all__ = ["api", "make_org", "make_user"]
