"""The container's ``supabase`` client, for Auth admin calls and Realtime broadcast.

Built lazily: importing supabase costs ~0.5 s, which functions that never need it
should not pay at cold start.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from shared.errors import ConfigurationError
from shared.settings import get_settings

# Secrets this module reads (shared/settings.py: require_used_secrets, and the serverless.yml test).
SECRETS_USED = ("supabase_service_role_key",)

if TYPE_CHECKING:
    from supabase import Client


@lru_cache(maxsize=1)
def get_supabase() -> Client:
    """A service-role client; never hand it to code acting for a user."""
    from supabase import create_client

    settings = get_settings()
    if settings.supabase_service_role_key is None:
        raise ConfigurationError("SUPABASE_SERVICE_ROLE_KEY is required for Auth admin and Realtime")
    return create_client(settings.supabase_url, settings.supabase_service_role_key.get_secret_value())
