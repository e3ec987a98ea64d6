"""FastAPI's per-request questions about a route's parameters, answered once per parameter.

For every query, header, cookie and path parameter of every request, FastAPI asks again things
that never change after the route is built: is the annotation a sequence (``getlist`` or
``get``), is the parameter a model of parameters, is it a ``Json`` field, under which names may
it arrive. On a warm read these are a large share of the request's Python calls. The answers are
kept per annotation or per field object (held, so its id is never reused), and FastAPI's own
functions compute each one the first time. A sub-dependency's cache key is kept per dependant the
same way. Bounded: dependency overrides (tests) build new fields per request, so the memory is
dropped when it fills.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastapi.dependencies.utils as _utils

_ORIGINAL: Callable[[object], bool] | None = getattr(_utils, "field_annotation_is_sequence", None)
# FastAPI's private per-field helpers this module answers from memory, by name.
_PER_FIELD = ("_get_param_model", "_is_json_field", "_get_param_aliases")
_ORIGINALS: dict[str, Callable[..., Any]] = {
    name: original for name in _PER_FIELD if callable(original := getattr(_utils, name, None))
}
_ANSWERS: dict[int, tuple[object, bool]] = {}
_FIELD_ANSWERS: dict[tuple[str, int, bool], tuple[object, Any]] = {}
_MAX_ANSWERS = 4096


def _is_sequence(annotation: object) -> bool:
    known = _ANSWERS.get(id(annotation))
    if known is None or known[0] is not annotation:
        assert _ORIGINAL is not None
        if len(_ANSWERS) >= _MAX_ANSWERS:
            _ANSWERS.clear()
        known = _ANSWERS[id(annotation)] = (annotation, _ORIGINAL(annotation))
    return known[1]


def _per_field(name: str) -> Callable[..., Any]:
    original = _ORIGINALS[name]

    def remembered(field: object, *, convert_underscores: bool = False) -> Any:
        key = (name, id(field), convert_underscores)
        known = _FIELD_ANSWERS.get(key)
        if known is None or known[0] is not field:
            # Only ``_get_param_aliases`` takes the keyword, and only FastAPI's header extraction passes it.
            answer = original(field, convert_underscores=True) if convert_underscores else original(field)
            if len(_FIELD_ANSWERS) >= _MAX_ANSWERS:
                _FIELD_ANSWERS.clear()
            known = _FIELD_ANSWERS[key] = (field, answer)
        return known[1]

    remembered.__name__ = remembered.__qualname__ = name
    remembered.__doc__ = original.__doc__
    return remembered


_REMEMBERED = {name: _per_field(name) for name in _ORIGINALS}

# A sub-dependency's cache key (its call, OAuth scopes and scope) depends on the dependant alone, which
# FastAPI builds with the route; the ``uses_scopes_cache`` it is given is only a per-request memo of the same.
_ORIGINAL_CACHE_KEY: Callable[..., Any] | None = getattr(_utils, "_get_cache_key", None)
_CACHE_KEYS: dict[int, tuple[object, Any]] = {}


def _cache_key(*, dependant: object, uses_scopes_cache: Any = None) -> Any:
    known = _CACHE_KEYS.get(id(dependant))
    if known is None or known[0] is not dependant:
        assert _ORIGINAL_CACHE_KEY is not None
        if len(_CACHE_KEYS) >= _MAX_ANSWERS:
            _CACHE_KEYS.clear()
        answer = _ORIGINAL_CACHE_KEY(dependant=dependant, uses_scopes_cache=uses_scopes_cache)
        known = _CACHE_KEYS[id(dependant)] = (dependant, answer)
    return known[1]


def install() -> bool:
    """Answer FastAPI's checks from memory from now on; False when this FastAPI lacks any of them."""
    for name, remembered in _REMEMBERED.items():
        setattr(_utils, name, remembered)
    if _ORIGINAL_CACHE_KEY is not None:
        setattr(_utils, "_get_cache_key", _cache_key)  # noqa: B010 -- a private name of FastAPI's
    if _ORIGINAL is None:
        return False
    setattr(_utils, "field_annotation_is_sequence", _is_sequence)  # noqa: B010 -- a private name of FastAPI's
    return len(_REMEMBERED) == len(_PER_FIELD) and _ORIGINAL_CACHE_KEY is not None
