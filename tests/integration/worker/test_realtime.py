"""While a turn runs, its typing event goes out from the database (Supabase's ``realtime.send``), not over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.integration.worker.conftest import Tenant, sqs_event
from tests.integration.worker.test_turns import Worker

pytestmark = pytest.mark.integration


def _broadcasts(tenant: Tenant, conversation: uuid.UUID) -> list[dict[str, Any]]:
    return tenant.query(
        "select event, payload, private, extension from realtime.messages where topic = %s order by id",
        f"conversation:{conversation}",
    )


def _replies(tenant: Tenant, conversation: uuid.UUID) -> list[dict[str, Any]]:
    return tenant.query(
        "select id from public.messages where conversation_id = %s and role = 'assistant'", conversation
    )


def test_a_turn_broadcasts_typing_on_the_conversations_private_channel(tenant: Tenant, worker: Worker) -> None:
    # given a web conversation with a lead message
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi")
    # when the worker runs the turn
    worker(sqs_event((conversation, message)))
    # then one typing broadcast was written for Realtime on the conversation's private topic, and the reply stored
    assert _broadcasts(tenant, conversation) == [
        {"event": "typing", "payload": {"typing": True}, "private": True, "extension": "broadcast"}
    ]
    assert len(_replies(tenant, conversation)) == 1


def test_a_turn_refused_for_its_budget_sends_no_typing(tenant: Tenant, worker: Worker) -> None:
    # given an organization whose budget is spent
    tenant.set_budget("0")
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi")
    # when the worker takes the turn
    worker(sqs_event((conversation, message)))
    # then nobody is told the agent is typing: no model call follows
    assert _broadcasts(tenant, conversation) == []
    assert _replies(tenant, conversation) == []


def test_a_broadcast_that_fails_does_not_fail_the_turn(tenant: Tenant, worker: Worker) -> None:
    # given Realtime's table refuses the service's insert (realtime.send turns that into a warning)
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("revoke insert on realtime.messages from service_role")
    try:
        conversation = tenant.conversation()
        message = tenant.lead_says(conversation, "Oi")
        # when the worker runs the turn
        worker(sqs_event((conversation, message)))
    finally:
        with psycopg.connect(tenant.url, autocommit=True) as conn:
            conn.execute("grant insert on realtime.messages to service_role")
    # then the reply is stored all the same, with no broadcast
    assert _broadcasts(tenant, conversation) == []
    assert len(_replies(tenant, conversation)) == 1
