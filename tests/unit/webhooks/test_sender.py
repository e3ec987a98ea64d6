"""One signed POST (respx at the HTTP boundary): the envelope, the headers, and what is logged back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from shared import public_urls
from shared.webhooks.sender import Target, post
from shared.webhooks.signing import verify
from tests.support.aio import run

URL = "https://hooks.example.com/ca?token=s3cr3t"
PUBLIC_IP = "93.184.216.34"
# The request goes to the address the guard checked; Host and SNI keep the name.
PINNED = f"https://{PUBLIC_IP}/ca?token=s3cr3t"
SECRETS = ["whsec_new0000000000000000000000000000", "whsec_old0000000000000000000000000000"]


@pytest.fixture
def target() -> Target:
    return Target(
        endpoint_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        url=URL,
        secrets=SECRETS,
        event_id=uuid.uuid4(),
        event_type="lead.qualified",
        payload={"lead_id": "42", "nome": "João"},
        created_at=datetime(2026, 11, 4, 12, 0, tzinfo=UTC),
    )


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, app_env_is: Callable[[str], None]) -> Iterator[respx.MockRouter]:
    app_env_is("prod")

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "hooks.example.com"
        return [PUBLIC_IP]

    monkeypatch.setattr(public_urls, "resolver", resolve)  # no DNS query leaves the test
    with respx.mock(assert_all_called=False) as router:
        yield router


def test_the_post_carries_the_event_signed_with_every_active_secret(target: Target, receiver: respx.MockRouter) -> None:
    # given a receiver that accepts
    route = receiver.post(PINNED).mock(return_value=httpx.Response(204))
    delivery_id = uuid.uuid4()
    # when the event is posted
    response = run(post(target, delivery_id))
    # then it succeeded, and the receiver got the envelope with the ids in headers
    assert response.ok
    assert response.status == 204
    request = route.calls.last.request
    body = json.loads(request.content)
    assert body["id"] == f"evt_{target.event_id.hex}"
    assert (body["type"], body["data"], body["organization_id"]) == (
        "lead.qualified",
        {"lead_id": "42", "nome": "João"},
        str(target.organization_id),
    )
    assert request.headers["ca-event-id"] == body["id"]
    assert request.headers["ca-delivery-id"] == f"dlv_{delivery_id.hex}"
    assert request.headers["ca-event-type"] == "lead.qualified"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert "João".encode() in request.content
    # and each secret verifies the raw bytes on its own
    for secret in SECRETS:
        assert verify(request.content, request.headers["ca-signature"], secret)


def test_a_refusal_keeps_only_the_first_kilobyte_of_the_answer(target: Target, receiver: respx.MockRouter) -> None:
    # given a receiver answering 500 with a long body
    receiver.post(PINNED).mock(return_value=httpx.Response(500, content=b"x" * 5000))
    # when the event is posted / then it failed, with the status and a 1 KB excerpt
    response = run(post(target, uuid.uuid4()))
    assert not response.ok
    assert (response.status, response.error) == (500, "answered 500")
    assert response.body == "x" * 1024


def test_a_redirect_is_not_followed(target: Target, receiver: respx.MockRouter) -> None:
    receiver.post(PINNED).mock(return_value=httpx.Response(301, headers={"location": "https://elsewhere.example/"}))
    response = run(post(target, uuid.uuid4()))
    assert not response.ok
    assert response.status == 301


@pytest.mark.parametrize(
    ("error", "expected"),
    [(httpx.ConnectTimeout("slow"), "timed out"), (httpx.ConnectError(f"cannot reach {URL}"), "ConnectError")],
)
def test_network_failures_are_returned_without_the_url(
    target: Target, receiver: respx.MockRouter, error: Exception, expected: str
) -> None:
    # given an unreachable receiver whose URL embeds a token
    receiver.post(PINNED).mock(side_effect=error)
    # when the event is posted / then the failure is reported, and its text never repeats the URL
    response = run(post(target, uuid.uuid4()))
    assert not response.ok
    assert response.status is None
    assert expected in (response.error or "")
    assert "s3cr3t" not in (response.error or "")
