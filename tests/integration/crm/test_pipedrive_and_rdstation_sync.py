"""Outbound to Pipedrive and RD Station through the outbox, the cron, SQS (moto) and the delivery worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.crm.conftest import LeadSetup
from tests.integration.crm.fakes import PIPEDRIVE_TOKEN, RD_ACCESS_TOKEN, RD_API_KEY, FakeCrm

pytestmark = pytest.mark.integration
Sync = Callable[[uuid.UUID], tuple[dict[str, Any], list[dict[str, Any]]]]


def test_pipedrive_finds_or_creates_the_person_then_creates_and_wins_the_deal(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
    crm_link: Callable[..., dict[str, Any] | None],
) -> None:
    # given a Pipedrive integration with a pipeline and a stage for qualified leads
    org = make_org()
    integration = connect(org, "pipedrive", config={"pipeline_id": 3, "qualified_stage_id": 12})
    lead = make_lead(org, name="Carla Dias", email="carla@example.com", phone="+5531988887777")
    # when the lead is qualified
    result, _ = sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    # then Pipedrive was searched by exact e-mail (token in the x-api-token header), then by phone
    assert result == {"batchItemFailures": []}
    searches = crm.made("GET", "/api/v1/persons/search")
    assert [(c.query["fields"], c.query["term"], c.query["exact_match"]) for c in searches] == [
        ("email", "carla@example.com", "true"),
        ("phone", "+5531988887777", "true"),
    ]
    assert {c.headers["x-api-token"] for c in crm.calls} == {PIPEDRIVE_TOKEN}
    assert all("api_token" not in c.query for c in crm.calls)
    # and a person and a deal were created in the configured pipeline and stage
    [(person_id, person)] = crm.persons.items()
    assert person == {"name": "Carla Dias", "emails": ["carla@example.com"], "phones": ["+5531988887777"]}
    [(deal_id, deal)] = crm.pd_deals.items()
    assert deal == {
        "status": "open",
        "title": "Carla Dias (Conversion Agents)",
        "person_id": person_id,
        "stage_id": 12,
        "pipeline_id": 3,
    }
    # when the lead converts / then the same deal is won with the value and currency
    conversion = {"lead_id": str(lead.id), "value": 2400, "currency": "BRL"}
    result, _ = sync(emit_event(org["id"], "conversion.created", conversion))
    assert result == {"batchItemFailures": []}
    [put] = crm.made("PUT", f"/api/v1/deals/{deal_id}")
    assert put.body == {"status": "won", "value": 2400.0, "currency": "BRL"}
    assert len(crm.persons) == len(crm.pd_deals) == 1
    link = crm_link(integration["id"], lead.id)
    assert link is not None
    assert (link["contact_id"], link["deal_id"], link["synced_step"]) == (str(person_id), str(deal_id), "converted")


def test_pipedrive_reuses_a_person_found_by_email(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> None:
    # given a person Pipedrive already has with the lead's e-mail
    crm.persons[42] = {"name": "Bruno", "emails": ["bruno@example.com"], "phones": []}
    org = make_org()
    connect(org, "pipedrive")
    lead = make_lead(org, email="bruno@example.com")
    # when the lead is qualified / then no person is created and the deal belongs to the existing one
    sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    assert crm.made("POST", "/api/v1/persons") == []
    [deal] = crm.pd_deals.values()
    assert deal["person_id"] == 42
    assert "stage_id" not in deal


def test_rdstation_gets_a_conversion_event_with_the_documented_body(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> None:
    # given an RD Station integration with an API key
    org = make_org()
    connect(org, "rdstation", config={"qualified_identifier": "lead-qualificado-whatsapp"})
    lead = make_lead(org, name="Davi Rocha", email="davi@example.com", phone="+5541977776666")
    # when the lead is qualified
    result, _ = sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    # then RD Station received one CONVERSION event (CDP family) with the API key as the query parameter
    assert result == {"batchItemFailures": []}
    [call] = crm.made("POST", "/platform/conversions")
    assert call.query == {"api_key": RD_API_KEY}
    assert call.body == {
        "event_type": "CONVERSION",
        "event_family": "CDP",
        "payload": {
            "conversion_identifier": "lead-qualificado-whatsapp",
            "email": "davi@example.com",
            "name": "Davi Rocha",
            "mobile_phone": "+5541977776666",
            "tags": ["conversion-agents"],
        },
    }


def test_rdstation_gets_a_sale_for_a_conversion_when_it_has_an_access_token(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> None:
    # given an RD Station integration with an OAuth access token
    org = make_org()
    credentials = {"access_token": RD_ACCESS_TOKEN, "webhook_token": "rd-webhook-token-a1b2c3d4e5f6"}
    connect(org, "rdstation", credentials=credentials, config={"funnel_name": "vendas"})
    lead = make_lead(org, email="eva@example.com")
    # when the lead converts
    result, _ = sync(emit_event(org["id"], "conversion.created", {"lead_id": str(lead.id), "value": "980.00"}))
    # then a SALE event went to /platform/events with the bearer token
    assert result == {"batchItemFailures": []}
    [call] = crm.made("POST", "/platform/events")
    assert call.headers["authorization"] == f"Bearer {RD_ACCESS_TOKEN}"
    assert call.body == {
        "event_type": "SALE",
        "event_family": "CDP",
        "payload": {"email": "eva@example.com", "funnel_name": "vendas", "value": 980.0},
    }


def test_rdstation_skips_a_lead_without_an_email(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
    crm_link: Callable[..., dict[str, Any] | None],
) -> None:
    # given a lead known only by phone
    org = make_org()
    integration = connect(org, "rdstation")
    lead = make_lead(org, phone="+5551966665555")
    # when it is qualified / then nothing is sent, nothing is retried, and the link says why
    result, _ = sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    assert result == {"batchItemFailures": []}
    assert crm.calls == []
    link = crm_link(integration["id"], lead.id)
    assert link is not None
    assert (link["last_status"], link["synced_step"]) == ("skipped", None)
    assert "e-mail" in link["last_error"]
