"""The model call with the least Router machinery that keeps the Router's guarantees.

``Router.acompletion`` wraps every call in its fallback and retry loops (about 2 ms a call on the
worker's path). The happy path does not need them: it is one attempt at the alias's deployment.
So the first attempt is the Router's own single-attempt function (``_acompletion``: deployment
chosen among those not cooling down, the deployment's params, failure counting for cooldowns),
called directly. If it fails, the whole ``Router.acompletion`` takes over with that failure
replayed as its first attempt, so retries, fallbacks and cooldowns run exactly as configured:
no attempt is added and none is skipped.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from shared.llm.sdk import Router

# The failure of this request's direct attempt, until the Router's retry loop has seen it. Each
# turn runs in its own task, so concurrent turns never see each other's.
_FAILED_FIRST_ATTEMPT: ContextVar[BaseException | None] = ContextVar("failed_first_attempt", default=None)


_LIMITS = ("tpm", "rpm", "itpm", "otpm")


class DirectFirstRouter(Router):
    """A Router whose single-attempt function first replays a direct attempt's failure, once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Usage is counted per deployment only to enforce tpm/rpm limits; LiteLLM builds the deployment's
        # model and looks up its model info before finding there is none (~1 ms a call).
        self.counts_usage = any(
            key in part
            for deployment in self.model_list
            for part in (deployment, deployment.get("litellm_params") or {}, deployment.get("model_info") or {})
            for key in _LIMITS
        )

    async def _increment_deployment_usage(self, **kwargs: Any) -> str | None:
        """The success callback's tpm/rpm count, skipped when no deployment has a limit to count against.

        LiteLLM runs it after every success and copies the deployment's model info before finding no limit
        (~0.5 ms a turn); the success count cooldowns need is kept (the callback records it before this).
        """
        if not self.counts_usage:
            return None
        result: str | None = await super()._increment_deployment_usage(**kwargs)
        return result

    async def _acompletion(self, model: str, messages: list[dict[str, str]], **kwargs: Any) -> Any:
        failure = _FAILED_FIRST_ATTEMPT.get()
        if failure is not None:
            _FAILED_FIRST_ATTEMPT.set(None)
            raise failure
        return await super()._acompletion(model, messages, **kwargs)


async def acompletion(router: Router, model: str, messages: list[Any], **kwargs: Any) -> Any:
    """``router.acompletion(model, messages, **kwargs)``, one attempt first without the retry loops."""
    if not isinstance(router, DirectFirstRouter):
        return await router.acompletion(model=model, messages=messages, **kwargs)
    direct = {**kwargs, "metadata": dict(kwargs.get("metadata") or {}), "model": model, "messages": messages}
    router._update_kwargs_before_fallbacks(model=model, kwargs=direct)
    try:
        if router.counts_usage:
            return await router.make_call(router._acompletion, **direct)
        response = await router._acompletion(**direct)  # make_call, less the usage count no limit reads
        return await router.set_response_headers(response=response, model_group=model, request_kwargs=direct)
    except Exception as exc:  # any failure: the Router decides whether to retry, fall back or give up
        token = _FAILED_FIRST_ATTEMPT.set(exc)
        try:
            return await router.acompletion(model=model, messages=messages, **kwargs)
        finally:
            _FAILED_FIRST_ATTEMPT.reset(token)
