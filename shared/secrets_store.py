"""Integration secrets (webhook signing secrets, CRM and WhatsApp tokens) kept in Supabase Vault.

Rows elsewhere hold only the vault secret id. These calls go through ``app.*`` security-definer
wrappers granted to ``service_role`` alone, so use them inside ``service_session()`` (workers,
crons); under a user's session Postgres refuses them. Never log what ``read_secret`` returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from shared.db import Session
from shared.errors import AppError, NotFound


async def store_secret(session: Session, value: str, name: str, description: str = "") -> uuid.UUID:
    """Encrypt ``value`` into the vault under the unique ``name``; returns the secret id to keep."""
    row = await session.one("select app.store_secret(%s, %s, %s) as id", (value, name, description))
    if row is None or row["id"] is None:
        raise AppError("secret was not stored")
    return uuid.UUID(str(row["id"]))


async def update_secret(session: Session, secret_id: uuid.UUID, value: str) -> None:
    """Replace the value of a stored secret (a refreshed OAuth token, say); the id stays."""
    await session.one("select app.update_secret(%s, %s)", (secret_id, value))


async def read_secrets(session: Session, secret_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The plaintext of each stored secret among ``secret_ids``; unknown ids are left out."""
    if not secret_ids:
        return {}
    rows = await session.all("select id, secret from app.read_secrets(%s::uuid[])", (list(secret_ids),))
    return {uuid.UUID(str(row["id"])): str(row["secret"]) for row in rows}


async def read_secret(session: Session, secret_id: uuid.UUID) -> str:
    """The plaintext of one stored secret; NotFound when the vault has no such id."""
    found = await read_secrets(session, [secret_id])
    if secret_id not in found:
        raise NotFound("secret not found")
    return found[secret_id]


async def delete_secret(session: Session, secret_id: uuid.UUID) -> None:
    """Remove a secret from the vault (an integration was disconnected)."""
    await session.one("select app.delete_secret(%s)", (secret_id,))
