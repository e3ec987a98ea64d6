"""Outbound to HubSpot through the outbox, the dispatch cron, SQS (moto) and the delivery worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.crm.conftest import LeadSetup
from tests.integration.crm.fakes import FakeCrm
from tests.integration.webhooks.conftest import EventsQueue

pytestmark = pytest.mark.integration
Sync = Callable[[uuid.UUID], tuple[dict[str, Any], list[dict[str, Any]]]]


def test_a_qualified_lead_becomes_a_new_contact_with_a_deal_associated_to_it(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
    crm_link: Callable[..., dict[str, Any] | None],
) -> None:
    # given a HubSpot integration and a lead HubSpot does not know
    org = make_org()
    integration = connect(org, "hubspot", config={"pipeline": "default", "qualified_stage": "qualifiedtobuy"})
    lead = make_lead(org, name="Maria Souza", email="maria@example.com", phone="+5511987654321")
    event_id = emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id), "score": 85})
    # when the event is dispatched and delivered
    result, _ = sync(event_id)
    # then it succeeded: HubSpot was searched by e-mail or phone, then a contact and a deal were created
    assert result == {"batchItemFailures": []}
    [search] = crm.made("POST", "/contacts/search")
    assert search.headers["authorization"].startswith("Bearer pat-na1-")
    assert search.body["filterGroups"] == [
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "maria@example.com"}]},
        {"filters": [{"propertyName": "phone", "operator": "EQ", "value": "+5511987654321"}]},
    ]
    [contact_id] = crm.contacts
    assert crm.contacts[contact_id] == {
        "email": "maria@example.com",
        "phone": "+5511987654321",
        "firstname": "Maria",
        "lastname": "Souza",
    }
    [deal_id] = crm.deals
    deal = crm.deals[deal_id]
    assert deal["properties"] == {
        "dealname": "Maria Souza (Conversion Agents)",
        "pipeline": "default",
        "dealstage": "qualifiedtobuy",
    }
    assert deal["associations"] == [
        {"to": {"id": contact_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}
    ]
    # and the link remembers both ids, for retries and later events
    link = crm_link(integration["id"], lead.id)
    assert link is not None
    assert (link["contact_id"], link["deal_id"], link["synced_step"]) == (contact_id, deal_id, "qualified")
    assert (link["last_event_id"], link["last_status"], link["lease_id"]) == (event_id, "succeeded", None)


def test_later_events_for_the_same_lead_update_the_contact_and_the_deal_instead_of_duplicating_them(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> None:
    # given a lead already synced once (contact and deal created)
    org = make_org()
    connect(org, "hubspot", config={"handoff_stage": "presentationscheduled", "won_stage": "closedwon"})
    lead = make_lead(org, email="joao@example.com")
    sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    [contact_id], [deal_id] = list(crm.contacts), list(crm.deals)
    # when the lead is handed off, then converts
    sync(emit_event(org["id"], "handoff.requested", {"lead_id": str(lead.id), "reason": "asked"}))
    conversion = {"lead_id": str(lead.id), "conversion_id": str(uuid.uuid4()), "value": 1500.5, "currency": "BRL"}
    result, _ = sync(emit_event(org["id"], "conversion.created", conversion))
    # then the same contact and deal were updated: no second contact, no second deal
    assert result == {"batchItemFailures": []}
    assert (list(crm.contacts), list(crm.deals)) == ([contact_id], [deal_id])
    assert len(crm.made("POST", "/crm/v3/objects/contacts", exact=True)) == 1
    assert len(crm.made("PATCH", f"/crm/v3/objects/contacts/{contact_id}")) == 2
    patches = [c.body["properties"] for c in crm.made("PATCH", f"/crm/v3/objects/deals/{deal_id}")]
    assert patches == [{"dealstage": "presentationscheduled"}, {"dealstage": "closedwon", "amount": "1500.5"}]


def test_a_late_event_never_moves_a_deal_back(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> None:
    # given a lead whose deal was won
    org = make_org()
    connect(org, "hubspot")
    lead = make_lead(org, email="late@example.com")
    sync(emit_event(org["id"], "conversion.created", {"lead_id": str(lead.id), "value": 10}))
    [deal_id] = crm.deals
    # when a lead.qualified for it arrives late
    result, _ = sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    # then the contact is refreshed but the deal stays won
    assert result == {"batchItemFailures": []}
    assert crm.deals[deal_id]["properties"]["dealstage"] == "closedwon"
    assert crm.made("PATCH", "/deals/") == []


def test_a_lead_with_only_a_phone_is_matched_to_the_contact_with_that_phone(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> None:
    # given a contact HubSpot already has with the lead's phone, and a lead with no e-mail
    crm.contacts["77"] = {"phone": "+5521999998888", "firstname": "Ana"}
    org = make_org()
    connect(org, "hubspot")
    lead = make_lead(org, name="Ana Lima", phone="+5521999998888")
    # when the lead is synced
    result, _ = sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    # then HubSpot was searched by phone only, the existing contact updated, and the deal associated to it
    assert result == {"batchItemFailures": []}
    [search] = crm.made("POST", "/contacts/search")
    assert search.body["filterGroups"] == [
        {"filters": [{"propertyName": "phone", "operator": "EQ", "value": "+5521999998888"}]}
    ]
    assert crm.made("POST", "/crm/v3/objects/contacts", exact=True) == []
    assert crm.contacts["77"] == {"phone": "+5521999998888", "firstname": "Ana", "lastname": "Lima"}
    [deal] = crm.deals.values()
    assert deal["associations"][0]["to"] == {"id": "77"}


def test_a_contact_the_search_index_has_not_seen_yet_is_taken_from_the_conflict(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> None:
    # given a contact HubSpot's search does not return yet (its index lags), but whose e-mail exists
    crm.contacts["88"] = {"email": "fresh@example.com"}
    crm.fail_next("/contacts/search", 200, {"total": 0, "results": []})
    org = make_org()
    connect(org, "hubspot")
    lead = make_lead(org, email="fresh@example.com")
    # when the lead is synced / then the 409's "Existing ID" is used, and the deal goes to that contact
    result, _ = sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    assert result == {"batchItemFailures": []}
    [deal] = crm.deals.values()
    assert deal["associations"][0]["to"] == {"id": "88"}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, {"status": "error", "message": "You have reached your secondly limit.", "category": "RATE_LIMITS"}),
        (500, {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"}),
    ],
)
def test_a_rate_limit_or_an_outage_is_retried_later_with_the_same_event(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
    deliver: Callable[[dict[str, Any]], dict[str, Any]],
    events_queue: EventsQueue,
    crm_link: Callable[..., dict[str, Any] | None],
    status: int,
    body: dict[str, Any],
) -> None:
    # given HubSpot answering the deal creation with a rate limit (or an error) once
    org = make_org()
    integration = connect(org, "hubspot")
    lead = make_lead(org, email="retry@example.com")
    event_id = emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)})
    crm.fail_next("/crm/v3/objects/deals", status, body)
    # when the worker delivers it
    result, [message] = sync(event_id)
    # then the record is reported failed, held back by the backoff, and the link says why
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert events_queue.receive(event_id) == []
    link = crm_link(integration["id"], lead.id)
    assert link is not None
    assert (link["last_status"], link["deal_id"], link["lease_id"]) == ("failed", None, None)
    assert f"answered {status}" in link["last_error"]
    # when the backoff has passed / then the same message (same event) is delivered, and one deal exists
    events_queue.make_visible(message)
    [again] = events_queue.receive(event_id)
    assert again["Body"] == message["Body"]
    result = deliver(events_queue.event([again]))
    events_queue.settle([again], result)
    assert result == {"batchItemFailures": []}
    assert len(crm.deals) == 1
    assert len(crm.contacts) == 1
    link = crm_link(integration["id"], lead.id)
    assert link is not None
    assert (link["last_event_id"], link["last_status"], link["deal_id"]) == (
        event_id,
        "succeeded",
        next(iter(crm.deals)),
    )


def test_a_validation_error_fails_the_delivery_for_good_without_retries(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
    events_queue: EventsQueue,
    crm_link: Callable[..., dict[str, Any] | None],
) -> None:
    # given HubSpot refusing the deal (an unknown stage, say)
    org = make_org()
    integration = connect(org, "hubspot", config={"qualified_stage": "nosuchstage"})
    lead = make_lead(org, email="bad@example.com")
    event_id = emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)})
    message = "Property values were not valid: dealstage nosuchstage"
    crm.fail_next("/crm/v3/objects/deals", 400, {"status": "error", "message": message, "category": "VALIDATION_ERROR"})
    # when the worker delivers it
    result, _ = sync(event_id)
    # then the record is not retried (no batch item failure, nothing left in the queue)
    assert result == {"batchItemFailures": []}
    assert events_queue.receive(event_id) == []
    assert len(crm.made("POST", "/crm/v3/objects/deals")) == 1
    # and the link keeps HubSpot's message
    link = crm_link(integration["id"], lead.id)
    assert link is not None
    assert link["last_status"] == "rejected"
    assert message in link["last_error"]


def test_a_disabled_integration_gets_nothing(
    crm: FakeCrm,
    api: Any,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    cron: Callable[[], dict[str, Any]],
    events_queue: EventsQueue,
) -> None:
    # given a disabled HubSpot integration
    org = make_org()
    connect(org, "hubspot", enabled=False)
    lead = make_lead(org, email="off@example.com")
    event_id = emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)})
    # when the event is dispatched / then no delivery is queued and HubSpot hears nothing
    cron()
    assert events_queue.receive(event_id) == []
    assert crm.calls == []
