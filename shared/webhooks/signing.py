"""Webhook signatures in the Stripe scheme, under our own header.

``CA-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]``: each ``v1`` is an HMAC-SHA256, keyed with one
active signing secret, over ``"{t}.{raw body}"``. During a rotation both secrets sign, so a
receiver holding either one verifies. ``verify`` is the reference receivers can port.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "CA-Signature"
EVENT_ID_HEADER = "CA-Event-Id"
DELIVERY_ID_HEADER = "CA-Delivery-Id"
EVENT_TYPE_HEADER = "CA-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{body}"`` keyed with ``secret``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """The header value: the timestamp, then one ``v1`` per active secret (newest first)."""
    if not secrets:
        raise ValueError("at least one signing secret is required")
    return ",".join([f"t={timestamp}", *(f"v1={signature(body, secret, timestamp)}" for secret in secrets)])


def verify(
    body: bytes, header: str, secret: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when ``header`` holds a ``v1`` of ``body`` by ``secret`` dated within ``tolerance`` seconds of now.

    Verify the raw bytes as received, before any JSON parsing; compare in constant time.
    """
    timestamp, candidates = _parse(header)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(body, secret, timestamp)
    # Check every candidate, so the time taken does not reveal which one matched.
    return sum(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates) > 0


def _parse(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    return timestamp, candidates
