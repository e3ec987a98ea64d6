"""Lambda SnapStart runtime hooks: what must not outlive a snapshot is dropped before it and rebuilt after.

With SnapStart (the turn worker), Lambda runs init once when a version is published, snapshots
the memory, and resumes every new execution environment from that copy, possibly days later
and many times over. So, before the snapshot: close the database connection and the Redis,
HTTP, SQS and LiteLLM clients (their sockets would be dead or shared), and drop the verified-token
cache. After each restore: reseed ``random`` (every environment would otherwise draw the same
sequence), forget cached settings and Parameters values (a secret may have rotated since the
snapshot) and resolve them again, failing the restore early if that breaks.

``snapshot_restore_py`` exists only in Lambda's Python runtimes; elsewhere ``register_hooks``
does nothing and the hooks stay callable (the tests simulate a restore with them).
"""

from __future__ import annotations

import random
import sys

from shared.lifecycle import close_clients
from shared.observability import logger
from shared.runtime import run
from shared.settings import clear_parameter_caches, get_settings, require_used_secrets


def _clear_verifier() -> None:
    """Drop the verified-token cache, if this function verifies tokens (imported lazily: the worker does not)."""
    jwt = sys.modules.get("shared.auth.jwt")
    if jwt is not None:
        jwt.clear_verifier()


def before_snapshot() -> None:
    """Close every per-container client and drop caches that carry expiring credentials."""
    run(close_clients())
    run(_close_litellm_clients())
    _clear_verifier()


def after_restore() -> None:
    """Reseed, forget what was resolved before the snapshot, and resolve the secrets again."""
    random.seed()
    run(close_clients())  # in case anything was rebuilt between the hook and the snapshot
    run(_close_litellm_clients())
    _clear_verifier()
    clear_parameter_caches()
    get_settings.cache_clear()
    require_used_secrets()
    logger.info("restored from snapshot")


async def _close_litellm_clients() -> None:
    """LiteLLM keeps provider HTTP clients in its own cache; close them (their pooled connections
    must not survive a snapshot) and forget them, so the next call builds fresh ones."""
    litellm = sys.modules.get("litellm")
    if litellm is None:
        return
    await litellm.close_litellm_async_clients()
    litellm.in_memory_llm_clients_cache.flush_cache()


def register_hooks() -> bool:
    """Register the hooks with the Lambda runtime; False where there is no SnapStart runtime."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
