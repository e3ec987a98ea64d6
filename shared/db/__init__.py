"""Postgres access: one connection per container, every request in its own transaction."""

from shared.db.session import Session, service_call, service_read, service_session, user_read, user_session

__all__ = ["Session", "service_call", "service_read", "service_session", "user_read", "user_session"]
