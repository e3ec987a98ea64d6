"""While a turn runs, the worker sends a typing event over Supabase Realtime's REST broadcast endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.worker.conftest import Tenant, sqs_event
from tests.integration.worker.test_turns import Worker

pytestmark = pytest.mark.integration
SERVICE_KEY = "service-role-key-for-the-fake-realtime"


class FakeRealtime:
    """Records what reaches ``POST /realtime/v1/api/broadcast``, answering 202 as Supabase does."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                outer.received.append({"path": self.path, "apikey": self.headers.get("apikey"), "body": body})
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def realtime(monkeypatch: pytest.MonkeyPatch, app_env: dict[str, str]) -> Iterator[FakeRealtime]:
    from shared.settings import get_settings

    fake = FakeRealtime()
    fake.thread.start()
    monkeypatch.setenv("SUPABASE_URL", fake.url)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
    get_settings.cache_clear()
    yield fake
    monkeypatch.undo()
    get_settings.cache_clear()
    fake.server.shutdown()
    fake.server.server_close()


def test_a_turn_broadcasts_typing_on_the_conversations_channel(
    tenant: Tenant, worker: Worker, realtime: FakeRealtime
) -> None:
    # given a web conversation with a lead message
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi")
    # when the worker runs the turn
    worker(sqs_event((conversation, message)))
    # then Realtime got a typing broadcast for that conversation, authenticated with the service key
    [call] = realtime.received
    assert call["path"] == "/realtime/v1/api/broadcast"
    assert call["apikey"] == SERVICE_KEY
    assert call["body"]["messages"] == [
        {"topic": f"conversation:{conversation}", "event": "typing", "payload": {"typing": True}, "private": True}
    ]
