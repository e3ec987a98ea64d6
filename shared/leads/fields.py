"""Normalise the values an agent captures for a lead's qualification fields."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
CONTACT_FIELDS = ("name", "email", "phone")


def normalise_phone(raw: str, region: str = "BR") -> str | None:
    """E.164 for a valid number (national numbers read in ``region``), else None."""
    import phonenumbers  # ~25 ms of import: paid only by the functions that meet a phone number

    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str | None:
    """Lower-cased address, or None when it is not one."""
    value = raw.strip().lower()
    return value if _EMAIL.match(value) and len(value) <= 254 else None


def normalise_value(kind: str, raw: Any, region: str = "BR") -> Any:
    """Coerce ``raw`` to the field's type; None when it cannot be read as one."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if kind == "email":
        return normalise_email(str(raw))
    if kind == "phone":
        return normalise_phone(str(raw), region)
    if kind in ("money", "number"):
        try:
            number = Decimal(str(raw).replace(",", "."))
        except InvalidOperation:
            return None
        return float(number) if number.is_finite() and number >= 0 else None
    if kind == "boolean":
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("true", "sim", "yes", "1")
    return str(raw).strip()[:500]
