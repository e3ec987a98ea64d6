"""The gateway through the real LiteLLM Router: the shipped config with the local model, and a
misbehaving OpenAI-compatible provider on loopback for retries, fallbacks and error mapping."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from shared.agents.config import QualificationField
from shared.errors import InvalidInput, UpstreamUnavailable
from shared.llm.gateway import Completion, complete
from shared.llm.router import LOCAL_MODEL, build_router, close_llm, load_config
from shared.llm.sdk import Router
from shared.llm.tools import build_tools
from shared.turns import prompt
from shared.turns.context import TurnContext
from tests.support.aio import run, use_container_loop
from tests.support.fake_openai import FakeProvider

pytestmark = pytest.mark.integration

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "type": "text", "required": True, "description": "Nome do lead"},
    {"name": "email", "type": "email", "required": True, "description": "E-mail"},
    {"name": "budget", "type": "money", "required": True, "description": "Orçamento"},
]
TIMEOUT = 0.3
SHIPPED = load_config()


def _messages(text: str, known: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    ctx = TurnContext(
        status="ok",
        organization_id=uuid.uuid4(),
        conversation={"id": str(uuid.uuid4())},
        config={"persona": "Sofia", "goal": "qualify", "language": "pt-BR", "qualification_fields": FIELDS},
        lead={"qualification": known or {}},
        history=[{"id": str(uuid.uuid4()), "role": "lead", "content": text}],
        pending=[],
        alias="fast",
        reservation_id=None,
    )
    return prompt.messages(ctx)


def _ask(router: Router, alias: str, text: str = "Oi, me chamo Ana", **known: Any) -> Completion:
    return run(
        complete(
            alias,
            _messages(text, known),
            tools=build_tools([QualificationField.model_validate(f) for f in FIELDS]),
            router=router,
        )
    )


def _openai(alias: str, base: str) -> dict[str, Any]:
    """A real OpenAI deployment, pointed at the fake provider; no SDK retries, a short timeout."""
    params = {"model": "openai/gpt-4o-mini", "api_base": base, "api_key": "sk-fake", "timeout": TIMEOUT}
    params["max_retries"] = 0
    return {"model_name": alias, "litellm_params": params, "model_info": {"id": f"{alias}@{base}"}}


def _failing_router(fake: FakeProvider, mode: str, fallback: dict[str, Any] | None = None, **settings: Any) -> Router:
    """``smart`` on the fake provider in ``mode``, falling back to the ``fallback`` deployment if given."""
    model_list = [_openai("smart", fake.api_base(mode))] + ([copy.deepcopy(fallback)] if fallback else [])
    fallbacks = [{"smart": [fallback["model_name"]]}] if fallback else []
    router_settings = {"num_retries": 0, "timeout": TIMEOUT, "fallbacks": fallbacks, **settings}
    return build_router({"model_list": model_list, "router_settings": router_settings}, LOCAL_MODEL)


def _economy() -> dict[str, Any]:
    """The shipped local ``economy`` deployment."""
    return next(d for d in SHIPPED["model_list"] if d["model_name"] == "economy")


@pytest.fixture(scope="module")
def shipped_router() -> Router:
    """The Router built from infra/litellm/config.yaml, separate from the container's cached one."""
    return build_router(copy.deepcopy(SHIPPED), LOCAL_MODEL)


def test_the_local_model_answers_with_parsed_tool_calls_tokens_and_cost(shipped_router: Router) -> None:
    # given the shipped config / when a lead introduces themself on the fast alias
    completion = _ask(shipped_router, "fast", "Oi, meu nome é Ana e meu e-mail é ana@example.com")
    # then the tool call arrives decoded, with the reply, tokens, a positive cost and no fallback
    [call] = completion.tool_calls
    assert (call.name, call.arguments) == ("update_lead", {"name": "Ana", "email": "ana@example.com"})
    assert completion.content == "Prazer, Ana! Qual é o orçamento que você tem em mente?"
    assert (completion.model, completion.alias, completion.fallback_used) == ("local/sdr", "fast", False)
    assert completion.tokens_in > 0
    assert completion.tokens_out > 0
    assert completion.cost_usd > 0
    assert completion.latency_ms >= 0


