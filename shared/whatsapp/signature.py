"""Meta's webhook credentials: the GET verify token and the ``X-Hub-Signature-256`` of every POST.

The signature is an HMAC-SHA256 of the raw body with the app secret. Meta signs the bytes it
sends (non-ASCII escaped as ``\\u00e9``), so verify exactly what arrived, before any parsing.
It carries no timestamp: deduplication on the wamid is the only defence against a replay.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from shared.errors import AppError, Forbidden, Unauthorized
from shared.settings import get_settings

# Secrets this module reads (shared/settings.py: require_used_secrets, and the serverless.yml test).
SECRETS_USED = ("whatsapp_app_secret", "whatsapp_verify_token")

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="
_HEX_DIGITS = frozenset("0123456789abcdef")


class NotConfigured(AppError):
    """The WhatsApp webhook has no verify token or app secret in this stage."""

    status = 503
    code = "not-configured"
    title = "Not configured"


def sign(body: bytes, secret: str) -> str:
    """The header value Meta sends for ``body``."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str | None, secret: str) -> bool:
    """True when ``header`` is ``sha256=<hex>`` of ``body`` keyed with ``secret``; compared in constant time."""
    if header is None or not header.startswith(_PREFIX):
        return False
    candidate = header[len(_PREFIX) :].strip().lower()
    if len(candidate) != hashlib.sha256().digest_size * 2 or not _HEX_DIGITS.issuperset(candidate):
        return False
    return hmac.compare_digest(sign(body, secret).encode(), (_PREFIX + candidate).encode())


def verify_delivery(body: bytes, header: str | None) -> None:
    """Accept a POST only when signed with the app secret; 401 otherwise, 503 when none is set."""
    secret = _configured(get_settings().whatsapp_app_secret)
    if not signature_matches(body, header, secret):
        raise Unauthorized(f"missing or invalid {SIGNATURE_HEADER}")


def verify_subscription(mode: str | None, token: str | None, challenge: str | None) -> str:
    """The challenge to echo when Meta's GET carries our verify token; 403 otherwise."""
    expected = _configured(get_settings().whatsapp_verify_token)
    given = (token or "").encode()
    # compare_digest first, so a wrong mode does not answer faster than a wrong token.
    if not hmac.compare_digest(given, expected.encode()) or mode != "subscribe" or challenge is None:
        raise Forbidden("webhook verification failed")
    return challenge


def _configured(secret: SecretStr | None) -> str:
    if secret is None or not secret.get_secret_value():
        raise NotConfigured("the WhatsApp webhook is not configured (WHATSAPP_VERIFY_TOKEN, WHATSAPP_APP_SECRET)")
    return secret.get_secret_value()
