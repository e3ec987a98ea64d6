"""GET /agents/{agent_id}/knowledge/unanswered: members read their agent's questions, newest first, by cursor."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


def _agent_with_questions(database_url: str, org: uuid.UUID, questions: list[str]) -> uuid.UUID:
    """An agent, a conversation and one unanswered row per question (the last one newest)."""
    with psycopg.connect(database_url, autocommit=True) as conn:

        def one(sql: str, *params: Any) -> Any:
            row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
            assert row is not None
            return row[0]

        agent = one("insert into public.agents (organization_id, name) values (%s, 'A') returning id", org)
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, '{}')",
            (org, agent),
        )
        lead = one("insert into public.leads (organization_id) values (%s) returning id", org)
        conversation = one(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
            " values (%s, %s, 1, %s, 'api') returning id",
            org,
            agent,
            lead,
        )
        for i, question in enumerate(questions):
            message = one(
                "insert into public.messages (organization_id, conversation_id, role, content)"
                " values (%s, %s, 'lead', %s) returning id",
                org,
                conversation,
                question,
            )
            conn.execute(
                "insert into public.knowledge_unanswered (organization_id, agent_id, conversation_id, message_id,"
                " question, created_at) values (%s, %s, %s, %s, %s, now() + make_interval(secs => %s))",
                (org, agent, conversation, message, question, i),
            )
    return uuid.UUID(str(agent))


def test_a_viewer_pages_through_the_questions_newest_first(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    # given an agent with three unanswered questions
    org = make_org()
    agent = _agent_with_questions(database_url, org["id"], ["Tem piscina?", "Aceita FGTS?", "Tem portaria 24h?"])
    path = f"/agents/{agent}/knowledge/unanswered"
    # when a viewer lists two, then the rest with the cursor
    first = api.call("GET", f"{path}?limit=2", token=org["viewer"].token)
    assert first.status == 200, first.body
    second = api.call("GET", f"{path}?limit=2&cursor={first.json()['next_cursor']}", token=org["viewer"].token)
    # then they read all three, newest first, and the last page has no cursor
    questions = [q["question"] for q in first.json()["data"] + second.json()["data"]]
    assert questions == ["Tem portaria 24h?", "Aceita FGTS?", "Tem piscina?"]
    assert second.json()["next_cursor"] is None


def test_another_organizations_agent_is_a_404_and_a_bad_cursor_a_422(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    org, other = make_org(), make_org()
    agent = _agent_with_questions(database_url, org["id"], ["Tem piscina?"])
    path = f"/agents/{agent}/knowledge/unanswered"
    assert api.call("GET", path, token=other["owner"].token).status == 404
    bad = api.call("GET", f"{path}?cursor=not-a-cursor", token=org["viewer"].token)
    assert bad.status == 422
    assert "cursor" in bad.body