def test_cost_follows_the_per_token_prices_of_the_alias(shipped_router: Router) -> None:
    # given the same request on two aliases priced differently
    fast, smart = (_ask(shipped_router, alias) for alias in ("fast", "smart"))
    prices = {d["model_name"]: d["litellm_params"] for d in SHIPPED["model_list"]}
    # then each costs its tokens at its own deployment's prices
    for completion in (fast, smart):
        price = prices[completion.alias]
        expected = (
            completion.tokens_in * price["input_cost_per_token"]
            + completion.tokens_out * price["output_cost_per_token"]
        )
        assert completion.cost_usd == pytest.approx(Decimal(str(expected)), abs=Decimal("1e-9"))
    assert smart.cost_usd > fast.cost_usd


def test_a_conversion_is_proposed_once_every_required_field_is_known(shipped_router: Router) -> None:
    # given a lead whose name and e-mail are known / when they give their budget
    completion = _ask(shipped_router, "fast", "Tenho uns R$ 500 mil", name="Ana", email="ana@example.com")
    # then the model captures it and records the conversion
    assert [c.name for c in completion.tool_calls] == ["update_lead", "record_conversion"]
    assert completion.tool_calls[1].arguments == {"type": "qualified_lead", "value": 500000, "currency": "BRL"}


def test_tool_calls_with_malformed_arguments_are_dropped_not_fatal(fake_provider: FakeProvider) -> None:
    # given a provider that returns one broken, one valid and one non-object tool call
    router = _failing_router(fake_provider, "malformed")
    # when the gateway parses the answer
    completion = _ask(router, "smart")
    # then only the valid call survives, and the provider's usage and cost are kept
    assert [(c.name, c.arguments) for c in completion.tool_calls] == [("request_handoff", {"reason": "asked"})]
    assert (completion.model, completion.tokens_in, completion.tokens_out) == ("openai/gpt-4o-mini", 120, 30)
    assert completion.cost_usd > 0


@pytest.mark.parametrize("mode", ["429", "500", "hang"])
def test_a_failing_provider_falls_back_to_the_local_alias(fake_provider: FakeProvider, mode: str) -> None:
    # given smart on a provider that rate-limits, errors or hangs, with economy (local) as its fallback
    router = _failing_router(fake_provider, mode, _economy())
    # when a turn asks smart
    started = time.monotonic()
    completion = _ask(router, "smart")
    # then the local model answered, the completion says so, and a hang cost only the timeout
    assert (completion.model, completion.alias, completion.fallback_used) == ("local/sdr", "smart", True)
    assert completion.content
    assert completion.cost_usd > 0
    assert time.monotonic() - started < 2


def test_every_deployment_failing_raises_upstream_unavailable(fake_provider: FakeProvider) -> None:
    # given smart failing with 500 and its fallback hanging
    router = _failing_router(fake_provider, "500", _openai("economy", fake_provider.api_base("hang")))
    # when a turn asks smart / then the caller sees one retryable error, wrapping LiteLLM's
    with pytest.raises(UpstreamUnavailable) as caught:
        _ask(router, "smart")
    assert caught.value.__cause__ is not None
    assert "smart" in caught.value.detail


def test_a_cooled_down_alias_without_fallback_raises_upstream_unavailable(fake_provider: FakeProvider) -> None:
    # given smart failing, no fallback, and a deployment cooled down after its first failure
    router = _failing_router(fake_provider, "500", allowed_fails=0, cooldown_time=60)
    with pytest.raises(UpstreamUnavailable):
        _ask(router, "smart")
    # when the next turn asks smart ("no deployments available") / then it is still UpstreamUnavailable
    with pytest.raises(UpstreamUnavailable):
        _ask(router, "smart")


def test_a_rejected_request_is_invalid_input_not_retryable_unavailability(fake_provider: FakeProvider) -> None:
    # given a provider that answers 400 and no fallback
    router = _failing_router(fake_provider, "400")
    # when a turn asks it / then the error says the request was rejected
    with pytest.raises(InvalidInput):
        _ask(router, "smart")


def test_an_unknown_alias_is_invalid_input(shipped_router: Router) -> None:
    # given the shipped config / when an agent names an alias it does not define / then InvalidInput
    with pytest.raises(InvalidInput):
        _ask(shipped_router, "no-such-alias")


def test_closing_stops_litellms_background_logging_task(shipped_router: Router) -> None:
    # given a completed call, after which litellm starts its logging worker on the loop (one tick later)
    loop = use_container_loop()
    _ask(shipped_router, "fast")
    run(asyncio.sleep(0))
    assert _logging_tasks(loop)
    # when the container's LLM client is closed
    run(close_llm())
    # then no litellm task is left pending on the loop
    assert _logging_tasks(loop) == []


def _logging_tasks(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks(loop) if "LoggingWorker" in repr(t.get_coro()) and not t.done()]


