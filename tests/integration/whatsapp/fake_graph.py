"""A fake Graph API on 127.0.0.1: records each POST and answers as Meta documents (success or error)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def meta_error(code: int, message: str, details: str = "", status: int = 400) -> tuple[int, dict[str, Any]]:
    """A Graph API error answer, as Meta documents it."""
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf0123"}
    error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return status, {"error": error}


@dataclass
class GraphRequest:
    """One POST the fake Graph API received."""

    path: str
    authorization: str
    body: dict[str, Any]


@dataclass
class FakeGraph:
    """Answers ``POST /{version}/{phone_number_id}/messages``: queued answers first, then success."""

    url: str = ""
    requests: list[GraphRequest] = field(default_factory=list)
    answers: deque[tuple[int, dict[str, Any]]] = field(default_factory=deque)
    wamids: list[str] = field(default_factory=list)

    def answer(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers.extend(answers)

    def reset(self) -> None:
        self.requests.clear()
        self.answers.clear()
        self.wamids.clear()

    def respond(self, request: GraphRequest) -> tuple[int, dict[str, Any]]:
        self.requests.append(request)
        if self.answers:
            return self.answers.popleft()
        wamid = f"wamid.{uuid.uuid4().hex}"
        self.wamids.append(wamid)
        to = str(request.body.get("to"))
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid}],
        }

    def sent_to(self, phone: str) -> list[GraphRequest]:
        return [r for r in self.requests if r.body.get("to") == phone.removeprefix("+")]


class _GraphHandler(BaseHTTPRequestHandler):
    graph: FakeGraph

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        request = GraphRequest(self.path, self.headers.get("authorization", ""), json.loads(raw))
        status, answer = self.graph.respond(request)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


def serve_graph() -> tuple[FakeGraph, Callable[[], None]]:
    """Start the fake Graph API; returns it and a stop function."""
    graph = FakeGraph()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_GraphHandler,), {"graph": graph}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    graph.url = f"http://127.0.0.1:{server.server_address[1]}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return graph, stop
