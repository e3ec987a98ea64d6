"""End to end: app.emit_event → the dispatch cron → SQS (moto) → the delivery worker → a local receiver."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from shared.events.retry import MAX_ATTEMPTS
from shared.webhooks.signing import verify
from tests.integration.webhooks.conftest import EventsQueue, Receiver
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration
Invoke = Callable[[dict[str, Any]], dict[str, Any]]
PAYLOAD = {"lead_id": "b7e1c3d2", "nome": "João da Silva", "score": 82}


def _log(api: LambdaApi, org: dict[str, Any], endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.call("GET", f"/webhook-endpoints/{endpoint['id']}/deliveries", token=org["viewer"].token)
    assert response.status == 200, response.body
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_an_emitted_event_reaches_the_endpoint_signed_and_is_logged(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    emit_event: Callable[..., uuid.UUID],
    receiver: Receiver,
    events_queue: EventsQueue,
    dispatch: Callable[[], dict[str, Any]],
    deliver: Invoke,
) -> None:
    # given an endpoint subscribed to lead.qualified, and such an event committed by the service path
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    event_id = emit_event(org["id"], "lead.qualified", PAYLOAD)
    # when the dispatch cron runs / then one message is queued for the endpoint
    assert dispatch()["failed_events"] == 0
    messages = events_queue.receive(event_id)
    assert len(messages) == 1
    # when the worker handles it
    result = deliver(events_queue.event(messages))
    events_queue.settle(messages, result)
    # then nothing failed, and the receiver got one POST signed with the endpoint's secret
    assert result == {"batchItemFailures": []}
    [request] = receiver.requests
    assert verify(request.body, request.headers["ca-signature"], endpoint["secret"])
    assert request.headers["ca-event-id"] == f"evt_{event_id.hex}"
    assert request.headers["ca-event-type"] == "lead.qualified"
    event = json.loads(request.body)
    assert (event["id"], event["type"], event["data"]) == (f"evt_{event_id.hex}", "lead.qualified", PAYLOAD)
    # and the delivery log, readable by a viewer, shows the attempt succeeded
    [attempt] = _log(api, org, endpoint)
    assert attempt["id"] == request.headers["ca-delivery-id"]
    assert (attempt["status"], attempt["attempt"], attempt["response_status"]) == ("succeeded", 1, 200)
    assert (attempt["event_id"], attempt["next_attempt_at"]) == (f"evt_{event_id.hex}", None)
    assert attempt["response_body"] == '{"received": true}'
    # and the event is dispatched, so the next cron run queues nothing more for it
    dispatch()
    assert events_queue.receive(event_id) == []


def test_a_refused_delivery_is_retried_later_with_the_same_event_id_and_a_new_delivery_id(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    emit_event: Callable[..., uuid.UUID],
    receiver: Receiver,
    events_queue: EventsQueue,
    dispatch: Callable[[], dict[str, Any]],
    deliver: Invoke,
) -> None:
    # given a queued delivery to a receiver that answers 500 once, then 200
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    event_id = emit_event(org["id"], "lead.qualified", PAYLOAD)
    receiver.answer(500)
    dispatch()
    [message] = events_queue.receive(event_id)
    # when the worker handles it
    result = deliver(events_queue.event([message]))
    events_queue.settle([message], result)
    # then the record is reported as a batch item failure
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    # and the log shows the failed attempt with the 500 and when the next one is due (about a minute)
    [failed] = _log(api, org, endpoint)
    assert (failed["status"], failed["attempt"], failed["response_status"]) == ("failed", 1, 500)
    assert failed["error"] == "answered 500"
    assert failed["response_body"] == "receiver is down"
    due_in = datetime.fromisoformat(failed["next_attempt_at"]) - datetime.now(UTC)
    assert timedelta(seconds=20) < due_in <= timedelta(seconds=60)
    # and SQS holds the message back for that backoff
    assert events_queue.receive(event_id) == []
    # when the backoff has passed and the worker receives the message again
    events_queue.make_visible(message)
    [again] = events_queue.receive(event_id)
    result = deliver(events_queue.event([again]))
    events_queue.settle([again], result)
    # then it succeeds, with the same event id and a new delivery id
    assert result == {"batchItemFailures": []}
    first, second = receiver.requests
    assert first.headers["ca-event-id"] == second.headers["ca-event-id"] == f"evt_{event_id.hex}"
    assert first.headers["ca-delivery-id"] != second.headers["ca-delivery-id"]
    assert json.loads(first.body) == json.loads(second.body)
    assert verify(second.body, second.headers["ca-signature"], endpoint["secret"])
    retried, original = _log(api, org, endpoint)
    assert (retried["status"], retried["attempt"], retried["id"]) == ("succeeded", 2, second.headers["ca-delivery-id"])
    assert original["id"] == first.headers["ca-delivery-id"]


def test_after_the_last_attempt_the_message_goes_to_the_dead_letter_queue(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    emit_event: Callable[..., uuid.UUID],
    receiver: Receiver,
    events_queue: EventsQueue,
    dispatch: Callable[[], dict[str, Any]],
    deliver: Invoke,
) -> None:
    # given a receiver that is always down
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    event_id = emit_event(org["id"], "lead.qualified", PAYLOAD)
    receiver.default = 503
    dispatch()
    # when every attempt the schedule allows fails (each backoff cut short)
    for _ in range(MAX_ATTEMPTS):
        [message] = events_queue.receive(event_id)
        result = deliver(events_queue.event([message]))
        assert result["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
        events_queue.make_visible(message)
    # then the log shows every attempt failed, the last with no next attempt
    log = _log(api, org, endpoint)
    assert [a["attempt"] for a in log] == list(range(MAX_ATTEMPTS, 0, -1))
    assert {a["status"] for a in log} == {"failed"}
    assert log[0]["next_attempt_at"] is None
    assert all(a["next_attempt_at"] for a in log[1:])
    # and SQS moves the message to the dead-letter queue instead of delivering it again
    assert events_queue.receive(event_id) == []
    assert len(events_queue.receive(event_id, dead=True)) == 1
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_during_a_rotation_deliveries_carry_a_signature_for_each_secret(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    emit_event: Callable[..., uuid.UUID],
    receiver: Receiver,
    events_queue: EventsQueue,
    dispatch: Callable[[], dict[str, Any]],
    deliver: Invoke,
) -> None:
    # given an endpoint whose secret was just rotated (the old one in its grace period)
    org = make_org()
    endpoint = make_endpoint(org, receiver.url)
    rotated = api.call("POST", f"/webhook-endpoints/{endpoint['id']}/rotate-secret", token=org["admin"].token).json()
    event_id = emit_event(org["id"], "lead.qualified", PAYLOAD)
    # when an event is delivered
    dispatch()
    messages = events_queue.receive(event_id)
    events_queue.settle(messages, deliver(events_queue.event(messages)))
    # then its signature verifies with the new secret and with the old one
    [request] = receiver.requests
    header = request.headers["ca-signature"]
    assert header.count("v1=") == 2
    assert verify(request.body, header, rotated["secret"])
    assert verify(request.body, header, endpoint["secret"])


def test_only_enabled_endpoints_subscribed_to_the_type_receive_it(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    emit_event: Callable[..., uuid.UUID],
    receiver: Receiver,
    events_queue: EventsQueue,
    dispatch: Callable[[], dict[str, Any]],
    deliver: Invoke,
) -> None:
    # given three endpoints: one subscribed, one to another type, one subscribed but later disabled
    org, other_org = make_org(), make_org()
    wanted = make_endpoint(org, receiver.url, ["conversion.created"])
    make_endpoint(org, receiver.url, ["handoff.requested"])
    make_endpoint(other_org, receiver.url, ["conversion.created"])
    disabled = make_endpoint(org, receiver.url, ["conversion.created"])
    event_id = emit_event(org["id"], "conversion.created", {"conversion_id": "c1", "value": 1500})
    # when the event is dispatched / then only the two subscribed endpoints of its organization get a message
    dispatch()
    messages = events_queue.receive(event_id)
    assert sorted(json.loads(m["Body"])["subscriber_id"] for m in messages) == sorted([wanted["id"], disabled["id"]])
    # when one is disabled before the worker runs
    api.call("PATCH", f"/webhook-endpoints/{disabled['id']}", token=org["admin"].token, body={"enabled": False})
    result = deliver(events_queue.event(messages))
    events_queue.settle(messages, result)
    # then only the enabled one is called, and the skipped job is not retried
    assert result == {"batchItemFailures": []}
    assert len(receiver.requests) == 1
    assert _log(api, org, disabled) == []


def test_concurrent_dispatchers_never_queue_an_event_twice(
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    emit_event: Callable[..., uuid.UUID],
    receiver: Receiver,
    events_queue: EventsQueue,
    dispatch: Callable[[], dict[str, Any]],
    database_url: str,
) -> None:
    # given an event another dispatcher has claimed (its row locked, its transaction still open)
    org = make_org()
    make_endpoint(org, receiver.url)
    event_id = emit_event(org["id"], "lead.qualified", PAYLOAD)
    with psycopg.connect(database_url) as other:
        claimed = other.execute(
            "select id from public.event_outbox where id = %s for update skip locked", (event_id,)
        ).fetchall()
        assert len(claimed) == 1
        # when this dispatcher runs meanwhile / then it skips the claimed row instead of waiting or sending it
        dispatch()
        assert events_queue.receive(event_id) == []
        other.rollback()
    # when the claim is released / then the next run queues it exactly once, and later runs never again
    dispatch()
    assert len(events_queue.receive(event_id)) == 1
    dispatch()
    assert events_queue.receive(event_id) == []