def _plain(router: Router) -> Router:
    """The same configuration on LiteLLM's own Router, without the direct first attempt."""
    from shared.llm.sdk import Router as LiteLLMRouter

    assert type(router) is not LiteLLMRouter
    settings = {
        "num_retries": router.num_retries,
        "timeout": router.timeout,
        "fallbacks": router.fallbacks,
        "allowed_fails": router.allowed_fails,
    }
    return LiteLLMRouter(model_list=copy.deepcopy(router.model_list), **settings)


@pytest.mark.parametrize(("mode", "retries"), [("500", 0), ("500", 2), ("429", 1)])
def test_a_failing_first_attempt_is_retried_and_falls_back_exactly_as_the_router_would(
    fake_provider: FakeProvider, mode: str, retries: int
) -> None:
    # given smart failing with a fallback, and the same configuration on LiteLLM's own Router; no cooldown
    # within the turn (LiteLLM records failures from a background callback, so a cooldown could cut either
    # router's retries short depending on timing: cooldowns have their own test below)
    ours = _failing_router(fake_provider, mode, _economy(), num_retries=retries, allowed_fails=100)
    theirs = _plain(ours)
    # when each answers one turn
    counts = []
    for router in (ours, theirs):
        before = fake_provider.hits[mode]
        completion = _ask(router, "smart")
        counts.append(fake_provider.hits[mode] - before)
        assert (completion.model, completion.fallback_used) == ("local/sdr", True)
    # then the provider saw the same attempts from both: the first plus the configured retries
    assert counts == [1 + retries, 1 + retries]


def test_a_deployment_cooling_down_is_not_called_directly(fake_provider: FakeProvider) -> None:
    # given smart cooled down after one failure (allowed_fails 0), economy as its fallback
    router = _failing_router(fake_provider, "500", _economy(), allowed_fails=0, cooldown_time=60)
    _ask(router, "smart")
    before = fake_provider.hits["500"]
    # when the next turn asks smart
    completion = _ask(router, "smart")
    # then the cooling deployment was not called; the fallback answered
    assert fake_provider.hits["500"] == before
    assert completion.fallback_used


def test_the_happy_path_skips_the_routers_retry_loops(shipped_router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    # given the shipped config, with the Router's full entry point watched
    entered: list[str] = []
    full = shipped_router.acompletion

    async def watched(*args: Any, **kwargs: Any) -> Any:
        entered.append(kwargs["model"])
        return await full(*args, **kwargs)

    monkeypatch.setattr(shipped_router, "acompletion", watched)
    # when a healthy alias answers
    completion = _ask(shipped_router, "fast")
    # then it answered from its own deployment, without entering the fallback and retry loops
    assert (completion.alias, completion.fallback_used) == ("fast", False)
    assert entered == []


def test_a_call_does_not_register_prices_again(shipped_router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    # given the shipped config, whose deployments carry explicit prices, after a first call
    from shared.llm.sdk import litellm

    _ask(shipped_router, "fast")
    registered: list[object] = []
    original = litellm.register_model
    monkeypatch.setattr(litellm, "register_model", lambda *a, **k: registered.append(a) or original(*a, **k))
    # when the next turns ask for a completion
    completion = _ask(shipped_router, "smart")
    # then they are priced by the deployment without re-registering its price (which drops litellm's caches)
    assert registered == []
    assert completion.cost_usd > 0


def test_without_limits_a_success_skips_the_usage_count_and_with_one_counts_it(
    shipped_router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the shipped config (no tpm/rpm limit anywhere), its model-info lookup watched, after a first call
    _ask(shipped_router, "fast")
    looked_up: list[object] = []
    original = shipped_router.get_router_model_info
    monkeypatch.setattr(
        shipped_router, "get_router_model_info", lambda *a, **k: looked_up.append(a) or original(*a, **k)
    )
    # when more turns answer, their success callbacks included
    for _ in range(3):
        _ask(shipped_router, "fast")
    run(asyncio.sleep(0.05))
    # then no turn looked the deployment's model info up to count usage against a limit it does not have
    assert looked_up == []
    # given the same config with an rpm limit on fast's deployment / when a turn answers
    config = copy.deepcopy(SHIPPED)
    for deployment in config["model_list"]:
        if deployment["model_name"] == "fast":
            deployment["litellm_params"]["rpm"] = 1000
    limited = build_router(config, LOCAL_MODEL)
    _ask(limited, "fast")
    run(asyncio.sleep(0.05))
    # then the request was counted against it
    _, rpm = run(limited.get_model_group_usage("fast"))
    assert rpm == 1
