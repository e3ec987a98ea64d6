"""shared.http.param_cache: FastAPI's per-parameter checks answered from memory, with FastAPI's own answers."""

from __future__ import annotations

import uuid
from typing import Annotated

import fastapi.dependencies.utils as fastapi_utils
from fastapi import Depends, FastAPI, Header, Query, Security
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from fastapi.testclient import TestClient
from pydantic import Json

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


def test_fastapi_still_has_every_per_field_helper_the_cache_answers_for() -> None:
    # given this FastAPI's dependency utilities
    # when the caches are installed
    installed = param_cache.install()
    # then every private helper they replace exists (a FastAPI that renamed one fails here, not in production)
    assert installed
    assert set(param_cache._ORIGINALS) == set(param_cache._PER_FIELD)
    for name in param_cache._PER_FIELD:
        assert getattr(fastapi_utils, name) is param_cache._REMEMBERED[name]


def test_the_remembered_per_field_answers_are_fastapis_own() -> None:
    # given a route with path, query, list, header and Json parameters
    assert param_cache.install()
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def things(
        thing_id: uuid.UUID,
        tag: Annotated[list[str], Query()],
        x_trace: Annotated[str | None, Header()] = None,
        limit: Annotated[int, Query(alias="max", ge=1)] = 5,
        filt: Annotated[Json[list[int]] | None, Query()] = None,
        raw: Annotated[Json[list[int]], Query()] = "[]",  # type: ignore[assignment]
    ) -> dict[str, object]:
        return {}

    route = next(r for r in app.routes if isinstance(r, APIRoute))
    fields = [*route.dependant.path_params, *route.dependant.query_params, *route.dependant.header_params]
    # when each helper is asked about every field, twice, with and without underscore conversion
    # then the remembered answers are exactly what FastAPI's own helpers answer
    for _ in range(2):
        for field in fields:
            for name in ("_get_param_model", "_is_json_field"):
                assert param_cache._REMEMBERED[name](field) == param_cache._ORIGINALS[name](field)
            aliases = param_cache._REMEMBERED["_get_param_aliases"]
            original = param_cache._ORIGINALS["_get_param_aliases"]
            assert aliases(field) == original(field)
            assert aliases(field, convert_underscores=True) == original(field, convert_underscores=True)
    header = next(f for f in fields if f.name == "x_trace")
    assert param_cache._REMEMBERED["_get_param_aliases"](header, convert_underscores=True)[0][1] == "x-trace"


def test_aliases_headers_and_json_parameters_still_arrive_after_caching() -> None:
    # given a route with an aliased query parameter, a header and a Json query parameter
    assert param_cache.install()
    app = FastAPI()

    @app.get("/search")
    async def search(
        filt: Annotated[Json[list[int]], Query()],
        limit: Annotated[int, Query(alias="max")] = 5,
        x_trace: Annotated[str | None, Header()] = None,
    ) -> dict[str, object]:
        return {"limit": limit, "trace": x_trace, "filt": filt}

    client = TestClient(app)
    # when it is called twice with different values, and once with a bad one
    first = client.get("/search?max=2&filt=[1,2]", headers={"x-trace": "t1"}).json()
    second = client.get("/search?filt=[]").json()
    bad = client.get("/search?max=zero&filt=[]")
    # then every value arrived under its alias, defaults applied, and the bad one names its alias
    assert first == {"limit": 2, "trace": "t1", "filt": [1, 2]}
    assert second == {"limit": 5, "trace": None, "filt": []}
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "max"]


_CALLS: list[str] = []


async def _shared() -> int:
    _CALLS.append("shared")
    return len(_CALLS)


async def _left(value: Annotated[int, Depends(_shared)]) -> int:
    return value


async def _right(value: Annotated[int, Depends(_shared)]) -> int:
    return value


async def _scoped(scopes: SecurityScopes) -> str:
    _CALLS.append(scopes.scope_str)
    return scopes.scope_str


def test_a_shared_dependency_still_runs_once_per_request_and_scopes_still_tell_keys_apart() -> None:
    # given a dependency two others share, and a security dependency asked with two different scopes
    assert param_cache.install()
    assert fastapi_utils._get_cache_key is param_cache._cache_key
    calls = _CALLS
    calls.clear()
    app = FastAPI()

    @app.get("/deps")
    async def deps(
        a: Annotated[int, Depends(_left)],
        b: Annotated[int, Depends(_right)],
        read: Annotated[str, Security(_scoped, scopes=["read"])],
        write: Annotated[str, Security(_scoped, scopes=["write"])],
    ) -> dict[str, object]:
        return {"a": a, "b": b, "read": read, "write": write}

    client = TestClient(app)
    # when it is asked twice
    first = client.get("/deps").json()
    calls_in_first = list(calls)
    calls.clear()
    second = client.get("/deps").json()
    # then each request ran the shared dependency once, and the scoped one once per distinct scope set
    assert calls_in_first == calls == ["shared", "read", "write"]
    assert first == second == {"a": 1, "b": 1, "read": "read", "write": "write"}
