"""The verified caller, as use cases see it (no JWT machinery: see ``shared.auth.jwt``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    """The verified caller: a Supabase user and the claims their token carried."""

    user_id: uuid.UUID
    role: str
    email: str | None
    claims: Mapping[str, Any]
