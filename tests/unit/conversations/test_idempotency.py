"""The Idempotency-Key header, the request fingerprint, and how a replay is rendered."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.errors import IdempotentReplay
from shared.http import problems
from shared.idempotency import IdempotencyKey, IdempotencyKeyHeader, request_hash


def test_json_bodies_hash_by_value() -> None:
    # given the same JSON written two ways / then one fingerprint; another path or body differs
    a = request_hash("POST", "/conversations/1/messages", b'{"content": "Oi", "x": [1, 2]}')
    b = request_hash("POST", "/conversations/1/messages", b'{ "x":[1,2],"content":"Oi" }')
    assert a == b
    assert a != request_hash("POST", "/conversations/2/messages", b'{"content": "Oi", "x": [1, 2]}')
    assert a != request_hash("POST", "/conversations/1/messages", b'{"content": "Tchau", "x": [1, 2]}')


def test_a_non_json_body_hashes_as_bytes() -> None:
    assert request_hash("POST", "/x", b"not json") != request_hash("POST", "/x", b"not json!")
    assert request_hash("POST", "/x", b"") == request_hash("POST", "/x", b"")


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    problems.install(app)

    @app.post("/echo", status_code=201)
    async def echo(key: IdempotencyKeyHeader) -> dict[str, str | None]:
        if key is not None and key.key == "replay-me":
            raise IdempotentReplay(202, {"id": "first", "status": "queued"})
        return {"key": key.key if key else None}

    return TestClient(app)


def test_no_header_means_no_key(client: TestClient) -> None:
    assert client.post("/echo", json={}).json() == {"key": None}


@pytest.mark.parametrize("value", [b"x" * 256, b"tab\there", "acentuação".encode()])
def test_a_malformed_key_is_a_problem_naming_the_header(client: TestClient, value: bytes) -> None:
    response = client.post("/echo", json={}, headers={b"Idempotency-Key": value})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["header.Idempotency-Key"]


def test_a_replay_is_sent_as_stored(client: TestClient) -> None:
    # given a route that finds the key already answered / then the stored status and body, marked
    response = client.post("/echo", json={}, headers={"Idempotency-Key": "replay-me"})
    assert (response.status_code, response.json()) == (202, {"id": "first", "status": "queued"})
    assert response.headers["idempotent-replayed"] == "true"


def test_the_key_carries_the_request_fingerprint() -> None:
    key = IdempotencyKey("k", request_hash("POST", "/p", b"{}"))
    assert len(key.request_hash) == 64
