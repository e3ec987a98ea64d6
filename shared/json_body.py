"""The one way a request or webhook body becomes JSON: with size and nesting limits, never a 500.

``json.loads`` recurses once per nesting level, so a 5,000-level body raises ``RecursionError``;
``check`` measures the depth first with a flat, linear scan (no parser, no recursion).
Numbers that are not finite (``1e999``, ``NaN``) and integers beyond Python's digit limit
are refused too: Postgres' jsonb rejects the first, and the second raises inside a handler.
"""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate, repeat
from typing import Any

from shared.errors import MalformedRequest, PayloadTooLarge

MAX_BYTES = 1_048_576  # API Gateway allows 10 MB; nothing we accept comes near 1 MiB
MAX_DEPTH = 32
# A string literal, unrolled so that matching is linear; an unterminated one runs to the end
# (so no quote is tried twice: a pattern that needed the closing quote would be quadratic).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # an opening bracket +1, a closing one -1 (after -1)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def max_depth(body: bytes) -> int:
    """How deep ``body``'s brackets nest outside string literals: a flat scan, in C loops."""
    steps = _STRING.sub(b"", body).translate(_STEP, _NOT_BRACKETS)
    return max(accumulate(map(operator.sub, steps, repeat(1))), default=0)


def check(body: bytes, *, field: str = "body", max_bytes: int = MAX_BYTES, depth_limit: int = MAX_DEPTH) -> None:
    """Raise 413 when ``body`` is longer than ``max_bytes``, 400 when it nests deeper than ``depth_limit``."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"{field} is larger than {max_bytes} bytes")
    if max_depth(body) > depth_limit:
        raise MalformedRequest(f"{field} nests deeper than {depth_limit} levels")


def check_request(body: bytes, content_type: str) -> None:
    """``check``, and for a JSON (or untyped) body, that it is UTF-8 (RFC 8259): before any parser runs."""
    check(body)
    media = content_type.split(";")[0].strip().lower()
    if body and (not media or media == "application/json" or media.endswith("+json")):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRequest(f"body is not valid UTF-8 (byte {exc.start})") from exc


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(body: bytes | str, *, field: str = "body") -> Any:
    """``body`` as JSON within the limits; 400 (naming ``field``) when it is not, 413 when too large."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    check(raw, field=field)
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedRequest(f"{field} is not valid JSON") from exc
