"""One model turn for one queued lead message: load, reserve, call, apply, settle.

Workers only: this module imports litellm (through shared.llm.gateway).

Two database round trips on the happy path (``app.begin_turn``, ``app.finish_turn``); one
more only when the budget runs out and the agent falls back to a cheaper alias, and one retrieval
statement per knowledge lookup when the agent has a ready source (``shared.turns.knowledge``).
Redelivery is harmless: a handled message is skipped, and a reply is unique per lead
message. A human who takes over while the model runs wins: ``finish_turn`` re-checks
under the conversation's row lock and then stores no AI reply.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pydantic import TypeAdapter

from shared.agents.config import AgentConfig
from shared.db import service_call
from shared.errors import AppError, BudgetExceeded
from shared.followups import store as followups_store
from shared.llm.gateway import Completion, complete
from shared.llm.tools import build_tools
from shared.observability import logger, metrics
from shared.observability.context import bind_organization
from shared.turns import budget, effects, estimate, prompt
from shared.turns import knowledge as turn_knowledge
from shared.turns.context import TurnContext
from shared.turns.delivery import undeliverable
from shared.turns.outcome import Conversion, LeadEvent, LeadPatch, Problem, Reply, TurnOutcome, Usage
from shared.turns.pricing import alias_pricing
from shared.whatsapp.outbound import send_reply

HISTORY_LIMIT = 20
_DEFAULT_ALIAS = AgentConfig.model_fields["model"].default
_EVENTS = TypeAdapter(list[LeadEvent])


@dataclass(frozen=True)
class TurnResult:
    """What happened to one queued message."""

    status: str
    reply_id: uuid.UUID | None = None


async def run_turn(message_id: uuid.UUID, instruction: str | None = None) -> TurnResult:
    """Answer the lead message ``message_id`` (and any other unanswered ones before it).

    With ``instruction`` (a follow-up's model step, ``message_id`` its system message) the model is
    told what to write after the conversation so far.
    """
    row = await service_call(
        "select app.begin_turn(%s, %s, %s, %s::jsonb) as turn",
        (message_id, HISTORY_LIMIT, _DEFAULT_ALIAS, _coefficients_json()),
    )
    turn = row["turn"] if row else {"status": "missing"}
    if turn["status"] == "not_bot" and instruction is not None:
        await service_call(followups_store.STOP_UNANSWERED, (message_id,))  # a follow-up step's turn
    if turn["status"] not in ("ok", "budget_exhausted"):
        return TurnResult(turn["status"])  # missing, done (a redelivery) or not_bot (a human has it)
    ctx = TurnContext.model_validate(turn)
    bind_organization(ctx.organization_id)
    if instruction is not None and ctx.pending:
        # A follow-up step whose lead wrote while it was queued: no model call, the lead's own turn
        # answers; finish_turn stops the step (and re-checks a lead message that arrives later).
        return await _finish(ctx, message_id, effects.Outcome(reply=None), settle="release", stop="lead_replied")
    problem = undeliverable(ctx)
    if problem is not None:
        logger.info("reply undeliverable; no model call", extra={"reason": problem.type})
        metrics.add_metric(name="TurnUndeliverable", unit="Count", value=1)
        await _finish(ctx, message_id, effects.Outcome(reply=None), settle="release", error=problem)
        return TurnResult("undeliverable")
    if ctx.status == "budget_exhausted":
        return await _budget_exhausted(ctx, message_id, _coefficients(), instruction)
    return await _answer(ctx, message_id, instruction)


async def _answer(ctx: TurnContext, message_id: uuid.UUID, instruction: str | None = None) -> TurnResult:
    assert ctx.alias is not None
    # The typing event went out with app.begin_turn (realtime.send), in the turn's first round trip.
    try:
        answer = await _model_answer(ctx, instruction)
    except AppError as exc:
        await _fail(ctx, message_id, exc)
        if exc.status < 500:
            return TurnResult("failed")  # a request the provider refuses will not succeed on a retry
        raise  # the queue redelivers, then moves the message to the DLQ
    completion = answer.completion
    calls = [effects.Call(c.name, c.arguments) for c in answer.calls]
    outcome = effects.plan(ctx, answer.reply_text(ctx.language), calls)
    usage = Usage(
        model=completion.model,
        alias=completion.alias,
        tokens_in=completion.tokens_in,
        tokens_out=completion.tokens_out,
        latency_ms=completion.latency_ms,
        fallback_used=completion.fallback_used,
    )
    reply = None
    if outcome.reply:
        reply = Reply(
            content=outcome.reply,
            model=completion.model,
            tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out,
            latency_ms=completion.latency_ms,
            citations=answer.citations(),
        )
    cost = completion.cost_usd + answer.knowledge_cost()
    result = await _finish(ctx, message_id, outcome, reply=reply, usage=usage, cost=cost, knowledge=answer)
    metrics.add_metric(name="TurnCostUSD", unit="Count", value=float(completion.cost_usd))
    if completion.fallback_used:
        metrics.add_metric(name="ModelFallback", unit="Count", value=1)
    return result


async def _model_answer(ctx: TurnContext, instruction: str | None) -> turn_knowledge.Answer:
    """The model's answer; with the agent's knowledge (chunks, search_knowledge) when it has a ready source."""
    assert ctx.alias is not None
    alias = ctx.alias

    async def call(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        return await complete(
            alias,
            messages,
            tools=tools,
            temperature=ctx.config.temperature,
            max_tokens=estimate.MAX_OUTPUT_TOKENS,
            metadata={"organization_id": str(ctx.organization_id), "conversation_id": str(ctx.conversation_id)},
        )

    messages, tools = prompt.messages(ctx, instruction), build_tools(ctx.fields)
    question = turn_knowledge.question(ctx, instruction)
    found = await turn_knowledge.consult(ctx, question) if question is not None else None
    if found is None:
        completion = await call(messages, tools)
        return turn_knowledge.Answer(completion, list(completion.tool_calls), [])
    return await turn_knowledge.converse(ctx, found, messages, tools, call)


@lru_cache(maxsize=1)
def _coefficients() -> dict[str, estimate.Coefficients]:
    """Per alias, once per container: prices do not change while it is warm."""
    return estimate.coefficients(alias_pricing())


@lru_cache(maxsize=1)
def _coefficients_json() -> str:
    return json.dumps({alias: c.model_dump() for alias, c in _coefficients().items()})


async def _budget_exhausted(
    ctx: TurnContext,
    message_id: uuid.UUID,
    coefficients: dict[str, estimate.Coefficients],
    instruction: str | None = None,
) -> TurnResult:
    """The agent's alias does not fit: fall back, hand off, or refuse, as ``shared.turns.budget`` decides."""
    decision = budget.when_exhausted(ctx.config, follow_up=instruction is not None)
    if decision.action == "fallback" and decision.alias in coefficients:
        amount = estimate.reservation_usd(ctx.prompt_chars, coefficients[decision.alias])
        row = await service_call(
            "select app.reserve_turn_budget(%s, %s, %s, %s, %s) as id",
            (ctx.organization_id, ctx.conversation.agent_id, ctx.conversation_id, decision.alias, amount),
        )
        if row and row["id"]:
            update = {"alias": decision.alias, "reservation_id": row["id"], "status": "ok"}
            return await _answer(ctx.model_copy(update=update), message_id, instruction)
        decision = budget.after_fallback_failed(follow_up=instruction is not None)
    logger.warning("budget exhausted", extra={"action": decision.action})
    metrics.add_metric(name="BudgetExhausted", unit="Count", value=1)
    if decision.action == "stop":
        return await _finish(ctx, message_id, effects.Outcome(reply=None), stop="budget_exhausted")
    if decision.action == "handoff":
        outcome = effects.plan(ctx, "", [effects.Call("request_handoff", {"reason": "budget_exhausted"})])
        canned = Reply(content=outcome.reply, model="none") if outcome.reply else None
        return await _finish(ctx, message_id, outcome, reply=canned)
    problem = BudgetExceeded("the organization's model budget for this month is used up")
    await _finish(ctx, message_id, effects.Outcome(reply=None), error=_problem(problem))
    return TurnResult("refused")


async def _finish(
    ctx: TurnContext,
    message_id: uuid.UUID,
    outcome: effects.Outcome,
    *,
    reply: Reply | None = None,
    usage: Usage | None = None,
    cost: Decimal = Decimal(0),
    settle: str = "charge",
    error: Problem | None = None,
    stop: Literal["budget_exhausted", "lead_replied"] | None = None,
    knowledge: turn_knowledge.Answer | None = None,
) -> TurnResult:
    turn = TurnOutcome(
        organization_id=ctx.organization_id,
        conversation_id=ctx.conversation_id,
        message_id=message_id,
        pending=ctx.pending,
        reservation_id=ctx.reservation_id,
        settle="release" if settle == "release" else "charge",
        cost_usd=cost,
        reply=reply,
        usage=usage,
        lead=LeadPatch.model_validate(outcome.lead) if outcome.lead else None,
        events=_EVENTS.validate_python(outcome.events),
        conversion=Conversion.model_validate(outcome.conversion) if outcome.conversion else None,
        conversation_status=outcome.conversation_status,  # type: ignore[arg-type]
        message_error=error,
        follow_up_stop=stop,
        knowledge_usage=knowledge.usage() if knowledge else None,
        unanswered=knowledge.record() if knowledge else None,
    )
    row = await service_call("select app.finish_turn(%s::jsonb) as result", (turn.model_dump_json(),))
    result = (row or {}).get("result") or {}
    reply_id = result.get("reply_id")
    if result.get("status") == "taken_over":
        logger.info("a human took over during the turn; no AI reply")
    elif result.get("status") == "follow_up_stopped":
        logger.info("the follow-up step stopped; no AI reply", extra={"reason": result.get("reason")})
        metrics.add_metric(name="FollowUpsStopped", unit="Count", value=1)
        metrics.add_metric(name=f"FollowUpsStopped.{result.get('reason')}", unit="Count", value=1)
    turn_result = TurnResult(str(result.get("status", "unknown")), uuid.UUID(reply_id) if reply_id else None)
    if ctx.conversation.channel == "whatsapp" and turn_result.reply_id:
        await send_reply(ctx.conversation_id, turn_result.reply_id)  # stored queued; WhatsApp needs it sent
    return turn_result


async def _fail(ctx: TurnContext, message_id: uuid.UUID, exc: AppError) -> None:
    """Release the reservation and mark the message failed; the queue will redeliver it."""
    await service_call(
        "select app.fail_turn(%s, %s, %s::jsonb)",
        (message_id, ctx.reservation_id, _problem(exc).model_dump_json()),
    )


def _problem(exc: AppError) -> Problem:
    return Problem(type=f"/problems/{exc.code}", title=exc.title, status=exc.status, detail=exc.detail)
