"""The triggers that guard a user's writes fire unless the service path is established."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from tests.integration.db.conftest import seed_tenant

pytestmark = pytest.mark.integration


def test_claims_without_a_role_are_a_users_not_the_services(db: psycopg.Connection[Any]) -> None:
    # given A's editor acting with claims that carry no role (auth.role() is null), as role authenticated
    a = seed_tenant(db, "guard")
    claims = json.dumps({"sub": str(a.members["editor"]), "aud": "authenticated"})
    db.execute(
        "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", (claims,)
    )
    # when they write an assistant's message into A's conversation
    # then the guard refuses it: only the service writes the assistant's words
    with pytest.raises(pg.InsufficientPrivilege, match="written by the service"):
        db.execute(
            "insert into public.messages (organization_id, conversation_id, role, content)"
            " values (%s, %s, 'assistant', 'x')",
            (a.org, a.rows["conversation"]),
        )
