"""50 concurrent turns against a budget that covers only a few: spend never exceeds the budget."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.integration.worker.conftest import Tenant, sqs_event
from tests.integration.worker.test_turns import Worker

pytestmark = pytest.mark.integration
CONCURRENT_TURNS = 50
TURNS_THE_BUDGET_COVERS = Decimal("3.5")


class Containers:
    """One event loop per turn, so each has its own DB connection, like separate Lambda containers."""

    def __init__(self) -> None:
        self.loops: list[asyncio.AbstractEventLoop] = []

    def turn(self, message_id: uuid.UUID) -> str:
        from shared.turns.service import run_turn

        loop = asyncio.new_event_loop()
        self.loops.append(loop)
        return loop.run_until_complete(run_turn(message_id)).status

    def retire(self) -> None:
        """Close each container's clients, then its loop (litellm's process-wide logger sits on one of them)."""
        from local_runtime.containers import retire_loop
        from shared.lifecycle import close_clients

        for loop in self.loops:
            loop.run_until_complete(close_clients())
        for loop in self.loops:
            retire_loop(loop)


def test_concurrent_turns_never_spend_beyond_the_budget(tenant: Tenant, worker: Worker) -> None:
    # given the reservation one turn needs, measured with a roomy budget
    first = tenant.conversation()
    worker(sqs_event((first, tenant.lead_says(first, "Oi"))))
    [reservation] = tenant.query("select amount_usd from public.budget_reservations where conversation_id = %s", first)
    # and a budget that covers only about three and a half more turns
    limit = (reservation["amount_usd"] * TURNS_THE_BUDGET_COVERS).quantize(Decimal("0.000001"))
    tenant.set_budget(str(limit))
    messages = []
    for _ in range(CONCURRENT_TURNS):
        conversation = tenant.conversation()
        messages.append(tenant.lead_says(conversation, "Oi, meu nome é Carla"))
    # when 50 turns run at once, each in its own "container"
    containers = Containers()
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENT_TURNS) as pool:
            statuses = list(pool.map(containers.turn, messages))
    finally:
        containers.retire()
    # then only the turns the budget covers were answered, and the spend stays within the limit
    [budget] = tenant.query("select * from public.budgets where organization_id = %s", tenant.org)
    spent = tenant.query(
        "select coalesce(sum(u.cost_usd), 0) as total, count(*) as calls from public.llm_usage u"
        " where u.organization_id = %s and u.conversation_id <> %s",
        tenant.org,
        first,
    )[0]
    answered = statuses.count("ok")
    # (a settled turn costs less than its worst-case reservation, so later turns can reuse the difference)
    assert int(TURNS_THE_BUDGET_COVERS) <= answered < CONCURRENT_TURNS
    assert statuses.count("refused") == CONCURRENT_TURNS - answered
    assert spent["calls"] == answered
    assert spent["total"] <= limit
    assert budget["spent_usd"] == spent["total"]
    assert budget["reserved_usd"] == 0
    refused = tenant.query(
        "select count(*) as n from public.messages where organization_id = %s and status = 'failed'"
        " and error->>'type' like '%%budget-exceeded'",
        tenant.org,
    )[0]["n"]
    assert refused == CONCURRENT_TURNS - answered
