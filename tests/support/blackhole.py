"""The database network going dark, run in a network namespace of its own.

Usage (as ``tests/integration/db_layer/test_network_blackhole.py`` runs it)::

    unshare --net --map-root-user python -m tests.support.blackhole DATABASE_URL

In the new namespace only loopback exists. A ``LossyLink`` (armed with nothing) listens on 127.0.0.1 and relays
each connection to the Unix socket of the test Postgres at ``DATABASE_URL`` (a file, so reachable from here); the
functions' code connects to the forwarder over TCP, as a Lambda reaches Supavisor. "Dark" is a
``pfifo`` queue of length 0 on loopback: every packet is dropped, with no reset and no error,
as when a NAT mapping or a route disappears. The settings under test come from the environment
(``DB_NETWORK_TIMEOUT_MS``, ``DB_CONNECT_TIMEOUT_SECONDS``). Prints one JSON object: per case,
how the round trip ended (``unavailable``, ``answered`` or ``hung``), after how many seconds, and
whether the next round trip, with the network back, was answered.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import psycopg

from shared.db import service_read
from shared.errors import UpstreamUnavailable
from tests.support.lossy_link import LossyLink

HUNG_AFTER_SECONDS = 20.0  # far beyond the bound under test; the kernel alone would retransmit for ~15 min
LOCK_KEY = 4242


def _dark(on: bool) -> None:
    """Drop every packet on loopback (``on``), or stop dropping."""
    command = ["add", "dev", "lo", "root", "pfifo", "limit", "0"] if on else ["del", "dev", "lo", "root"]
    subprocess.run(["tc", "qdisc", *command], check=True)


async def _outcome(call: Any) -> tuple[str, float]:
    """How ``call`` ended (``answered``, ``unavailable`` or ``hung``) and after how many seconds."""
    began = time.monotonic()
    try:
        async with asyncio.timeout(HUNG_AFTER_SECONDS):
            await call
        outcome = "answered"
    except UpstreamUnavailable:
        outcome = "unavailable"
    except TimeoutError:
        outcome = "hung"
    return outcome, round(time.monotonic() - began, 2)


async def _answered() -> bool:
    outcome, _ = await _outcome(service_read("select 1"))
    return outcome == "answered"


def _darken_once_waiting(unix_url: str, done: threading.Event) -> None:
    """Once a backend waits for ``LOCK_KEY`` (the statement is at the server), go dark."""
    with psycopg.connect(unix_url, autocommit=True) as conn:
        deadline = time.monotonic() + HUNG_AFTER_SECONDS
        while time.monotonic() < deadline:
            row = conn.execute(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like %s",
                (f"%pg_advisory_xact_lock({LOCK_KEY})%",),
            ).fetchone()
            if row and row[0]:
                _dark(True)
                break
        done.set()


async def main(unix_url: str) -> dict[str, Any]:
    result: dict[str, Any] = {"first": await _answered()}

    # A statement sent while the network is dark: nothing we send is acknowledged.
    _dark(True)
    outcome, seconds = await _outcome(service_read("select 1"))
    _dark(False)
    result["sent_into_the_dark"] = {"outcome": outcome, "seconds": seconds, "then": await _answered()}

    # The server goes dark while it works on our statement (it waits for a lock another session holds):
    # what we sent was acknowledged, and nothing more arrives.
    with psycopg.connect(unix_url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        darkened = threading.Event()
        threading.Thread(target=_darken_once_waiting, args=(unix_url, darkened), daemon=True).start()
        outcome, seconds = await _outcome(service_read(f"select pg_advisory_xact_lock({LOCK_KEY})"))
        darkened.wait(HUNG_AFTER_SECONDS)
        _dark(False)
        holder.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
    result["dark_during_the_statement"] = {"outcome": outcome, "seconds": seconds, "then": await _answered()}
    return result


def _run(unix_url: str) -> dict[str, Any]:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.environ["DATABASE_URL"] = LossyLink(unix_url).url  # a relay that loses nothing itself: the network does
    return asyncio.run(main(unix_url))


if __name__ == "__main__":
    print(json.dumps(_run(sys.argv[1])), flush=True)
    os._exit(0)  # the forwarder's threads may still block on sockets the dark network left open
