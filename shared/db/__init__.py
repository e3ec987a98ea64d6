"""Postgres access: one connection per container, every request in its own transaction."""

from shared.db.session import (
    KeyedClaim,
    Session,
    Statement,
    TransactionSettings,
    service_call,
    service_read,
    service_session,
    service_write,
    user_read,
    user_session,
    user_write,
)

__all__ = [
    "KeyedClaim",
    "Session",
    "Statement",
    "TransactionSettings",
    "service_call",
    "service_read",
    "service_session",
    "service_write",
    "user_read",
    "user_session",
    "user_write",
]
