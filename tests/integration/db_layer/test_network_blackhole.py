"""The database network going dark: a round trip fails within the configured bound, then the next one reconnects.

A production-only path: a Lambda's connection to Supavisor crosses networks that can drop packets
silently (a NAT mapping gone, a failover, a route withdrawn). Without the connection's TCP settings
(``shared.db.connection.dead_peer_detection``) the kernel retransmits for about 15 minutes and the
request waits for the function's own timeout. The network is simulated by ``tests.support.blackhole``
in a network namespace of its own (real Postgres through a TCP forwarder, real psycopg and libpq,
the kernel's own TCP); nothing outside that namespace is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[3]
NETWORK_TIMEOUT_MS = 1000
CONNECT_TIMEOUT_SECONDS = 1
# The dropped connection's bound, then one reconnect that also meets the dark network, plus scheduling slack.
BOUND_SECONDS = NETWORK_TIMEOUT_MS / 1000 + CONNECT_TIMEOUT_SECONDS + 3
# As root, a network namespace alone; otherwise inside a user namespace too (where the Postgres socket's
# directory must be reachable by the user that runs the tests).
UNSHARE = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]


def _namespaces_usable() -> str | None:
    """Why this machine cannot run the simulation, or None."""
    if not (shutil.which("unshare") and shutil.which("tc") and shutil.which("ip")):
        return "needs unshare (util-linux), tc and ip (iproute2)"
    probe = [*UNSHARE, "sh", "-c", "ip link set lo up && tc qdisc add dev lo root pfifo limit 0"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    return None if done.returncode == 0 else f"cannot make a network namespace here: {done.stderr.strip()}"


@pytest.fixture(scope="module")
def dark_network_run(app_env: dict[str, str]) -> dict[str, Any]:
    """What ``tests.support.blackhole`` reports, run once for the module with a 1 s network timeout."""
    why_not = _namespaces_usable()
    if why_not:
        pytest.skip(why_not)
    host = str(psycopg.conninfo.conninfo_to_dict(app_env["DATABASE_URL"]).get("host") or "")
    if not host.startswith("/"):
        pytest.skip("needs the test Postgres on a Unix socket, which a new network namespace still reaches")
    env = {
        **os.environ,
        **app_env,
        "DB_NETWORK_TIMEOUT_MS": str(NETWORK_TIMEOUT_MS),
        "DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_SECONDS),
    }
    done = subprocess.run(
        [*UNSHARE, sys.executable, "-m", "tests.support.blackhole", app_env["DATABASE_URL"]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_given_a_live_forwarded_connection_when_first_asked_then_it_answers(dark_network_run: dict[str, Any]) -> None:
    # given the functions' connection over TCP, through the forwarder, to the real Postgres
    # when the first round trip runs / then it is answered (the simulation itself is sound)
    assert dark_network_run["first"] is True


@pytest.mark.parametrize(
    "case_name",
    [
        "sent_into_the_dark",  # every packet dropped before the statement is sent
        "dark_during_the_statement",  # the server acknowledged it, works on it (waits for a lock), then silence
    ],
)
def test_given_a_dark_network_when_a_round_trip_waits_then_it_fails_within_the_bound_and_the_next_reconnects(
    dark_network_run: dict[str, Any], case_name: str
) -> None:
    # given the network dark at that point of the round trip
    case = dark_network_run[case_name]
    # when the round trip waits for the server / then it fails as "database unavailable" (a 503), not after minutes
    assert case["outcome"] == "unavailable", case
    assert case["seconds"] < BOUND_SECONDS, case
    # and once the network is back, the next round trip reconnects and is answered
    assert case["then"] is True
