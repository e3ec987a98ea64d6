"""A whole conversation through the local gateway and the turn worker, with the local model: lead to conversion."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from local_runtime.aws import sqs_client
from local_runtime.queues import container_invoker
from tests.e2e.conftest import drainer
from tests.support.tokens import hs256_token

pytestmark = pytest.mark.e2e

AGENT = {
    "name": "Sofia (SDR)",
    "persona": "Sofia, consultora de imóveis",
    "instructions": "Qualifique o lead e ofereça uma visita.",
    "goal": "book_meeting",
    "language": "pt-BR",
    "model": "fast",
    "qualification_fields": [
        {"name": "name", "type": "text", "required": True, "description": "Nome"},
        {"name": "email", "type": "email", "required": True, "description": "E-mail"},
        {"name": "phone", "type": "phone", "required": False, "description": "Telefone"},
        {"name": "budget", "type": "money", "required": True, "description": "Orçamento"},
        {"name": "timeline", "type": "text", "required": True, "description": "Prazo"},
    ],
}
LEAD_SAYS = [
    "Oi! Vi o anúncio do apartamento.",
    "Meu nome é Ana Souza",
    "ana.souza@example.com",
    "Meu orçamento é de R$ 500 mil",
    "Quero me mudar em 3 meses",
]


@pytest.fixture
def owner(database_url: str, jwt_secret: str) -> dict[str, str]:
    user_id = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, f"{user_id.hex}@example.com"))
    return {"Authorization": f"Bearer {hs256_token(jwt_secret, user_id)}"}


@pytest.fixture
def run_worker(gateway: TestClient, aws: Any) -> Callable[[], int]:
    """Drain the turn queue into the turn worker's container, as the SQS event source mapping does."""
    invoke = container_invoker(gateway.app.state.containers, "turnWorker")  # type: ignore[attr-defined]
    sqs = sqs_client(aws.endpoint)
    return drainer(sqs, aws.queues["TurnQueue"], invoke)


def test_a_lead_is_qualified_and_converted_over_a_whole_conversation(
    gateway: TestClient, owner: dict[str, str], run_worker: Callable[[], int], database_url: str
) -> None:
    # given an organization with an agent that books meetings once name, e-mail, budget and timeline are known
    org = gateway.post("/organizations", json={"name": "Imobiliária E2E"}, headers=owner).json()
    agent = gateway.post(f"/organizations/{org['id']}/agents", json=AGENT, headers=owner)
    assert agent.status_code == 201, agent.text
    started = gateway.post(
        f"/organizations/{org['id']}/conversations", json={"agent_id": agent.json()["id"]}, headers=owner
    )
    assert started.status_code == 201, started.text
    conversation = started.json()["id"]
    # when the lead sends each message and the worker answers it
    replies = []
    for text in LEAD_SAYS:
        accepted = gateway.post(f"/conversations/{conversation}/messages", json={"content": text}, headers=owner)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "queued"
        assert run_worker() == 1
        detail = gateway.get(f"/conversations/{conversation}?messages_limit=100", headers=owner).json()
        replies.append([m for m in detail["messages"]["data"] if m["role"] == "assistant"][-1]["content"])
    # then the agent answered every message, asking for what was missing
    assert len(set(replies)) == len(LEAD_SAYS)
    # and the lead has every required field, and is converted, with the conversion attributed to agent version 1
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        lead = conn.execute(
            "select l.* from public.leads l join public.conversations c on c.lead_id = l.id where c.id = %s",
            (conversation,),
        ).fetchone()
        conversions = conn.execute(
            "select * from public.conversions where conversation_id = %s", (conversation,)
        ).fetchall()
        stages = conn.execute(
            "select to_stage from public.lead_events where conversation_id = %s and to_stage is not null"
            " order by created_at",
            (conversation,),
        ).fetchall()
    assert lead is not None
    assert (lead["name"], lead["email"], lead["stage"]) == ("Ana Souza", "ana.souza@example.com", "converted")
    assert {"budget", "timeline"} <= set(lead["qualification"])
    [conversion] = conversions
    assert (conversion["type"], conversion["agent_version"]) == ("meeting", 1)
    assert [s["to_stage"] for s in stages][-2:] == ["qualified", "converted"]
