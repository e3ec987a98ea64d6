"""Optimistic concurrency: an agent's ETag is its configuration version, quoted (``"3"``)."""

from __future__ import annotations

import re

from shared.errors import InvalidInput

_ETAG = re.compile(r'^(?:W/)?"?([1-9][0-9]{0,8})"?$')


def etag(current_version: int) -> str:
    """The ``ETag`` header of an agent at ``current_version``."""
    return f'"{current_version}"'


def expected_version(body_value: int | None, if_match: str | None) -> int | None:
    """The version the caller expects, from ``If-Match`` or ``expected_version``; None when any will do."""
    if if_match is None or if_match.strip() == "*":
        return body_value
    match = _ETAG.fullmatch(if_match.strip())
    if match is None:
        raise InvalidInput.for_field("header.if-match", 'must be the ETag of the agent, e.g. "3"')
    version = int(match.group(1))
    if body_value is not None and body_value != version:
        raise InvalidInput.for_field("body.expected_version", "disagrees with the If-Match header")
    return version
