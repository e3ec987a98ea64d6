"""A fake OpenAI-compatible provider on loopback, misbehaving on demand (gateway and worker failures).

The behaviour is chosen by the path, ``/<mode>/v1/chat/completions``, so one server serves
every test at once: ``ok``, ``malformed`` (a tool call with broken JSON), ``429``, ``500``,
``400`` and ``hang`` (answers only after the test is over, i.e. past any timeout).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

HANG_LIMIT_SECONDS = 10  # a hanging request is released at teardown; this only bounds a stuck run


def _chat_completion(tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI's documented chat.completion object."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Olá! Qual é o seu e-mail?", "tool_calls": tool_calls},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


_BODIES: dict[str, tuple[int, dict[str, Any]]] = {
    "ok": (200, _chat_completion([_call("call_a", "update_lead", '{"name": "Ana"}')])),
    "malformed": (
        200,
        _chat_completion(
            [
                _call("call_a", "update_lead", '{"name": "Ana"'),
                _call("call_b", "request_handoff", '{"reason": "asked"}'),
                _call("call_c", "set_stage", '["not", "an", "object"]'),
            ]
        ),
    ),
    "429": (429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
    "500": (500, {"error": {"message": "The server had an error", "type": "server_error", "code": None}}),
    "400": (400, {"error": {"message": "Invalid 'messages'", "type": "invalid_request_error", "code": None}}),
}


class FakeProvider:
    """Where the fake provider listens; ``api_base(mode)`` is a LiteLLM ``api_base``."""

    def __init__(self, server: ThreadingHTTPServer, release: threading.Event, hits: Counter[str]) -> None:
        self.server = server
        self.release = release
        self.hits = hits  # requests received per mode

    def api_base(self, mode: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/{mode}/v1"


def _handler(release: threading.Event, hits: Counter[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            mode = self.path.strip("/").split("/", 1)[0]
            hits[mode] += 1
            if mode == "hang":
                release.wait(HANG_LIMIT_SECONDS)
                return
            status, body = _BODIES[mode]
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            return

    return Handler


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    release, hits = threading.Event(), Counter[str]()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(release, hits))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-openai", daemon=True)
    thread.start()
    yield FakeProvider(server, release, hits)
    release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
