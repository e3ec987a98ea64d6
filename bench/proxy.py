"""LiteLLM's own proxy as the turn worker's peer: the same mock model behind its routing, on loopback.

The proxy needs ``litellm[proxy]``, which the project never installs: the bench builds a venv of
its own (``$CA_DATA_DIR/bench-venv``, default ``.data/bench-venv``) from the hash-locked
``requirements/bench.txt``, once per lock change, and runs ``litellm --config`` from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "bench.txt"
MOCK_MODEL = "bench-mock"
MASTER_KEY = "sk-" + secrets.token_hex(32)  # the proxy refuses to start without one; checked on every request
STARTUP_SECONDS = 120


def bench_venv() -> Path:
    """The bench venv, created or refreshed from ``requirements/bench.txt`` when the lock changed."""
    data = Path(os.environ.get("CA_DATA_DIR", REPO / ".data"))
    path = data / "bench-venv"
    stamp = path / ".lock-sha256"
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return path
    print(f"installing LiteLLM's proxy into {path} (requirements/bench.txt, once)", file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.run(
        [path / "bin" / "python", "-m", "pip", "install", "-q", "--require-hashes", "--no-deps", "-r", LOCK],
        check=True,
    )
    stamp.write_text(digest)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def litellm_proxy(workdir: Path) -> Iterator[str]:
    """Run ``litellm --config`` (one worker) serving ``MOCK_MODEL`` with a mock response; yields its base URL.

    No database: the master key is the only credential, as in a minimal self-hosted proxy.
    """
    config = workdir / "proxy.yaml"
    # JSON is YAML: one deployment answering with mock_response, no database, no master key, no callbacks.
    config.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": MOCK_MODEL,
                        "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-bench", "mock_response": "ok"},
                    }
                ],
                "litellm_settings": {"telemetry": False, "drop_params": True},
                "general_settings": {"master_key": MASTER_KEY},
            }
        )
    )
    port = _free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    env.pop("DATABASE_URL", None)  # with DATABASE_URL set the proxy would try to run its Prisma schema
    command = [str(bench_venv() / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--num_workers", "1"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "proxy.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"LiteLLM proxy exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health/liveliness", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling a starting process, not timing behaviour
    raise SystemExit("LiteLLM proxy did not start")


def proxy_samples(base: str, messages: list[dict[str, str]], n: int, warmup: int = 30) -> list[float]:
    """Seconds per chat completion through the proxy, on one kept-alive connection."""
    body = {"model": MOCK_MODEL, "messages": messages}
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        for _ in range(warmup):
            client.post("/v1/chat/completions", json=body).raise_for_status()
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            response = client.post("/v1/chat/completions", json=body)
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
    return samples


if __name__ == "__main__":
    print(bench_venv())
