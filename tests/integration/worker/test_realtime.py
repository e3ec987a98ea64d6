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

    def __init__(self, port: int = 0) -> None:
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

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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


def test_an_unreachable_realtime_is_not_tried_again_on_every_turn(
    tenant: Tenant, worker: Worker, monkeypatch: pytest.MonkeyPatch, app_env: dict[str, str]
) -> None:
    from shared import realtime as realtime_module
    from shared.settings import get_settings

    # given Realtime's address refuses connections (a port nothing listens on)
    fake = FakeRealtime()
    port = fake.server.server_address[1]
    fake.server.server_close()
    monkeypatch.setenv("SUPABASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
    get_settings.cache_clear()
    try:
        # when a turn runs, then Realtime comes back on that address and another turn runs at once
        first = tenant.conversation()
        worker(sqs_event((first, tenant.lead_says(first, "Oi"))))
        back = FakeRealtime(port)  # the port was free a moment ago
        back.thread.start()
        second = tenant.conversation()
        worker(sqs_event((second, tenant.lead_says(second, "Oi"))))
        # then the second turn did not try it: broadcasts pause after a connection failure
        assert back.received == []
        # and once the pause is over, a turn broadcasts again
        resumed = realtime_module.time.monotonic() + realtime_module.UNREACHABLE_PAUSE_SECONDS + 1
        monkeypatch.setattr(realtime_module.time, "monotonic", lambda: resumed)
        third = tenant.conversation()
        worker(sqs_event((third, tenant.lead_says(third, "Oi"))))
        [call] = back.received
        assert call["body"]["messages"][0]["topic"] == f"conversation:{third}"
        back.server.shutdown()
        back.server.server_close()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
