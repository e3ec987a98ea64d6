"""The README's first command: `python -m local_runtime up` starts everything and stops cleanly."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Runtime:
    """The `up` process with its output collected line by line."""

    def __init__(self, data_dir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update({"CA_DATA_DIR": str(data_dir), "PORT": str(port), "PYTHONUNBUFFERED": "1"})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_runtime", "up"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, seconds: float) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            line = self.lines.get(timeout=left)
            if line is None:
                break
            self.output.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"{pattern!r} never printed:\n{''.join(self.output)}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[tuple[Runtime, int]]:
    port = _free_port()
    runtime = Runtime(tmp_path / "data", port)
    try:
        yield runtime, port
    finally:
        if runtime.process.poll() is None:
            runtime.process.kill()
            runtime.process.wait(timeout=30)
        if runtime.process.stdout:
            runtime.process.stdout.close()


def test_up_serves_the_api_with_a_working_token_and_stops_on_ctrl_c(runtime: tuple[Runtime, int]) -> None:
    process, port = runtime
    # given the runtime started with no DATABASE_URL or REDIS_URL
    process.wait_for(rf"running at http://127\.0\.0\.1:{port}", STARTUP_SECONDS)
    token = process.wait_for(r"export TOKEN=(\S+)", 10).group(1)
    base = f"http://127.0.0.1:{port}"
    # when the printed token is used as the banner's curl command does
    with httpx.Client(base_url=base, timeout=10) as http:
        health = http.get("/health")
        orgs = http.get("/organizations", headers={"Authorization": f"Bearer {token}"})
        spec = http.get("/openapi.json")
    # then the API answers, the demo user sees the seeded demo organization, docs are served
    assert health.status_code == 200, health.text
    assert [o["slug"] for o in orgs.json()["data"]] == ["demo"]
    assert "/organizations" in spec.json()["paths"]
    # when Ctrl-C is pressed / then it stops cleanly
    assert process.stop() == 0
    process.wait_for(r"^stopped; data kept in", 10)
