"""Pipedrive's and RD Station's webhooks through the real handlers: basic auth, webhook token, won and lost."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.integration.crm.conftest import PIPEDRIVE_PASSWORD, PIPEDRIVE_USER, RD_WEBHOOK_TOKEN, LeadSetup
from tests.integration.crm.fakes import FakeCrm
from tests.support.api import LambdaApi, LambdaResponse

pytestmark = pytest.mark.integration


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _v2_deal(deal_id: int, status: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Pipedrive's webhooks v2 body for a changed deal."""
    meta = {"action": "change", "entity": "deal", "entity_id": str(deal_id), "version": "2.0", "company_id": "12882925"}
    data = {"id": deal_id, "title": "Deal", "value": 7350.5, "currency": "EUR", "status": status, "person_id": 3}
    return {
        "meta": {**meta, "host": "acme.pipedrive.com", "timestamp": "2026-11-05T12:00:00Z"},
        "data": data,
        "previous": previous,
    }


def _conversions(database_url: str, lead_id: uuid.UUID) -> tuple[str, list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as conn:
        stage = conn.execute("select stage::text from public.leads where id = %s", (lead_id,)).fetchone()
        rows = conn.execute(
            "select value::text, currency, source, external_id, agent_version"
            " from public.conversions where lead_id = %s",
            (lead_id,),
        ).fetchall()
    assert stage is not None
    return str(stage[0]), rows


@pytest.fixture
def linked(database_url: str) -> Callable[[dict[str, Any], uuid.UUID, str], None]:
    """Link a lead to a deal the integration created (as an earlier sync would have)."""

    def _link(integration: dict[str, Any], lead_id: uuid.UUID, deal_id: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "insert into public.crm_links (organization_id, integration_id, lead_id, deal_id, synced_step)"
                " values (%s, %s, %s, %s, 'qualified')",
                (integration["organization_id"], integration["id"], lead_id, deal_id),
            )

    return _link


@pytest.fixture
def pipedrive_lead(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    linked: Callable[[dict[str, Any], uuid.UUID, str], None],
) -> tuple[dict[str, Any], LeadSetup]:
    org = make_org()
    integration = connect(org, "pipedrive")
    lead = make_lead(org, email="pd@example.com")
    linked(integration, lead.id, "731")
    return integration, lead


def _pipedrive(api: LambdaApi, integration: dict[str, Any], body: Any, headers: dict[str, str]) -> LambdaResponse:
    return api.call("POST", f"/webhooks/pipedrive/{integration['id']}", raw_body=json.dumps(body), headers=headers)


def test_a_pipedrive_deal_won_with_valid_basic_auth_becomes_one_conversion(
    api: LambdaApi, pipedrive_lead: tuple[dict[str, Any], LeadSetup], database_url: str
) -> None:
    integration, lead = pipedrive_lead
    body = _v2_deal(731, "won", {"status": "open"})
    # when Pipedrive reports the deal won, twice (a redelivery)
    first = _pipedrive(api, integration, body, _basic(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD))
    second = _pipedrive(api, integration, body, _basic(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD))
    # then one conversion with the deal's value and currency, credited to agent version 1
    assert (first.status, first.json()["recorded"], second.json()["recorded"]) == (200, 1, 0)
    assert _conversions(database_url, lead.id) == ("converted", [("7350.50", "EUR", "pipedrive", "deal:731", 1)])


@pytest.mark.parametrize(
    "headers",
    [
        _basic(PIPEDRIVE_USER, "wrong-password-123"),
        _basic("someone-else", PIPEDRIVE_PASSWORD),
        {"authorization": "Bearer " + PIPEDRIVE_PASSWORD},
        {},
    ],
    ids=["wrong password", "wrong user", "not basic", "none"],
)
def test_pipedrive_without_the_right_basic_auth_is_401_and_stores_nothing(
    api: LambdaApi, pipedrive_lead: tuple[dict[str, Any], LeadSetup], database_url: str, headers: dict[str, str]
) -> None:
    integration, lead = pipedrive_lead
    response = _pipedrive(api, integration, _v2_deal(731, "won", {"status": "open"}), headers)
    assert response.status == 401, response.body
    assert _conversions(database_url, lead.id) == ("qualified", [])


def test_a_pipedrive_v1_lost_deal_marks_the_lead_lost(
    api: LambdaApi, pipedrive_lead: tuple[dict[str, Any], LeadSetup], database_url: str
) -> None:
    integration, lead = pipedrive_lead
    # given a webhooks v1 body ("updated.deal", current and previous)
    deal = {"id": 731, "title": "Deal", "value": 100, "currency": "BRL", "update_time": "2026-11-05 12:00:00"}
    body = {
        "v": 1,
        "event": "updated.deal",
        "meta": {"v": 1, "action": "updated", "object": "deal", "id": 731, "company_id": 12882925},
        "current": {**deal, "status": "lost"},
        "previous": {**deal, "status": "open"},
        "retry": 0,
    }
    # when it arrives with valid credentials / then the lead is lost, with no conversion
    response = _pipedrive(api, integration, body, _basic(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD))
    assert response.json() == {"received": 1, "recorded": 1}
    assert _conversions(database_url, lead.id) == ("lost", [])


def test_a_pipedrive_change_that_keeps_the_status_is_ignored(
    api: LambdaApi, pipedrive_lead: tuple[dict[str, Any], LeadSetup], database_url: str
) -> None:
    integration, lead = pipedrive_lead
    # when a won deal's title changes (v2 sends only the changed fields in previous)
    body = _v2_deal(731, "won", {"title": "Old title"})
    response = _pipedrive(api, integration, body, _basic(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD))
    # then nothing is recorded
    assert response.json() == {"received": 1, "recorded": 0}
    assert _conversions(database_url, lead.id) == ("qualified", [])


def test_an_unknown_pipedrive_integration_is_404(api: LambdaApi, crm: FakeCrm) -> None:
    body = json.dumps(_v2_deal(1, "won", None))
    headers = _basic(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD)
    response = api.call("POST", f"/webhooks/pipedrive/{uuid.uuid4()}", raw_body=body, headers=headers)
    assert response.status == 404, response.body


@pytest.fixture
def rd(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
) -> tuple[dict[str, Any], LeadSetup]:
    org = make_org()
    integration = connect(org, "rdstation", config={"value_field": "cf_valor_venda"})
    return integration, make_lead(org, email="cliente@example.com")


def _classic(email: str, stage: str) -> dict[str, Any]:
    """RD Station's classic webhook body: {"leads": [...]}."""
    lead = {
        "id": "274",
        "uuid": "c2f3d2b3-7250-4d27-97f4-eef38be32f7f",
        "email": email,
        "name": "Cliente",
        "lead_stage": stage,
        "opportunity": "true",
        "custom_fields": {"cf_valor_venda": "1200.00"},
        "last_conversion": {"content": {"identificador": "compra"}, "created_at": "2026-11-05T12:00:00.000-03:00"},
    }
    return {"leads": [lead]}


def test_an_rdstation_customer_with_the_token_becomes_one_conversion(
    api: LambdaApi, rd: tuple[dict[str, Any], LeadSetup], database_url: str
) -> None:
    integration, lead = rd
    path = f"/webhooks/rdstation/{integration['id']}?token={RD_WEBHOOK_TOKEN}"
    body = json.dumps(_classic("Cliente@Example.com", "Cliente"))
    # when RD Station reports the contact became a customer, twice
    first, second = api.call("POST", path, raw_body=body), api.call("POST", path, raw_body=body)
    # then the lead (matched by e-mail) converts once, with the value from the configured field
    assert (first.status, first.json(), second.json()["recorded"]) == (200, {"received": 1, "recorded": 1}, 0)
    expected = ("1200.00", "BRL", "rdstation", "contact:c2f3d2b3-7250-4d27-97f4-eef38be32f7f", 1)
    assert _conversions(database_url, lead.id) == ("converted", [expected])


def test_the_newer_rdstation_payload_and_the_header_token_work_too(
    api: LambdaApi, rd: tuple[dict[str, Any], LeadSetup], database_url: str
) -> None:
    integration, lead = rd
    contact = {
        "uuid": "0d1c",
        "email": "cliente@example.com",
        "funnel": {"lifecycle_stage": "Client", "opportunity": True},
    }
    body = {"event_type": "WEBHOOK.MARKED_OPPORTUNITY", "entity_type": "CONTACT", "contact": contact}
    response = api.call(
        "POST",
        f"/webhooks/rdstation/{integration['id']}",
        raw_body=json.dumps(body),
        headers={"x-webhook-token": RD_WEBHOOK_TOKEN},
    )
    assert response.json() == {"received": 1, "recorded": 1}
    assert _conversions(database_url, lead.id)[0] == "converted"


@pytest.mark.parametrize("query", ["?token=not-the-token-000000", ""])
def test_rdstation_without_the_token_is_401_and_stores_nothing(
    api: LambdaApi, rd: tuple[dict[str, Any], LeadSetup], database_url: str, query: str
) -> None:
    integration, lead = rd
    body = json.dumps(_classic("cliente@example.com", "Cliente"))
    response = api.call("POST", f"/webhooks/rdstation/{integration['id']}{query}", raw_body=body)
    assert response.status == 401, response.body
    assert _conversions(database_url, lead.id) == ("qualified", [])


def test_a_lead_with_no_conversation_still_converts_without_an_agent(
    api: LambdaApi, rd: tuple[dict[str, Any], LeadSetup], database_url: str
) -> None:
    integration, _ = rd
    # given a lead that never talked to an agent (imported, say)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.leads (organization_id, email) values (%s, 'imported@example.com') returning id",
            (integration["organization_id"],),
        ).fetchone()
    assert row is not None
    # when RD Station reports the contact became a customer
    body = json.dumps(_classic("imported@example.com", "Cliente"))
    response = api.call("POST", f"/webhooks/rdstation/{integration['id']}?token={RD_WEBHOOK_TOKEN}", raw_body=body)
    # then the conversion is recorded, credited to no agent
    assert response.json()["recorded"] == 1
    stage, [(value, _, source, _, agent_version)] = _conversions(database_url, row[0])
    assert (stage, value, source, agent_version) == ("converted", "1200.00", "rdstation", None)
