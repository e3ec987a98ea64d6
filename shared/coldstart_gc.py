"""The cyclic garbage collector paused while a Lambda container imports its code, and what it imported frozen.

Importing a function's code (FastAPI, pydantic models, the X-Ray SDK, ``shared``) allocates a few
hundred thousand objects that live as long as the container, and almost no garbage. The
collector, run every 700 allocations, walks them over and over, and once the heap has grown
enough a full collection walks all of it: tens of milliseconds of init that free nothing. So
``shared`` pauses it when first imported in Lambda, and ``resume`` (once an HTTP function's first
request is answered, since that request builds the container's clients and imports their
libraries; or when a worker's handler is wrapped) moves everything allocated so far into the
permanent generation (``gc.freeze``) and turns the collector back on: later collections skip
those objects too. The price: a reference cycle the first request dropped is frozen with the
rest and never freed (bounded: one request's). Outside Lambda (tests, the local runtime)
nothing changes.
"""

from __future__ import annotations

import gc
import os

_paused = False


def in_lambda() -> bool:
    """True in Lambda's Python runtime (and the artefact's stand-in for it), false in tests and locally."""
    return os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_") and bool(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    )


def pause() -> None:
    """Stop automatic collection for the rest of init (in Lambda only; once)."""
    global _paused
    if not _paused and in_lambda() and gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze what init allocated and collect automatically again; nothing when ``pause`` did not pause."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
