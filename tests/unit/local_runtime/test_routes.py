"""Route matching from serverless.yml, as API Gateway does it."""

from __future__ import annotations

from local_runtime.gateway.routes import routes

CONFIG = {
    "functions": {
        "list": {"handler": "f/list/handler.handler", "events": [{"httpApi": {"method": "GET", "path": "/items"}}]},
        "get": {"handler": "f/get/handler.handler", "events": [{"httpApi": {"method": "GET", "path": "/items/{id}"}}]},
        "mine": {
            "handler": "f/mine/handler.handler",
            "events": [{"httpApi": {"method": "GET", "path": "/items/mine"}}],
        },
        "proxy": {"handler": "f/p/handler.handler", "events": [{"httpApi": {"method": "*", "path": "/files/{key+}"}}]},
        "worker": {"handler": "f/w/handler.handler", "events": [{"sqs": {"arn": "x"}}]},
    }
}


def _match(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route in routes(CONFIG):
        params = route.match(method, path)
        if params is not None:
            return route.function, params
    return None


def test_static_segment_beats_a_parameter() -> None:
    # given /items/mine and /items/{id} / when /items/mine is requested / then the static route wins
    assert _match("GET", "/items/mine") == ("mine", {})


def test_path_parameters_are_extracted() -> None:
    # given /items/{id} / when /items/42 is requested / then id is captured
    assert _match("GET", "/items/42") == ("get", {"id": "42"})


def test_method_must_match() -> None:
    # given only GET /items / when POST /items is requested / then nothing matches
    assert _match("POST", "/items") is None


def test_greedy_parameter_spans_segments_and_any_method_matches() -> None:
    # given ANY /files/{key+} / when a nested path is deleted / then key holds the whole rest
    assert _match("DELETE", "/files/a/b/c.txt") == ("proxy", {"key": "a/b/c.txt"})


def test_parameter_does_not_span_segments() -> None:
    # given /items/{id} / when /items/1/extra is requested / then it does not match
    assert _match("GET", "/items/1/extra") is None


def test_non_http_events_are_not_routes() -> None:
    # given a queue worker / then it has no route
    assert {r.function for r in routes(CONFIG)} == {"list", "get", "mine", "proxy"}
