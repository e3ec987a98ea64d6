"""The local Graph API sink: accepts sends like Meta, shows them, and posts signed status callbacks back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from local_runtime.graph_sink import GraphSink, serve_sink
from shared.whatsapp.signature import signature_matches

SECRET = "local-app-secret-for-the-sink-test"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    """A loopback receiver standing in for our WhatsApp webhook: (raw body, signature) per POST."""
    received: list[tuple[bytes, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.rfile.read(int(self.headers["content-length"])), self.headers["x-hub-signature-256"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/whatsapp", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def sink(webhook: tuple[str, list[tuple[bytes, str]]]) -> Iterator[tuple[GraphSink, list[str]]]:
    lines: list[str] = []
    graph, stop = serve_sink(webhook[0], SECRET, say=lines.append)
    yield graph, lines
    stop()


def test_a_send_gets_a_wamid_a_line_and_a_place_in_the_list(sink: tuple[GraphSink, list[str]]) -> None:
    graph, lines = sink
    # when the runtime sends a text the way shared.whatsapp.graph does
    body = {"messaging_product": "whatsapp", "to": "5511987654321", "type": "text", "text": {"body": "Olá!"}}
    answer = httpx.post(f"{graph.url}/v21.0/106540352242922/messages", json=body).json()
    # then it is answered like Meta, printed, and listed
    wamid = answer["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert lines == [f"whatsapp sink: to +5511987654321 from 106540352242922 ({wamid}): Olá!"]
    [listed] = httpx.get(f"{graph.url}/messages").json()["data"]
    assert (listed["wamid"], listed["to"], listed["body"]) == (wamid, "5511987654321", body)


def test_status_callbacks_are_posted_back_signed_like_meta(
    sink: tuple[GraphSink, list[str]], webhook: tuple[str, list[tuple[bytes, str]]]
) -> None:
    graph, _ = sink
    body = {"messaging_product": "whatsapp", "to": "5511987654321", "type": "text", "text": {"body": "Oi"}}
    wamid = httpx.post(f"{graph.url}/v21.0/1065/messages", json=body).json()["messages"][0]["id"]
    graph.wait_for_callbacks()
    _, received = webhook
    statuses = [json.loads(raw)["entry"][0]["changes"][0]["value"]["statuses"][0] for raw, _ in received]
    assert [(s["id"], s["status"]) for s in statuses] == [(wamid, "sent"), (wamid, "delivered")]
    assert all(signature_matches(raw, signature, SECRET) for raw, signature in received)
