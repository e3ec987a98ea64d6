"""A fake Graph API on 127.0.0.1: records each POST and answers as Meta documents (success or error).

It also answers the number lookups an ownership check makes: ``GET /{version}/{phone_number_id}``
and ``GET /{version}/{waba_id}/phone_numbers``, for the numbers a test said a token owns.
"""

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
    owned: dict[str, tuple[str, str]] = field(default_factory=dict)  # phone_number_id -> (waba_id, token)

    def own(self, phone_number_id: str, waba_id: str, token: str) -> None:
        """``token`` reads ``phone_number_id``, one of ``waba_id``'s numbers."""
        self.owned[phone_number_id] = (waba_id, token)

    def lookup(self, path: str, authorization: str) -> tuple[int, dict[str, Any]]:
        """Meta's answer to a GET of a phone number node or of a WABA's phone_numbers edge."""
        token = authorization.removeprefix("Bearer ")
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) == 3 and parts[2] == "phone_numbers":
            mine = [n for n, (waba, t) in self.owned.items() if waba == parts[1] and t == token]
            if not mine:
                return _unsupported_get(parts[1])
            cursors = {"before": "QVFIUmxYZA", "after": "QVFIUkZAfZA"}
            return 200, {"data": [_number_node(n) for n in mine], "paging": {"cursors": cursors}}
        if len(parts) == 2 and self.owned.get(parts[1], ("", ""))[1] == token:
            return 200, _number_node(parts[1])
        return _unsupported_get(parts[-1])

    def answer(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers.extend(answers)

    def reset(self) -> None:
        self.owned.clear()
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


def _number_node(phone_number_id: str) -> dict[str, Any]:
    """A WhatsApp Business phone number as the Graph API returns it."""
    return {
        "verified_name": "Imobiliária Exemplo",
        "code_verification_status": "VERIFIED",
        "display_phone_number": "+55 11 4000-0000",
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "id": phone_number_id,
    }


def _unsupported_get(object_id: str) -> tuple[int, dict[str, Any]]:
    """Meta's answer for an id the token cannot read (or that does not exist)."""
    message = (
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing"
        " permissions, or does not support this operation."
    )
    return 400, {
        "error": {
            "message": message,
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": "AbCdEf0123",
        }
    }


class _GraphHandler(BaseHTTPRequestHandler):
    graph: FakeGraph

    def do_GET(self) -> None:
        status, answer = self.graph.lookup(self.path, self.headers.get("authorization", ""))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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
