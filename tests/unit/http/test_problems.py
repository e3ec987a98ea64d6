"""create_app's error wiring: every failure leaves as RFC 9457 application/problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from shared.errors import (
    AppError,
    BudgetExceeded,
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Unauthorized,
    UpstreamUnavailable,
)
from shared.http import create_app
from shared.http.problems import PROBLEM_JSON
from shared.settings import Settings, get_settings
from tests.support.lambda_events import FakeLambdaContext, http_event

LEAKY_SECRET = "postgresql://app:Zq8w3Kp1@db.internal/app"
RFC9457_MEMBERS = {"type", "title", "status", "detail"}

ERROR_CASES: list[tuple[AppError, int, str]] = [
    (AppError("kaboom"), 500, "internal-error"),
    (InvalidInput.for_field("body.name", "is too long"), 422, "invalid-input"),
    (MalformedRequest("not JSON"), 400, "malformed-request"),
    (Unauthorized("missing bearer token"), 401, "unauthorized"),
    (Forbidden("not a member"), 403, "forbidden"),
    (NotFound("no such lead"), 404, "not-found"),
    (Conflict("already exists"), 409, "conflict"),
    (BudgetExceeded("monthly budget spent"), 402, "budget-exceeded"),
    (RateLimited("slow down", retry_after=17), 429, "rate-limited"),
    (UpstreamUnavailable("database timeout"), 503, "upstream-unavailable"),
    (OutcomeUnknown("connection lost after the write was sent"), 503, "outcome-unknown"),
]


class NewLead(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    age: int


@pytest.fixture
def dev_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A minimal valid dev environment, with no other app variable leaking in."""
    for name, field in Settings.model_fields.items():
        monkeypatch.delenv(name.upper(), raising=False)
        if isinstance(field.validation_alias, str):
            monkeypatch.delenv(field.validation_alias, raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", LEAKY_SECRET)
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "unit-test-secret-0123456789abcdefghij")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def app(dev_env: None) -> FastAPI:
    app = create_app("problems-under-test")

    @app.get("/errors/{index}")
    async def raise_error(index: int) -> None:
        raise ERROR_CASES[index][0]

    @app.post("/leads")
    async def create_lead(lead: NewLead) -> dict[str, Any]:
        return lead.model_dump()

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError(f"could not connect to {LEAKY_SECRET}")

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


class LambdaScope:
    """Adds the ``aws.event`` / ``aws.context`` scope keys that Mangum sets in Lambda."""

    def __init__(self, app: FastAPI, event: dict[str, Any] | None, context: FakeLambdaContext) -> None:
        self.app, self.event, self.context = app, event, context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "aws.event": self.event, "aws.context": self.context}, receive, send)


def _assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert set(body) >= RFC9457_MEMBERS
    assert body["status"] == status
    assert body["type"] == f"/problems/{code}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    return body


# ----------------------------------------------------------------------------- creation


