"""One model call through the LiteLLM Router: tool calls parsed, cost, latency and fallbacks reported.

Importing this module imports litellm (workers only); provider errors leave it as ``shared.errors``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import httpx
import openai

from shared.errors import InvalidInput, UpstreamUnavailable
from shared.llm import direct
from shared.llm.prices import deployment_price
from shared.llm.router import get_router
from shared.llm.sdk import ModelResponse, Router, RouterRateLimitError, RouterRateLimitErrorBasic, preload
from shared.observability import logger

if TYPE_CHECKING:
    from litellm.types.llms.openai import AllMessageValues

# litellm's exceptions subclass openai's; "no deployments available" is a RouterRateLimitError.
_REJECTED = (openai.BadRequestError, openai.UnprocessableEntityError)
_UNAVAILABLE = (openai.OpenAIError, RouterRateLimitError, RouterRateLimitErrorBasic, httpx.HTTPError, TimeoutError)
_PAYMENT_REQUIRED = 402
_COST_QUANTUM = Decimal("0.000000001")

preload()  # the worker imports this module during init: pay litellm's lazy imports there


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model made, its arguments decoded."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """A model's answer and what it cost."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    model: str
    alias: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    fallback_used: bool
    cost_usd: Decimal


async def complete(
    alias: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    temperature: float = 0.3,
    max_tokens: int = 512,
    metadata: Mapping[str, Any] | None = None,
    router: Router | None = None,
) -> Completion:
    """Ask the model behind ``alias`` (or its fallbacks); ``router`` defaults to the container's."""
    router = router or get_router()
    started = time.perf_counter()
    try:
        response = await direct.acompletion(
            router,
            alias,
            cast("list[AllMessageValues]", [dict(m) for m in messages]),
            tools=[dict(t) for t in tools] if tools else None,
            temperature=temperature,
            max_tokens=max_tokens,
            metadata=dict(metadata or {}),
        )
    except _REJECTED as exc:
        if getattr(exc, "status_code", None) == _PAYMENT_REQUIRED:  # out of provider credit: not our request
            raise UpstreamUnavailable(f"model alias {alias!r}: provider refused payment") from exc
        raise InvalidInput(f"model alias {alias!r}: the provider rejected the request ({type(exc).__name__})") from exc
    except _UNAVAILABLE as exc:
        raise UpstreamUnavailable(f"model alias {alias!r} is unavailable ({type(exc).__name__})") from exc
    latency_ms = round((time.perf_counter() - started) * 1000)
    if not isinstance(response, ModelResponse):
        raise UpstreamUnavailable(f"model alias {alias!r}: unexpected response {type(response).__name__}")
    return _completion(router, alias, response, latency_ms)


def _completion(router: Router, alias: str, response: ModelResponse, latency_ms: int) -> Completion:
    hidden: dict[str, Any] = getattr(response, "_hidden_params", None) or {}
    deployment = _deployment(router, hidden.get("model_id"))
    served_alias = deployment.get("model_name") if deployment else _model_group(hidden)
    usage = getattr(response, "usage", None)
    tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
    tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
    message = response.choices[0].message
    return Completion(
        content=str(message.content or ""),
        tool_calls=tuple(_tool_calls(message.tool_calls or [])),
        model=str(hidden.get("litellm_model_name") or response.model or alias),
        alias=alias,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        latency_ms=latency_ms,
        fallback_used=served_alias is not None and served_alias != alias,
        cost_usd=_cost(hidden.get("response_cost"), deployment, tokens_in, tokens_out),
    )


def _tool_calls(raw_calls: Sequence[Any]) -> list[ToolCall]:
    """Decode each call's JSON arguments; a call with malformed arguments is dropped, not fatal."""
    calls: list[ToolCall] = []
    for raw in raw_calls:
        function = getattr(raw, "function", None)
        name = getattr(function, "name", None)
        arguments = getattr(function, "arguments", None)
        try:
            decoded = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else arguments or {}
        except ValueError:
            decoded = None
        if not name or not isinstance(decoded, dict):
            logger.warning("dropped a malformed tool call", extra={"tool": name})
            continue
        calls.append(ToolCall(str(name), decoded))
    return calls


def _deployment(router: Router, model_id: Any) -> dict[str, Any] | None:
    """The ``model_list`` entry that answered (fallbacks included), found by its ``model_info.id``."""
    if model_id is None:
        return None
    return next((d for d in router.model_list if (d.get("model_info") or {}).get("id") == model_id), None)


def _model_group(hidden: Mapping[str, Any]) -> str | None:
    headers = hidden.get("additional_headers") or {}
    group = headers.get("x-litellm-model-group")
    return str(group) if group else None


def _cost(reported: Any, deployment: Mapping[str, Any] | None, tokens_in: int, tokens_out: int) -> Decimal:
    """LiteLLM's computed cost; else the deployment's per-token prices (a conservative default if unpriced)."""
    if reported is None:
        price_in, price_out = deployment_price(deployment or {})
        reported = tokens_in * price_in + tokens_out * price_out
    return Decimal(str(reported)).quantize(_COST_QUANTUM)
