"""Database password rotation: a refused password makes the function fetch its secrets again and reconnect.

Real Postgres (a role that must authenticate with scram-sha-256, through a pg_hba rule added for
this test), real psycopg, and the secret in SSM (the session's moto server) behind an ``ssm:`` reference.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from aws_lambda_powertools.utilities import parameters

from local_runtime.postgres import PostgresServer
from shared.db import connection
from shared.errors import UpstreamUnavailable
from shared.settings import get_settings
from tests.support.aio import run, use_container_loop


@pytest.fixture
def password_role(pg_server: PostgresServer, database_url: str) -> Iterator[tuple[str, str]]:
    """``(role, password)`` of a login role the server authenticates by password."""
    if not pg_server.embedded:
        pytest.skip("needs the embedded server, whose pg_hba.conf this test edits")
    role, password = f"rot_{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(12)
    with psycopg.connect(database_url, autocommit=True) as conn:
        hba_file = str(conn.execute("show hba_file").fetchone()[0])  # type: ignore[index]
        conn.execute(f"create role {role} login password '{password}'")
        hba = Path(hba_file)
        original = hba.read_text(encoding="utf-8")
        rules = f"local all {role} scram-sha-256\nhost all {role} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rules + original, encoding="utf-8")  # first match wins: ahead of the trust rules
        conn.execute("select pg_reload_conf()")
    try:
        yield role, password
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            hba.write_text(original, encoding="utf-8")
            conn.execute("select pg_reload_conf()")
            conn.execute(f"drop role if exists {role}")


def _url(database_url: str, role: str, password: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    info.update(user=role, password=password)
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in info.items() if v is not None})


@pytest.fixture
def referenced_database_url(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """``DATABASE_URL`` as deployed: an SSM reference (moto), with this loop's connection dropped."""
    name = f"/conversion-agents/test-{uuid.uuid4().hex[:8]}/database-url"
    ssm = boto3.client("ssm", region_name="us-east-1")
    monkeypatch.setenv("DATABASE_URL", f"ssm:{name}")
    use_container_loop()
    run(connection.close_connection())
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    get_settings.cache_clear()
    yield ssm, name
    run(connection.close_connection())
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    monkeypatch.setenv("DATABASE_URL", app_env["DATABASE_URL"])
    get_settings.cache_clear()


def _who(conn: psycopg.AsyncConnection[Any]) -> str:
    async def query() -> str:
        cursor = await conn.execute("select current_user")
        row = await cursor.fetchone()
        return str(row[0]) if row else ""

    return run(query())


def test_a_rotated_password_is_fetched_again_when_postgres_refuses_the_cached_one(
    database_url: str, password_role: tuple[str, str], referenced_database_url: tuple[Any, str]
) -> None:
    # given a function connected with the password in SSM (resolved and cached at cold start)
    role, old = password_role
    ssm, name = referenced_database_url
    ssm.put_parameter(Name=name, Value=_url(database_url, role, old), Type="SecureString")
    assert _who(run(connection.get_connection())) == role
    # when the password rotates (database first, then SSM), well within the cache's max age,
    # and the function's connection drops
    new = secrets.token_urlsafe(12)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"alter role {role} password '{new}'")
    ssm.put_parameter(Name=name, Value=_url(database_url, role, new), Type="SecureString", Overwrite=True)
    run(connection.close_connection())
    # then the next connection, refused with the cached password, is made with the fetched one
    assert _who(run(connection.get_connection())) == role
    assert get_settings().database_url.get_secret_value() == _url(database_url, role, new)


def test_a_password_refused_even_after_refetching_is_an_upstream_failure(
    database_url: str, password_role: tuple[str, str], referenced_database_url: tuple[Any, str]
) -> None:
    # given SSM holding a password Postgres does not accept
    role, _ = password_role
    ssm, name = referenced_database_url
    ssm.put_parameter(Name=name, Value=_url(database_url, role, "not-the-password"), Type="SecureString")
    # when the function connects / then it tries once more with a fresh fetch, then gives up as unavailable
    with pytest.raises(UpstreamUnavailable):
        run(connection.get_connection())
