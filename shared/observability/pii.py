"""Masks personal data before it reaches a log line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Phone-like runs of 8+ digits, optionally with +, spaces, dashes, dots or parentheses.
# An ISO date (2024-01-15) is not a phone: without the guard "2024-01-15 10:30" became "***10:30".
# UUIDs (request and organization ids) match first and are kept: ~9% of random ones hold such a run.
_UUID = r"\b[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\b"
_PHONE = re.compile(rf"(?P<uuid>{_UUID})|(?<![\w/])(?!\d{{4}}-\d{{2}}-\d{{2}}(?!\d))\+?\d[\d\s().-]{{6,}}\d(?![\w/])")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "password",
        "secret",
        "token",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "cookie",
        "x-hub-signature-256",
        "content",
        "text",
        "body",
        "email",
        "phone",
        "phone_e164",
        "name",
        "wa_id",
    }
)
MASK = "***"


def mask_text(text: str) -> str:
    """Mask e-mails, phone numbers and bearer tokens inside free text."""
    text = _JWT.sub(MASK, text)
    text = _BEARER.sub(r"\1 " + MASK, text)
    text = _EMAIL.sub(r"\1***@\2", text)
    return _PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    if match.group("uuid"):
        return match.group(0)
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) < 8:
        return match.group(0)
    return f"{MASK}{digits[-2:]}"


def mask(value: Any, key: str | None = None) -> Any:
    """Return ``value`` with sensitive keys redacted and PII masked, recursively."""
    if key is not None and key.lower() in SENSITIVE_KEYS and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value
