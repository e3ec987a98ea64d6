"""A conversation's follow-ups through the real handlers: the next step, the history, pause, resume and cancel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.integration.api.test_conversations import insert_agent
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


@pytest.fixture
def conversation(make_org: Callable[[], dict[str, Any]], database_url: str) -> dict[str, Any]:
    """A conversation with a stopped step of an earlier silence and a scheduled one of the current silence."""
    org = make_org()
    agent = insert_agent(database_url, org["id"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        lead = conn.execute("insert into public.leads (organization_id) values (%s) returning id", (org["id"],))
        lead_id = lead.fetchone()[0]  # type: ignore[index]
        conv = conn.execute(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
            " values (%s, %s, 1, %s, 'web') returning id",
            (org["id"], agent, lead_id),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "insert into public.follow_ups (organization_id, conversation_id, lead_id, step, anchor_at, due_at,"
            " time_zone, status, reason, finished_at) values"
            " (%(o)s, %(c)s, %(l)s, 0, now() - interval '2 days', now() - interval '1 day', 'UTC', 'stopped',"
            "  'lead_replied', now() - interval '1 day'),"
            " (%(o)s, %(c)s, %(l)s, 0, now() - interval '1 hour', now() + interval '1 hour', 'America/Sao_Paulo',"
            "  'scheduled', null, null)",
            {"o": org["id"], "c": conv, "l": lead_id},
        )
    return {**org, "conversation": conv}


def test_a_member_sees_the_next_step_and_the_history_with_reasons(api: LambdaApi, conversation: dict[str, Any]) -> None:
    # given a conversation with a scheduled step and a stopped one / when a viewer reads its follow-ups
    path = f"/conversations/{conversation['conversation']}/follow-ups"
    response = api.call("GET", path, token=conversation["viewer"].token)
    # then the next step is the scheduled one, in the lead's zone, and the history keeps the stop reason
    assert response.status == 200, response.body
    body = response.json()
    assert (body["next"]["status"], body["next"]["time_zone"]) == ("scheduled", "America/Sao_Paulo")
    assert [(h["status"], h["reason"]) for h in body["history"]] == [("stopped", "lead_replied")]
    assert body["paused"] is False


def test_an_editor_pauses_resumes_and_cancels(api: LambdaApi, conversation: dict[str, Any]) -> None:
    base = f"/conversations/{conversation['conversation']}/follow-ups"
    token = conversation["editor"].token
    # when an editor pauses / then the step waits, paused
    paused = api.call("POST", base, token=token, body={"action": "pause"}).json()
    assert paused["paused"] is True
    assert paused["next"]["status"] == "paused"
    # when they resume / then it is scheduled again
    resumed = api.call("POST", base, token=token, body={"action": "resume"}).json()
    assert (resumed["paused"], resumed["next"]["status"]) == (False, "scheduled")
    # when they cancel / then nothing is next, and the step is stopped with the reason "cancelled"
    cancelled = api.call("POST", base, token=token, body={"action": "cancel"}).json()
    assert cancelled["next"] is None
    assert ("stopped", "cancelled") in [(h["status"], h["reason"]) for h in cancelled["history"]]


def test_a_viewer_may_not_change_and_another_tenant_sees_nothing(
    api: LambdaApi, conversation: dict[str, Any], make_org: Callable[[], dict[str, Any]]
) -> None:
    base = f"/conversations/{conversation['conversation']}/follow-ups"
    # a viewer's change is a 403; another organization's owner gets a 404 for reading and changing
    assert api.call("POST", base, token=conversation["viewer"].token, body={"action": "cancel"}).status == 403
    stranger = make_org()["owner"].token
    assert api.call("GET", base, token=stranger).status == 404
    assert api.call("POST", base, token=stranger, body={"action": "cancel"}).status == 404
    # and an unknown action names the field
    response = api.call("POST", base, token=conversation["editor"].token, body={"action": "stop"})
    assert response.status == 422
    assert "body.action" in response.body
    assert api.call("GET", f"/conversations/{uuid.uuid4()}/follow-ups", token=stranger).status == 404
