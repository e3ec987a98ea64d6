"""A fake WhatsApp Graph API on loopback: where local replies go instead of Meta.

``up`` starts it and points ``WHATSAPP_GRAPH_URL`` at it (unless that variable is set). It
accepts ``POST /{version}/{phone_number_id}/messages`` as Meta does, answers with a wamid,
prints one line per message and lists what it received at ``GET /messages``. With a webhook
URL and the app secret it also posts the ``sent`` and ``delivered`` status callbacks back,
signed like Meta (``X-Hub-Signature-256``). Number lookups (``GET /{version}/{id}`` and
``GET /{version}/{waba_id}/phone_numbers``) answer as if the token owned every number.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from shared.whatsapp.signature import sign

_SEND = re.compile(r"^/v[0-9.]+/(?P<number>[^/]+)/messages$")
_NUMBERS = re.compile(r"^/v[0-9.]+/(?P<waba>[^/]+)/phone_numbers$")
_NODE = re.compile(r"^/v[0-9.]+/(?P<id>[^/]+)$")


@dataclass
class GraphSink:
    """The running sink: its URL and the messages it accepted, oldest first."""

    url: str = ""
    callback_url: str | None = None
    app_secret: str | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    looked_up: set[str] = field(default_factory=set)
    say: Callable[[str], None] = print
    _callbacks: list[threading.Thread] = field(default_factory=list)

    def accept(self, phone_number_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Record one message and answer as Meta does; queue its status callbacks."""
        wamid = f"wamid.local.{uuid.uuid4().hex}"
        to = str(body.get("to", ""))
        text = (body.get("text") or {}).get("body") or f"[template {(body.get('template') or {}).get('name')}]"
        self.sent.append({"wamid": wamid, "from": phone_number_id, "to": to, "type": body.get("type"), "body": body})
        self.say(f"whatsapp sink: to +{to} from {phone_number_id} ({wamid}): {text}")
        if self.callback_url and self.app_secret:
            thread = threading.Thread(target=self._post_statuses, args=(phone_number_id, to, wamid), daemon=True)
            self._callbacks.append(thread)
            thread.start()
        return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]}

    @staticmethod
    def number(phone_number_id: str) -> dict[str, Any]:
        """A phone number node as the Graph API describes it."""
        return {"id": phone_number_id, "display_phone_number": phone_number_id, "verified_name": "Local sink"}

    def wait_for_callbacks(self, timeout: float = 5) -> None:
        """Until every status callback so far has been posted (tests)."""
        for thread in list(self._callbacks):
            thread.join(timeout)

    def _post_statuses(self, phone_number_id: str, to: str, wamid: str) -> None:
        assert self.callback_url is not None
        assert self.app_secret is not None
        for status in ("sent", "delivered"):
            raw = json.dumps(status_callback(phone_number_id, to, wamid, status), separators=(",", ":")).encode()
            headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw, self.app_secret)}
            try:
                with urlopen(Request(self.callback_url, raw, headers), timeout=5):  # noqa: S310 (loopback only)
                    pass
            except OSError as exc:
                self.say(f"whatsapp sink: status callback failed ({type(exc).__name__})")
                return


def status_callback(phone_number_id: str, to: str, wamid: str, status: str) -> dict[str, Any]:
    """A status webhook as Meta sends it for one message."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": phone_number_id, "phone_number_id": phone_number_id},
        "statuses": [{"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": to}],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "local", "changes": [{"value": value, "field": "messages"}]}],
    }


class _Handler(BaseHTTPRequestHandler):
    sink: GraphSink

    def do_POST(self) -> None:
        match = _SEND.match(urlsplit(self.path).path)
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        if match is None:
            self._answer(404, {"error": {"message": "Unknown path", "code": 100}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._answer(400, {"error": {"message": "Invalid JSON", "code": 100}})
            return
        self._answer(200, self.sink.accept(match["number"], body))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/messages":
            self._answer(200, {"data": self.sink.sent})
        elif _NUMBERS.match(path):
            # Locally the token owns every number it has looked up, in every WABA.
            self._answer(200, {"data": [self.sink.number(n) for n in sorted(self.sink.looked_up)]})
        elif node := _NODE.match(path):
            self.sink.looked_up.add(node["id"])
            self._answer(200, self.sink.number(node["id"]))
        else:
            self._answer(404, {"error": {"message": "Unknown path", "code": 100}})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """One line per message is printed by ``accept``; no access log."""


def serve_sink(
    callback_url: str | None = None, app_secret: str | None = None, say: Callable[[str], None] = print
) -> tuple[GraphSink, Callable[[], None]]:
    """Start the sink on a free loopback port; returns it and a stop function."""
    sink = GraphSink(callback_url=callback_url, app_secret=app_secret, say=say)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("SinkHandler", (_Handler,), {"sink": sink}))
    thread = threading.Thread(target=server.serve_forever, name="graph-sink", daemon=True)
    thread.start()
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return sink, stop
