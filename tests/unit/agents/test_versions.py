"""If-Match / expected_version: which configuration version an update expects."""

from __future__ import annotations

import pytest

from shared.agents.versions import etag, expected_version
from shared.errors import InvalidInput


@pytest.mark.parametrize(("if_match", "expected"), [('"3"', 3), ("3", 3), ('W/"3"', 3), (" *", None), (None, None)])
def test_if_match_names_a_version(if_match: str | None, expected: int | None) -> None:
    assert expected_version(None, if_match) == expected


def test_the_etag_round_trips() -> None:
    assert expected_version(None, etag(12)) == 12


def test_the_body_is_used_without_a_header() -> None:
    assert expected_version(4, None) == 4


@pytest.mark.parametrize("if_match", ['"abc"', '"0"', '"1", "2"', ""])
def test_a_malformed_if_match_is_invalid(if_match: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        expected_version(None, if_match)
    assert exc.value.errors[0].field == "header.if-match"


def test_header_and_body_must_agree() -> None:
    with pytest.raises(InvalidInput) as exc:
        expected_version(2, '"3"')
    assert exc.value.errors[0].field == "body.expected_version"
