"""One model turn for one queued lead message: load, reserve, call, apply, settle.

Workers only: this module imports litellm (through shared.llm.gateway).

Two database round trips on the happy path (``app.begin_turn``, ``app.finish_turn``).
Redelivery is harmless: a handled message is skipped, and a reply is unique per lead
message. A human who takes over while the model runs wins: ``finish_turn`` re-checks
under the conversation's row lock and then stores no AI reply.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.db import service_call
from shared.errors import AppError, BudgetExceeded
from shared.llm.gateway import complete
from shared.llm.tools import build_tools
from shared.observability import logger, metrics
from shared.observability.context import bind_organization
from shared.realtime import broadcast
from shared.turns import effects, prompt
from shared.turns.context import TurnContext
from shared.turns.pricing import alias_pricing
from shared.whatsapp.outbound import send_reply

HISTORY_LIMIT = 20
MAX_OUTPUT_TOKENS = 512


@dataclass(frozen=True)
class TurnResult:
    """What happened to one queued message."""

    status: str
    reply_id: uuid.UUID | None = None


async def run_turn(message_id: uuid.UUID) -> TurnResult:
    """Answer the lead message ``message_id`` (and any other unanswered ones before it)."""
    row = await service_call(
        "select app.begin_turn(%s, %s, %s, %s::jsonb) as turn",
        (message_id, HISTORY_LIMIT, MAX_OUTPUT_TOKENS, json.dumps(alias_pricing())),
    )
    turn = row["turn"] if row else {"status": "missing"}
    if turn["status"] not in ("ok", "budget_exhausted"):
        return TurnResult(turn["status"])  # missing, done (a redelivery) or not_bot (a human has it)
    ctx = TurnContext.from_row(turn)
    bind_organization(ctx.organization_id)
    if ctx.status == "budget_exhausted":
        return await _budget_exhausted(ctx, message_id)
    return await _answer(ctx, message_id)


async def _answer(ctx: TurnContext, message_id: uuid.UUID) -> TurnResult:
    assert ctx.alias is not None
    typing = asyncio.create_task(broadcast(ctx.conversation_id, "typing", {"typing": True}))
    try:
        completion = await complete(
            ctx.alias,
            prompt.messages(ctx),
            tools=build_tools(ctx.fields),
            temperature=float(ctx.config.get("temperature", 0.3)),
            max_tokens=MAX_OUTPUT_TOKENS,
            metadata={"organization_id": str(ctx.organization_id), "conversation_id": str(ctx.conversation_id)},
        )
    except AppError as exc:
        await _fail(ctx, message_id, exc)
        if exc.status < 500:
            return TurnResult("failed")  # a request the provider refuses will not succeed on a retry
        raise  # the queue redelivers, then moves the message to the DLQ
    finally:
        await typing
    calls = [effects.Call(c.name, c.arguments) for c in completion.tool_calls]
    outcome = effects.plan(ctx, completion.content, calls)
    usage = {
        "model": completion.model,
        "alias": completion.alias,
        "tokens_in": completion.tokens_in,
        "tokens_out": completion.tokens_out,
        "latency_ms": completion.latency_ms,
        "fallback_used": completion.fallback_used,
    }
    reply = None
    if outcome.reply:
        reply = {
            "content": outcome.reply,
            "model": completion.model,
            "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out,
            "latency_ms": completion.latency_ms,
        }
    result = await _finish(ctx, message_id, outcome, reply=reply, usage=usage, cost=completion.cost_usd)
    metrics.add_metric(name="TurnCostUSD", unit="Count", value=float(completion.cost_usd))
    if completion.fallback_used:
        metrics.add_metric(name="ModelFallback", unit="Count", value=1)
    return result


async def _budget_exhausted(ctx: TurnContext, message_id: uuid.UUID) -> TurnResult:
    """No model call: hand off to a human, or refuse with a problem the message row keeps."""
    action = ctx.config.get("on_budget_exhausted", "fallback")
    logger.warning("budget exhausted", extra={"action": action})
    metrics.add_metric(name="BudgetExhausted", unit="Count", value=1)
    if action == "handoff":
        outcome = effects.plan(ctx, "", [effects.Call("request_handoff", {"reason": "budget_exhausted"})])
        return await _finish(ctx, message_id, outcome, reply=_canned(outcome), usage=None, cost=Decimal(0))
    problem = BudgetExceeded("the organization's model budget for this month is used up")
    await _finish(ctx, message_id, effects.Outcome(reply=None), reply=None, usage=None, cost=Decimal(0), error=problem)
    return TurnResult("refused")


def _canned(outcome: effects.Outcome) -> dict[str, Any] | None:
    if not outcome.reply:
        return None
    return {"content": outcome.reply, "model": "none", "tokens_in": 0, "tokens_out": 0, "latency_ms": 0}


async def _finish(
    ctx: TurnContext,
    message_id: uuid.UUID,
    outcome: effects.Outcome,
    *,
    reply: dict[str, Any] | None,
    usage: dict[str, Any] | None,
    cost: Decimal,
    error: AppError | None = None,
) -> TurnResult:
    turn = {
        "organization_id": str(ctx.organization_id),
        "conversation_id": str(ctx.conversation_id),
        "message_id": str(message_id),
        "pending": [str(p) for p in ctx.pending],
        "reservation_id": str(ctx.reservation_id) if ctx.reservation_id else None,
        "cost_usd": str(cost),
        "reply": reply,
        "usage": usage,
        "message_error": _problem(error) if error else None,
        **outcome.as_json(),
    }
    row = await service_call("select app.finish_turn(%s::jsonb) as result", (json.dumps(turn, default=str),))
    result = (row or {}).get("result") or {}
    reply_id = result.get("reply_id")
    if result.get("status") == "taken_over":
        logger.info("a human took over during the turn; no AI reply")
    turn_result = TurnResult(str(result.get("status", "unknown")), uuid.UUID(reply_id) if reply_id else None)
    if ctx.conversation.get("channel") == "whatsapp" and turn_result.reply_id:
        await send_reply(ctx.conversation_id, turn_result.reply_id)  # stored queued; WhatsApp needs it sent
    return turn_result


async def _fail(ctx: TurnContext, message_id: uuid.UUID, exc: AppError) -> None:
    """Release the reservation and mark the message failed; the queue will redeliver it."""
    await service_call(
        "select app.fail_turn(%s, %s, %s::jsonb)",
        (message_id, ctx.reservation_id, json.dumps(_problem(exc))),
    )


def _problem(exc: AppError) -> dict[str, Any]:
    return {"type": f"/problems/{exc.code}", "title": exc.title, "status": exc.status, "detail": exc.detail}
