"""Hostile bodies and queries at every route of serverless.yml: never a 500.

Deterministic (a seeded generator, a fixed number of cases per route): deep nesting, oversized
bodies, invalid UTF-8, numbers beyond every range, and the same in query parameters. Each case
goes through the local gateway (API Gateway's event shape, base64 for binary) and straight to
the Lambda handler. Any 5xx fails, with the route and case named.
"""

from __future__ import annotations

import base64
import importlib
import random
import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from local_runtime.gateway.app import create_gateway
from local_runtime.gateway.routes import Route, functions, routes
from tests.support.aio import use_container_loop
from tests.support.lambda_events import FakeLambdaContext, http_event

pytestmark = pytest.mark.integration

SEED = 20261130
ROUTES = routes()
HANDLERS = {spec.name: spec for spec in functions()}
HUGE_INT = "9" * 5000
Case = tuple[str, bytes, str, str]  # name, body, content type, query


def _nested(depth: int, rng: random.Random) -> bytes:
    opens = "".join(rng.choice("[{") for _ in range(depth))
    inner = "".join('{"a":' if c == "{" else "[" for c in opens)
    closes = "".join("}" if c == "{" else "]" for c in reversed(opens))
    return (inner + "1" + closes).encode()


def cases(rng: random.Random) -> list[Case]:
    """The same hostile inputs for every route, plus a few random bytes from the seeded generator."""
    json_type = "application/json"
    fields = ["content", "name", "email", "url", "agent_id", "temperature", "limit", "message", "events"]
    return [
        ("nested-5000", b"[" * 5000 + b"]" * 5000, json_type, ""),
        ("nested-mixed-40", _nested(40, rng), json_type, ""),
        ("nested-ok-20", _nested(20, rng), json_type, ""),
        ("oversized", b'{"content": "' + b"a" * 1_100_000 + b'"}', json_type, ""),
        ("escaped-quotes", b'{"content": "' + b'\\"' * 200_000, json_type, ""),
        ("invalid-utf8", b'{"content": "\xff\xfe\xc3\x28"}', json_type, ""),
        ("invalid-utf8-binary", bytes(rng.randrange(256) for _ in range(512)), "application/octet-stream", ""),
        ("invalid-utf8-untyped", b"\x80\x81{", "", ""),
        ("huge-int", f'{{"{rng.choice(fields)}": {HUGE_INT}}}'.encode(), json_type, ""),
        ("huge-float", b'{"temperature": 1e999, "content": -1e999, "limit": 1e400}', json_type, ""),
        ("nan", b'{"temperature": NaN, "content": Infinity}', json_type, ""),
        ("every-field-huge", ("{" + ",".join(f'"{f}": 1e308' for f in fields) + "}").encode(), json_type, ""),
        ("query-huge", b"", json_type, f"limit={HUGE_INT}&messages_limit=1e999&cursor=%FF%FE&after=-1"),
        ("query-nested", b"", json_type, "cursor=" + "%5B" * 3000 + "&limit=-99999999999999999999"),
    ]


def _path(route: Route) -> str:
    path = route.path
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


def _headers(content_type: str, token: str | None) -> dict[str, str]:
    headers = {
        "idempotency-key": str(uuid.uuid4()),
        "x-publishable-key": "pk_fuzz",
        "origin": "https://fuzz.example",
        "x-hub-signature-256": "sha256=" + "0" * 64,
    }
    if content_type:
        headers["content-type"] = content_type
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def _direct(route: Route, path: str, body: bytes, headers: dict[str, str], query: str) -> int:
    """Invoke the route's handler with the event API Gateway builds (binary bodies base64-encoded)."""
    spec = HANDLERS[route.function]
    handler = getattr(importlib.import_module(spec.module), spec.attribute)
    event = http_event(route.method, path, headers=headers, route_key=route.route_key, query=query)
    if "content-type" not in headers:
        event["headers"].pop("content-type", None)
    if body:
        try:
            event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    use_container_loop()
    return int(handler(event, FakeLambdaContext(route.function))["statusCode"])


@pytest.fixture(scope="module")
def signed_webhooks(app_env: dict[str, str]) -> Iterator[None]:
    """Secrets for the signed webhooks, so their real paths run (unset, they answer a deliberate 503)."""
    from shared.settings import get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WHATSAPP_APP_SECRET", "fuzz-app-secret-0123456789abcdef")
        patch.setenv("WHATSAPP_VERIFY_TOKEN", "fuzz-verify-token-0123456789")
        patch.setenv("HUBSPOT_CLIENT_SECRET", "fuzz-hubspot-secret-0123456789")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def gateway(signed_webhooks: None) -> Iterator[TestClient]:
    with TestClient(create_gateway(), base_url="http://127.0.0.1:3000") as client:
        yield client


@pytest.fixture(scope="module")
def token(app_env: dict[str, str], database_url: str, jwt_secret: str) -> str:
    import psycopg

    from tests.support.tokens import hs256_token

    user_id = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, f"fuzz-{user_id.hex[:8]}@x.test"))
    return hs256_token(jwt_secret, user_id, f"fuzz-{user_id.hex[:8]}@x.test")


@pytest.mark.parametrize("through", ["gateway", "handler"])
def test_no_hostile_input_gets_a_500_anywhere(gateway: TestClient, token: str, through: str) -> None:
    rng = random.Random(SEED)
    failures: list[str] = []
    sent = 0
    for route in ROUTES:
        for name, body, content_type, query in cases(rng):
            if not body and not query:
                continue
            # given a hostile body or query, signed in where the route needs it
            path = _path(route)
            headers = _headers(content_type, token if route.authorizer else None)
            # when it is sent
            if through == "gateway":
                url = f"{path}?{query}" if query else path
                status = gateway.request(route.method, url, content=body or None, headers=headers).status_code
            else:
                status = _direct(route, path, body, headers, query)
            sent += 1
            if status >= 500:
                failures.append(f"{route.route_key} [{name}]: {status}")
    # then no answer is a server error
    assert sent >= len(ROUTES) * 10
    assert failures == []
