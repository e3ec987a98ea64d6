"""Provider failures seen by the worker: a fallback is used and recorded; with every provider down,
the lead's message is marked failed, retried through the queue, and parked in the DLQ, never lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_runtime.aws import sqs_client
from local_runtime.queues import deliver_batch
from tests.integration.worker.conftest import Tenant, sqs_event
from tests.integration.worker.test_turns import Worker
from tests.support.fake_openai import FakeProvider

pytestmark = pytest.mark.integration
LOCAL = {"model": "local/sdr", "input_cost_per_token": 1e-7, "output_cost_per_token": 4e-7}


def _deployment(alias: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"model_name": alias, "litellm_params": params, "model_info": {"id": f"{alias}-test"}}


def _openai(fake: FakeProvider, mode: str) -> dict[str, Any]:
    return {"model": "openai/gpt-4o-mini", "api_base": fake.api_base(mode), "api_key": "sk-fake", "timeout": 2}


@pytest.fixture
def router_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the worker's Router at a config written by the test (the container rebuilds it)."""
    from shared.llm.router import get_router
    from shared.settings import get_settings
    from shared.turns.pricing import alias_pricing

    def _use(model_list: list[dict[str, Any]], fallbacks: list[dict[str, list[str]]]) -> None:
        path = tmp_path / "litellm.yaml"
        settings = {"fallbacks": fallbacks, "num_retries": 0, "timeout": 2, "allowed_fails": 100}
        path.write_text(yaml.safe_dump({"model_list": model_list, "router_settings": settings}))
        monkeypatch.setenv("LITELLM_CONFIG_PATH", str(path))
        for cache in (get_settings, get_router, alias_pricing):
            cache.cache_clear()

    yield _use
    monkeypatch.delenv("LITELLM_CONFIG_PATH")
    for cache in (get_settings, get_router, alias_pricing):
        cache.cache_clear()


@pytest.mark.parametrize("mode", ["429", "500", "hang"])
def test_a_failing_provider_falls_back_and_the_fallback_is_recorded(
    tenant: Tenant, worker: Worker, router_config: Any, fake_provider: FakeProvider, mode: str
) -> None:
    # given the agent's alias on a provider that fails this way, falling back to the local model
    router_config(
        [_deployment("fast", _openai(fake_provider, mode)), _deployment("economy", LOCAL)], [{"fast": ["economy"]}]
    )
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi, meu nome é Davi")
    # when the worker runs the turn
    result = worker(sqs_event((conversation, message)))
    # then the reply comes from the fallback, and the ledger says so
    assert result == {"batchItemFailures": []}
    [usage] = tenant.query("select * from public.llm_usage where message_id = %s", message)
    assert usage["fallback_used"] is True
    assert usage["alias"] == "fast"
    assert len(tenant.query("select 1 from public.messages where reply_to = %s", message)) == 1


def test_with_every_provider_down_the_message_is_retried_then_parked_in_the_dlq(
    tenant: Tenant, worker: Worker, router_config: Any, fake_provider: FakeProvider, aws: Any
) -> None:
    # given every deployment failing
    router_config(
        [_deployment("fast", _openai(fake_provider, "500")), _deployment("economy", _openai(fake_provider, "429"))],
        [{"fast": ["economy"]}],
    )
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi")
    sqs, queue, dlq = sqs_client(aws.endpoint), aws.queues["TurnQueue"], aws.queues["TurnDeadLetterQueue"]
    body = json.dumps({"type": "turn", "message_id": str(message)})
    sqs.send_message(
        QueueUrl=queue.url, MessageBody=body, MessageGroupId=str(conversation), MessageDeduplicationId=str(message)
    )
    # when SQS delivers it until its receive count passes maxReceiveCount (5)
    deliveries = 0
    while deliver_batch(sqs, queue, worker, retry_now=True):
        deliveries += 1
    # then each delivery failed and was retried, and the message now waits in the DLQ
    assert deliveries == 5
    parked = sqs.receive_message(QueueUrl=dlq.url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["message_id"] for m in parked] == [str(message)]
    # and the lead's message is kept, marked failed with the upstream problem, unanswered, nothing reserved
    [row] = tenant.query("select status, error, handled_at from public.messages where id = %s", message)
    assert row["status"] == "failed"
    assert row["error"]["type"].endswith("upstream-unavailable")
    assert row["handled_at"] is None
    assert tenant.query("select 1 from public.messages where reply_to = %s", message) == []
    [budget] = tenant.query("select reserved_usd, spent_usd from public.budgets where organization_id = %s", tenant.org)
    assert (budget["reserved_usd"], budget["spent_usd"]) == (0, 0)