def test_create_app_refuses_invalid_settings(dev_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an environment without a database URL
    monkeypatch.delenv("DATABASE_URL")
    get_settings.cache_clear()

    # WHEN / THEN the app is never built: the cold start fails, not the first request
    with pytest.raises(ConfigurationError, match="database_url"):
        create_app("broken")


def test_deployed_app_exposes_no_docs(client: TestClient) -> None:
    # GIVEN an app built by create_app
    # WHEN its docs and schema are requested
    # THEN none is served, and the 404 is a problem too
    for path in ("/docs", "/redoc", "/openapi.json"):
        _assert_problem(client.get(path), 404, "not-found")


# ----------------------------------------------------------------------------- AppError subclasses


@pytest.mark.parametrize(
    ("index", "status", "code"),
    [(i, status, code) for i, (_, status, code) in enumerate(ERROR_CASES)],
    ids=[type(exc).__name__ for exc, _, _ in ERROR_CASES],
)
def test_app_error_maps_to_its_status_and_type(client: TestClient, index: int, status: int, code: str) -> None:
    # GIVEN a route that raises one of the project's errors
    error = ERROR_CASES[index][0]

    # WHEN it is called
    response = client.get(f"/errors/{index}")

    # THEN the status, type, title and detail come from the error
    body = _assert_problem(response, status, code)
    assert body["title"] == type(error).title
    assert body["detail"] == error.detail


def test_invalid_input_lists_its_fields(client: TestClient) -> None:
    # GIVEN a route raising InvalidInput for one field
    # WHEN it is called
    body = _assert_problem(client.get("/errors/1"), 422, "invalid-input")

    # THEN the field and the reason are listed
    assert body["errors"] == [{"field": "body.name", "message": "is too long"}]


def test_rate_limited_sets_retry_after(client: TestClient) -> None:
    # GIVEN a route raising RateLimited(retry_after=17)
    # WHEN it is called
    response = client.get("/errors/8")

    # THEN clients are told when to retry
    _assert_problem(response, 429, "rate-limited")
    assert response.headers["retry-after"] == "17"


def test_other_errors_set_no_retry_after(client: TestClient) -> None:
    # GIVEN a route raising Conflict
    # WHEN it is called
    response = client.get("/errors/6")

    # THEN no Retry-After header is sent
    assert "retry-after" not in response.headers


# ----------------------------------------------------------------------------- request validation


def test_body_validation_names_each_offending_field(client: TestClient) -> None:
    # GIVEN a body with a too-long name and an age that is not a number
    # WHEN it is posted
    response = client.post("/leads", json={"name": "x" * 21, "age": "old"})

    # THEN a 422 problem lists both fields by their location
    body = _assert_problem(response, 422, "invalid-input")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.name", "body.age"}
    assert all(error["message"] for error in body["errors"])
    assert "body.name" in body["detail"]
    assert "body.age" in body["detail"]


def test_missing_field_is_named(client: TestClient) -> None:
    # GIVEN a body without the required age
    # WHEN it is posted
    body = _assert_problem(client.post("/leads", json={"name": "Ana"}), 422, "invalid-input")

    # THEN the missing field is named
    assert [error["field"] for error in body["errors"]] == ["body.age"]


def test_invalid_path_parameter_is_named(client: TestClient) -> None:
    # GIVEN a path parameter that is not an integer
    # WHEN the route is called
    body = _assert_problem(client.get("/errors/abc"), 422, "invalid-input")

    # THEN the path parameter is named
    assert [error["field"] for error in body["errors"]] == ["path.index"]


def test_malformed_json_body_is_a_400_problem(client: TestClient) -> None:
    # GIVEN a body that is not JSON at all
    # WHEN it is posted as JSON
    response = client.post("/leads", content=b'{"name": "Ana",', headers={"content-type": "application/json"})

    # THEN it is a malformed request about the body, not a field error
    body = _assert_problem(response, 400, "malformed-request")
    assert "body" in body["detail"]
    assert "JSON" in body["detail"]


def test_valid_body_passes_through(client: TestClient) -> None:
    # GIVEN a valid body
    # WHEN it is posted
    response = client.post("/leads", json={"name": "Ana", "age": 30})

    # THEN the route answers normally, as plain JSON
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"name": "Ana", "age": 30}


# ----------------------------------------------------------------------------- routing errors


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    # GIVEN no route at the path
    # WHEN it is called
    # THEN a 404 problem is returned
    _assert_problem(client.get("/nowhere"), 404, "not-found")


def test_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    # GIVEN a GET-only route
    # WHEN it is called with DELETE
    response = client.delete("/ok")

    # THEN a 405 problem keeps the Allow header
    _assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET"


# ----------------------------------------------------------------------------- bugs


def test_unexpected_exception_is_an_opaque_500_problem(client: TestClient) -> None:
    # GIVEN a route with a bug whose message holds a secret
    # WHEN it is called
    response = client.get("/bug")

    # THEN the caller gets a generic problem: no traceback, no exception text, no secret
    body = _assert_problem(response, 500, "internal-error")
    assert body["detail"] == "an unexpected error occurred"
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert "Zq8w3Kp1" not in response.text


def test_app_keeps_serving_after_a_bug(client: TestClient) -> None:
    # GIVEN a request that hit a bug
    client.get("/bug")

    # WHEN the next request arrives
    response = client.get("/ok")

    # THEN it is served normally
    assert response.status_code == 200


# ----------------------------------------------------------------------------- request id


def test_api_gateway_request_id_is_echoed(app: FastAPI) -> None:
    # GIVEN an invocation from API Gateway, as Mangum presents it
    event = http_event("GET", "/ok")
    wrapped = LambdaScope(app, event, FakeLambdaContext())

    # WHEN it is served
    with TestClient(wrapped) as client:
        response = client.get("/ok")

    # THEN the gateway's request id comes back to the caller
    assert response.headers["x-request-id"] == event["requestContext"]["requestId"]


def test_lambda_request_id_is_used_without_a_gateway_id(app: FastAPI) -> None:
    # GIVEN a direct invocation (no API Gateway request context)
    context = FakeLambdaContext()
    wrapped = LambdaScope(app, None, context)

    # WHEN it is served
    with TestClient(wrapped) as client:
        response = client.get("/ok")

    # THEN the Lambda request id is returned instead
    assert response.headers["x-request-id"] == context.aws_request_id


def test_request_id_is_sent_on_problem_responses(app: FastAPI) -> None:
    # GIVEN an invocation from API Gateway that hits a bug
    event = http_event("GET", "/bug")
    wrapped = LambdaScope(app, event, FakeLambdaContext())

    # WHEN it is served
    with TestClient(wrapped) as client:
        response = client.get("/bug")

    # THEN the 500 still carries the id the caller can quote to support
    _assert_problem(response, 500, "internal-error")
    assert response.headers["x-request-id"] == event["requestContext"]["requestId"]
    assert response.headers.get_list("x-request-id") == [event["requestContext"]["requestId"]]
