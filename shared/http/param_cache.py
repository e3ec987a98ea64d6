"""FastAPI's per-request "is this parameter a sequence?" check, answered once per annotation.

For every query, header and cookie parameter of every request, FastAPI walks the parameter's
annotation (``typing.get_origin``, ``issubclass`` over every union member) to decide between
``getlist`` and ``get``; the annotation never changes after the route is built. On a warm read
this is about a sixth of the Python calls of the request. The answer is kept per annotation
object (held, so its id is never reused) and FastAPI's own function computes it the first time.
"""

from __future__ import annotations

from collections.abc import Callable

import fastapi.dependencies.utils as _utils

_ORIGINAL: Callable[[object], bool] | None = getattr(_utils, "field_annotation_is_sequence", None)
_ANSWERS: dict[int, tuple[object, bool]] = {}


def _is_sequence(annotation: object) -> bool:
    known = _ANSWERS.get(id(annotation))
    if known is None or known[0] is not annotation:
        assert _ORIGINAL is not None
        known = _ANSWERS[id(annotation)] = (annotation, _ORIGINAL(annotation))
    return known[1]


def install() -> bool:
    """Answer FastAPI's check from memory from now on; False when this FastAPI has no such check."""
    if _ORIGINAL is None:
        return False
    setattr(_utils, "field_annotation_is_sequence", _is_sequence)  # noqa: B010 -- a private name of FastAPI's
    return True
