"""One local server that speaks HubSpot's, Pipedrive's and RD Station's documented shapes, for the paths we use.

It keeps contacts, deals and persons in memory, records every request, checks each provider's
auth the way the provider does, and can be told to answer the next requests with a failure.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HUBSPOT_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
PIPEDRIVE_TOKEN = "pd0123456789abcdef0123456789abcdef01234"
RD_API_KEY = "rd-api-key-0123456789abcdef"
RD_ACCESS_TOKEN = "rd-oauth-token-0123456789abcdef"
Answer = tuple[int, Any]


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeCrm:
    """State of the three fake CRMs; ``url`` is the base URL of all three."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    failures: deque[tuple[str, Answer]] = field(default_factory=deque)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    persons: dict[int, dict[str, Any]] = field(default_factory=dict)
    pd_deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: int = 500

    def fail_next(self, path_part: str, status: int, body: Any) -> None:
        """Answer the next request whose path contains ``path_part`` with ``status`` and ``body``."""
        self.failures.append((path_part, (status, body)))

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def made(self, method: str, path_part: str, *, exact: bool = False) -> list[Call]:
        """The calls with this method whose path contains ``path_part`` (or is it, when ``exact``)."""
        return [c for c in self.calls if c.method == method and (c.path == path_part if exact else path_part in c.path)]

    def answer(self, call: Call) -> Answer:
        for i, (part, failure) in enumerate(self.failures):
            if part in call.path:
                del self.failures[i]
                return failure
        if call.path.startswith("/crm/v3/"):
            return _hubspot(self, call)
        if call.path.startswith("/api/v1/"):
            return _pipedrive(self, call)
        return _rdstation(call)


def _hubspot(crm: FakeCrm, call: Call) -> Answer:
    if call.headers.get("authorization") != f"Bearer {HUBSPOT_TOKEN}":
        return 401, {
            "status": "error",
            "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION",
        }
    path, body = call.path, call.body or {}
    if call.method == "POST" and path == "/crm/v3/objects/contacts/search":
        results = [
            {"id": cid, "properties": props, "archived": False}
            for cid, props in crm.contacts.items()
            if any(all(props.get(f["propertyName"]) == f["value"] for f in g["filters"]) for g in body["filterGroups"])
        ]
        return 200, {"total": len(results), "results": results[: body.get("limit", 10)]}
    if call.method == "POST" and path == "/crm/v3/objects/contacts":
        email = body["properties"].get("email")
        existing = next((cid for cid, p in crm.contacts.items() if email and p.get("email") == email), None)
        if existing:
            return 409, {
                "status": "error",
                "message": f"Contact already exists. Existing ID: {existing}",
                "category": "CONFLICT",
            }
        cid = str(crm.next_id())
        crm.contacts[cid] = dict(body["properties"])
        return 201, {"id": cid, "properties": crm.contacts[cid], "archived": False}
    if call.method == "POST" and path == "/crm/v3/objects/deals":
        did = str(crm.next_id())
        crm.deals[did] = {"properties": dict(body["properties"]), "associations": body.get("associations", [])}
        return 201, {"id": did, "properties": crm.deals[did]["properties"], "archived": False}
    match = re.fullmatch(r"/crm/v3/objects/(contacts|deals)/(\d+)", path)
    store = crm.contacts if match and match[1] == "contacts" else crm.deals
    if not match or match[2] not in store:
        return 404, {"status": "error", "message": "Object not found", "category": "OBJECT_NOT_FOUND"}
    record = store[match[2]] if match[1] == "contacts" else store[match[2]]["properties"]
    if call.method == "PATCH":
        record.update(body["properties"])
    return 200, {"id": match[2], "properties": record, "archived": False}


def _pipedrive(crm: FakeCrm, call: Call) -> Answer:
    if call.headers.get("x-api-token") != PIPEDRIVE_TOKEN:
        return 401, {"success": False, "error": "unauthorized access", "errorCode": 401}
    path, body, query = call.path, call.body or {}, call.query
    if call.method == "GET" and path == "/api/v1/persons/search":
        key = "emails" if query["fields"] == "email" else "phones"
        items = [
            {"result_score": 1.0, "item": {"id": pid, "type": "person", **p}}
            for pid, p in crm.persons.items()
            if query["term"] in p.get(key, [])
        ]
        return 200, {"success": True, "data": {"items": items[:1]}, "additional_data": {"pagination": {}}}
    if call.method == "POST" and path == "/api/v1/persons":
        pid = crm.next_id()
        crm.persons[pid] = {
            "name": body["name"],
            "emails": [e["value"] for e in body.get("email", [])],
            "phones": [p["value"] for p in body.get("phone", [])],
        }
        return 201, {"success": True, "data": {"id": pid, **crm.persons[pid]}}
    if call.method == "POST" and path == "/api/v1/deals":
        did = crm.next_id()
        crm.pd_deals[did] = {"status": "open", **body}
        return 201, {"success": True, "data": {"id": did, **crm.pd_deals[did]}}
    match = re.fullmatch(r"/api/v1/deals/(\d+)", path)
    if call.method == "PUT" and match and int(match[1]) in crm.pd_deals:
        crm.pd_deals[int(match[1])].update(body)
        return 200, {"success": True, "data": {"id": int(match[1]), **crm.pd_deals[int(match[1])]}}
    return 404, {"success": False, "error": "Deal not found", "errorCode": 404}


def _rdstation(call: Call) -> Answer:
    body = call.body or {}
    if call.path == "/platform/conversions" and call.query.get("api_key") != RD_API_KEY:
        return 401, {"errors": {"error_type": "UNAUTHORIZED", "error_message": "Invalid API key."}}
    if call.path == "/platform/events" and call.headers.get("authorization") != f"Bearer {RD_ACCESS_TOKEN}":
        return 401, {"errors": {"error_type": "UNAUTHORIZED", "error_message": "Invalid token."}}
    if body.get("event_family") != "CDP" or body.get("event_type") not in ("CONVERSION", "SALE", "OPPORTUNITY"):
        return 400, {"errors": [{"error_type": "INVALID_OPTION", "error_message": "Must be one of the valid options."}]}
    return 200, {"event_uuid": "5408c5a3-4711-4f2e-8d0b-13407a3e30f3"}


class _Handler(BaseHTTPRequestHandler):
    crm: FakeCrm

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        parts = urlsplit(self.path)
        call = Call(
            method=self.command,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        self.crm.calls.append(call)
        status, body = self.crm.answer(call)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


def serve(crm: FakeCrm) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start the fake on a free loopback port, in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"crm": crm}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    crm.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server, thread
