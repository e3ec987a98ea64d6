"""The Graph API client at the HTTP boundary (respx): Meta's documented answers, retries, no waiting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from shared.whatsapp import graph
from tests.support.aio import run
from tests.unit.whatsapp.conftest import GRAPH_URL

URL = f"{GRAPH_URL}/v21.0/106540352242922/messages"
TOKEN = "EAAG-test-access-token"
BODY = {"messaging_product": "whatsapp", "to": "5511987654321", "type": "text", "text": {"body": "Oi"}}
SENT: dict[str, Any] = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "5511987654321", "wa_id": "5511987654321"}],
    "messages": [{"id": "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjQ3QUYwQkU3RjMyQjNDNUQ0OQA="}],
}


def meta_error(code: int, message: str, details: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "AazcUSvv2ywpHhGwTwaTnRC",
        }
    }


@pytest.fixture
def pauses(settings_env: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []

    async def _record(seconds: float) -> None:
        waited.append(seconds)

    settings_env.setattr(graph, "_sleep", _record)
    return waited


@pytest.fixture
def meta() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def test_a_sent_message_returns_its_wamid_and_carries_the_bearer_token(
    meta: respx.MockRouter, pauses: list[float]
) -> None:
    # given Meta accepting the message
    route = meta.post(URL).mock(return_value=httpx.Response(200, json=SENT))
    # when it is sent / then the wamid comes back, with one POST of our body and token
    assert run(graph.send("106540352242922", TOKEN, BODY)) == SENT["messages"][0]["id"]
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == BODY
    assert pauses == []


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.Response(500, json={"error": {"message": "An unknown error occurred", "code": 1}}),
        httpx.Response(400, json=meta_error(130429, "(#130429) Rate limit hit", "Cloud API message throughput")),
        httpx.ConnectError("boom"),
    ],
    ids=["5xx", "130429", "network"],
)
def test_transient_failures_are_retried_with_backoff(
    meta: respx.MockRouter, pauses: list[float], refusal: httpx.Response | Exception
) -> None:
    # given Meta failing twice, then accepting
    meta.post(URL).mock(side_effect=[refusal, refusal, httpx.Response(200, json=SENT)])
    # when sent / then it went through on the third attempt, after two backoff pauses
    assert run(graph.send("106540352242922", TOKEN, BODY)).startswith("wamid.")
    assert pauses == list(graph.RETRY_DELAYS[:2])


def test_retries_are_bounded_and_the_last_error_is_transient(meta: respx.MockRouter, pauses: list[float]) -> None:
    route = meta.post(URL).mock(return_value=httpx.Response(503, text="upstream down"))
    with pytest.raises(graph.GraphError) as failed:
        run(graph.send("106540352242922", TOKEN, BODY))
    assert failed.value.transient
    assert route.call_count == 1 + len(graph.RETRY_DELAYS)


def test_a_permanent_error_is_not_retried_and_keeps_metas_code_and_title(
    meta: respx.MockRouter, pauses: list[float]
) -> None:
    # given Meta refusing free text outside the 24-hour window
    details = "Message failed to send because more than 24 hours have passed since the customer last replied."
    route = meta.post(URL).mock(
        return_value=httpx.Response(400, json=meta_error(131047, "(#131047) Re-engagement message", details))
    )
    # when sent / then one attempt, and the error says what Meta said
    with pytest.raises(graph.GraphError) as refused:
        run(graph.send("106540352242922", TOKEN, BODY))
    assert route.call_count == 1
    assert not refused.value.transient
    assert refused.value.problem() == {
        "type": "/problems/whatsapp-error",
        "title": "(#131047) Re-engagement message",
        "status": 502,
        "detail": details,
        "code": 131047,
        "http_status": 400,
    }
    assert TOKEN not in str(refused.value)


def test_an_answer_without_a_message_id_is_an_error(meta: respx.MockRouter, pauses: list[float]) -> None:
    meta.post(URL).mock(return_value=httpx.Response(200, json={"messaging_product": "whatsapp"}))
    with pytest.raises(graph.GraphError):
        run(graph.send("106540352242922", TOKEN, BODY))
