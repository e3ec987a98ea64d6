"""The local gateway: serverless.yml routes, API Gateway v2 events, authorizer, merged OpenAPI."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.support.tokens import hs256_token

pytestmark = pytest.mark.e2e


@pytest.fixture
def token(database_url: str, jwt_secret: str) -> Callable[[], str]:
    def _make() -> str:
        user_id = uuid.uuid4()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, f"{user_id.hex}@example.com"))
        return hs256_token(jwt_secret, user_id)

    return _make


def test_health_is_public_and_reports_dependencies(gateway: TestClient) -> None:
    # when /health is requested without a token
    response = gateway.get("/health")
    # then the function answers with every check ok
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert response.headers["x-request-id"]


def test_authorizer_rejects_missing_token_like_api_gateway(gateway: TestClient) -> None:
    # when a protected route is called without a token / then API Gateway's own 401 body
    response = gateway.get("/organizations")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_authorizer_rejects_a_forged_token(gateway: TestClient) -> None:
    # given a token signed with another secret
    forged = hs256_token("not-the-project-secret-" * 3, uuid.uuid4())
    # then 401
    assert gateway.get("/organizations", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_create_then_list_through_the_gateway(gateway: TestClient, token: Callable[[], str]) -> None:
    # given a user
    auth = {"Authorization": f"Bearer {token()}"}
    # when they create an organization and list theirs
    created = gateway.post("/organizations", json={"name": "Gateway Org"}, headers=auth)
    listed = gateway.get("/organizations", headers=auth)
    # then the new organization is listed
    assert created.status_code == 201, created.text
    assert [o["id"] for o in listed.json()["data"]] == [created.json()["id"]]


def test_path_parameters_reach_the_function(gateway: TestClient, token: Callable[[], str]) -> None:
    # given an organization I own
    auth = {"Authorization": f"Bearer {token()}"}
    org = gateway.post("/organizations", json={"name": "Params"}, headers=auth).json()
    # when I add a member under /organizations/{organization_id}/members
    response = gateway.post(
        f"/organizations/{org['id']}/members", json={"email": "p@example.com", "role": "viewer"}, headers=auth
    )
    # then the function saw the id from the path
    assert response.status_code == 201, response.text


def test_unknown_route_is_api_gateway_not_found(gateway: TestClient) -> None:
    # when no route in serverless.yml matches / then API Gateway's 404 body
    response = gateway.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_bad_input_is_problem_json_naming_the_field(gateway: TestClient, token: Callable[[], str]) -> None:
    # when the body misses a required field
    response = gateway.post("/organizations", json={}, headers={"Authorization": f"Bearer {token()}"})
    # then 422 problem+json naming body.name
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.name"


def test_merged_openapi_lists_every_route(gateway: TestClient) -> None:
    # when the merged document is fetched
    document = gateway.get("/openapi.json").json()
    # then every serverless.yml route is in it, protected ones with the JWT scheme
    from local_runtime.gateway.routes import routes

    for route in routes():
        operation = document["paths"][route.path][route.method.lower()]
        assert ("security" in operation) == bool(route.authorizer), route.route_key
    assert gateway.get("/docs").status_code == 200
