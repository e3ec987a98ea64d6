"""The one body parser: limits on size and nesting, refusals that name the body, never an exception of its own."""

from __future__ import annotations

import pytest

from shared import json_body
from shared.errors import MalformedRequest, PayloadTooLarge


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[[[[", "b": "]]]"}', 1),  # brackets inside strings do not count
        (b'{"a": "say \\"[[[\\" ok", "b": [[]]}', 3),  # nor after escaped quotes
        (b"[" * 5000 + b"]" * 5000, 5000),
        (b'"unterminated [[[', 0),
    ],
)
def test_depth_is_measured_outside_strings(body: bytes, depth: int) -> None:
    assert json_body.max_depth(body) == depth


def test_escaped_quotes_by_the_million_are_scanned_in_one_pass() -> None:
    # given a string of a million escaped quotes (quadratic for a pattern that needs the closing quote)
    body = b'"' + b'\\"' * 500_000
    # when its depth is measured / then it completes, and finds no bracket
    assert json_body.max_depth(body) == 0


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        (b"[" * 33 + b"]" * 33, MalformedRequest, "nests deeper than 32"),
        (b'"' + b"a" * json_body.MAX_BYTES + b'"', PayloadTooLarge, "larger than"),
        (b'{"a": 1e999}', MalformedRequest, "not valid JSON"),
        (b'{"a": NaN}', MalformedRequest, "not valid JSON"),
        (b'{"a": ' + b"9" * 5000 + b"}", MalformedRequest, "not valid JSON"),
        (b'{"a": "\xff"}', MalformedRequest, "not valid JSON"),
        (b"{", MalformedRequest, "not valid JSON"),
    ],
)
def test_hostile_bodies_are_refused_naming_the_body(body: bytes, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=f"body .*{says}|body {says}"):
        json_body.parse(body)


def test_a_body_within_the_limits_parses() -> None:
    assert json_body.parse(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


def test_request_bodies_must_be_utf8_when_they_are_json() -> None:
    with pytest.raises(MalformedRequest, match="UTF-8"):
        json_body.check_request(b'{"a": "\xff"}', "application/json; charset=utf-8")
    json_body.check_request(b"\xff\xfe", "application/octet-stream")  # not ours to read
