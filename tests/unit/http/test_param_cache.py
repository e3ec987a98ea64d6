"""shared.http.param_cache: FastAPI's sequence check answered from memory, with FastAPI's own answers."""

from __future__ import annotations

import uuid
from typing import Annotated

import fastapi.dependencies.utils as fastapi_utils
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient

from shared.http import create_app, param_cache

ANNOTATIONS: list[object] = [
    str,
    int,
    uuid.UUID,
    str | None,
    list[str],
    list[int] | None,
    set[str],
    tuple[int, ...],
    Annotated[list[str], "meta"],
    dict[str, str],
    bytes,
]


def test_every_app_answers_the_check_from_memory_with_fastapis_answers() -> None:
    # given the module every HTTP function starts from, imported
    assert create_app is not None
    # then FastAPI's check is the memoized one, and it agrees with FastAPI's own on every shape, twice
    assert fastapi_utils.field_annotation_is_sequence is param_cache._is_sequence
    original = param_cache._ORIGINAL
    assert original is not None
    for _ in range(2):
        assert [param_cache._is_sequence(a) for a in ANNOTATIONS] == [original(a) for a in ANNOTATIONS]
    assert [param_cache._is_sequence(a) for a in ANNOTATIONS] == [
        False, False, False, False, True, True, True, True, True, False, False
    ]  # fmt: skip


def test_a_repeated_query_parameter_still_arrives_as_a_list() -> None:
    # given a route with a list and a scalar query parameter, after the check is memoized
    assert param_cache.install()
    app = FastAPI()

    @app.get("/items")
    async def items(tag: Annotated[list[str], Query()], limit: int = 5) -> dict[str, object]:
        return {"tag": tag, "limit": limit}

    client = TestClient(app)
    # when it is asked twice with repeated and single values
    first = client.get("/items?tag=a&tag=b&limit=2").json()
    second = client.get("/items?tag=c").json()
    # then each call read every value of the list and the scalar as one value
    assert first == {"tag": ["a", "b"], "limit": 2}
    assert second == {"tag": ["c"], "limit": 5}
