"""Secrets at rest: the local vault stores ciphertext, only the service path reads it back."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from shared.db import service_session, user_session
from shared.errors import Forbidden
from shared.secrets_store import read_secret, store_secret, update_secret
from tests.support.aio import run
from tests.support.sql import authenticate_as
from tests.support.tokens import claims_for

pytestmark = pytest.mark.integration
TOKEN = "pat-na1-3f1e9c2a-hubspot-token-ção"


def _stored(database_url: str, secret_id: uuid.UUID) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("select secret from vault.secrets where id = %s", (secret_id,)).fetchone()
    assert row is not None
    return str(row[0])


async def _store(value: str) -> uuid.UUID:
    async with service_session() as db:
        return await store_secret(db, value, f"test:{uuid.uuid4()}", "a CRM token")


async def _read(secret_id: uuid.UUID) -> str:
    async with service_session() as db:
        return await read_secret(db, secret_id)


def test_a_stored_secret_is_ciphertext_at_rest_and_reads_back_on_the_service_path(
    app_env: dict[str, str], database_url: str
) -> None:
    # given a token stored through the service path
    secret_id = run(_store(TOKEN))
    # then the table holds ciphertext, not the token nor any part of it
    stored = _stored(database_url, secret_id)
    assert TOKEN not in stored
    assert "hubspot" not in stored
    # and the service path reads the token back
    assert run(_read(secret_id)) == TOKEN


def test_an_update_replaces_the_value_and_the_ciphertext(app_env: dict[str, str], database_url: str) -> None:
    # given a stored token
    secret_id = run(_store(TOKEN))
    before = _stored(database_url, secret_id)

    async def _update() -> None:
        async with service_session() as db:
            await update_secret(db, secret_id, "x" * 300)

    # when it is updated / then the id stays, the new value (longer than one keystream block) reads back
    run(_update())
    assert run(_read(secret_id)) == "x" * 300
    assert _stored(database_url, secret_id) != before


def test_a_user_session_cannot_read_secrets(app_env: dict[str, str], make_user: Callable[..., Any]) -> None:
    # given a stored secret and a signed-in user
    secret_id = run(_store(TOKEN))
    user = make_user()

    async def _read_as_user() -> str:
        async with user_session(claims_for(user.user_id)) as db:
            return await read_secret(db, secret_id)

    # when the user's transaction asks for it / then Postgres refuses
    with pytest.raises(Forbidden):
        run(_read_as_user())


@pytest.mark.parametrize("role", ["authenticated", "anon"])
@pytest.mark.parametrize(
    "sql",
    [
        "select secret from vault.secrets",
        "select decrypted_secret from vault.decrypted_secrets",
        "select vault.create_secret('x')",
        "select * from app.read_secrets(array[gen_random_uuid()])",
        "select app.store_secret('x', 'stolen')",
        "select key from vault.root_key",
    ],
)
def test_api_roles_cannot_reach_the_vault(db: psycopg.Connection[Any], role: str, sql: str) -> None:
    # given a user (or an anonymous caller) / when they reach for the vault / then it is refused
    authenticate_as(db, uuid.uuid4() if role == "authenticated" else None, role=role)
    with pytest.raises(pg.InsufficientPrivilege):
        db.execute(sql)


def test_the_service_role_reaches_secrets_only_through_the_wrappers(db: psycopg.Connection[Any]) -> None:
    # given the service role / then the vault's tables and root key are closed to it as well
    authenticate_as(db, None, role="service_role")
    with pytest.raises(pg.InsufficientPrivilege), db.transaction():
        db.execute("select key from vault.root_key")
    with pytest.raises(pg.InsufficientPrivilege), db.transaction():
        db.execute("select secret from vault.secrets")
    # but the app.* wrappers work
    row = db.execute("select app.store_secret('v', %s)", (f"svc:{uuid.uuid4()}",)).fetchone()
    assert row is not None
    assert db.execute("select secret from app.read_secrets(array[%s::uuid])", (row[0],)).fetchone() == ("v",)


def test_webhook_signing_secrets_are_kept_in_the_vault(
    make_org: Callable[[], dict[str, Any]], make_endpoint: Callable[..., dict[str, Any]], database_url: str
) -> None:
    # given an endpoint created through the API
    org = make_org()
    endpoint = make_endpoint(org, "https://hooks.example.com/ca")
    # then its row references a vault secret whose stored form is ciphertext of the secret shown
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select s.secret, d.decrypted_secret from public.webhook_endpoints e"
            " join vault.secrets s on s.id = e.secret_id join vault.decrypted_secrets d on d.id = s.id"
            " where e.id = %s",
            (endpoint["id"],),
        ).fetchone()
    assert row is not None
    stored, decrypted = row
    assert decrypted == endpoint["secret"]
    assert endpoint["secret"] not in stored
    assert endpoint["secret"][6:20] not in stored


def test_tampered_ciphertext_is_detected(app_env: dict[str, str], db: psycopg.Connection[Any]) -> None:
    # given a stored secret whose ciphertext is altered on disk
    secret_id = run(_store(TOKEN))
    db.execute(
        "update vault.secrets set secret = encode(set_byte(decode(secret, 'base64'), 20,"
        " get_byte(decode(secret, 'base64'), 20) # 1), 'base64') where id = %s",
        (secret_id,),
    )
    # when it is decrypted / then the authentication tag fails instead of returning garbage
    with pytest.raises(psycopg.Error, match="failed authentication"):
        db.execute("select decrypted_secret from vault.decrypted_secrets where id = %s", (secret_id,))


def test_the_local_cipher_uses_real_hmac_sha256(db: psycopg.Connection[Any]) -> None:
    # given RFC 4231's second HMAC-SHA256 test case / then the compat vault's HMAC matches Python's
    key, message = b"Jefe", b"what do ya want for nothing?"
    row = db.execute("select vault._hmac(%s, %s)", (key, message)).fetchone()
    assert row is not None
    assert bytes(row[0]) == hmac.new(key, message, hashlib.sha256).digest()
