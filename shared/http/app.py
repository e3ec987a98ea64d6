"""``create_app``: the FastAPI app every HTTP function starts from."""

from __future__ import annotations

from fastapi import FastAPI

from shared.http import param_cache, problems
from shared.http.middleware import BodyLimitMiddleware, InvocationMiddleware
from shared.observability import get_tracer
from shared.settings import require_used_secrets

API_VERSION = "0.1.0"
param_cache.install()


def create_app(title: str) -> FastAPI:
    """An app with settings validated, problem+json errors, body limits and per-invocation log context.

    The function adds only its own routes. Docs are served by the local gateway,
    which merges every function's schema; a deployed function exposes none.
    """
    # Fail the cold start, not the first request, on bad configuration or a secret this function lacks.
    require_used_secrets()
    get_tracer()  # load the X-Ray SDK during init (when tracing is on), not in the first request
    app = FastAPI(title=title, version=API_VERSION, docs_url=None, redoc_url=None, openapi_url=None)
    problems.install(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(InvocationMiddleware)  # added last, so outermost
    return app
