"""HubSpot's webhooks through the real handler: signature v3, routing by portal, won deals become conversions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.integration.crm.conftest import CLIENT_SECRET, LeadSetup
from tests.integration.crm.fakes import FakeCrm
from tests.support.api import LambdaApi, LambdaResponse

pytestmark = pytest.mark.integration
HOST = "api.conversion-agents.example"
Sync = Callable[[uuid.UUID], tuple[dict[str, Any], list[dict[str, Any]]]]


def _post(
    api: LambdaApi, events: list[dict[str, Any]], *, age_ms: int = 0, secret: str = CLIENT_SECRET
) -> LambdaResponse:
    """POST events signed as HubSpot signs: base64(HMAC-SHA256(secret, method + URI + body + timestamp))."""
    body = json.dumps(events, separators=(",", ":"))
    timestamp = str(int(time.time() * 1000) - age_ms)
    source = "POST" + f"https://{HOST}/webhooks/hubspot" + body + timestamp
    signature = base64.b64encode(hmac.new(secret.encode(), source.encode(), hashlib.sha256).digest()).decode()
    headers = {"host": HOST, "x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": timestamp}
    return api.call("POST", "/webhooks/hubspot", raw_body=body, headers=headers)


def _stage_change(portal: str, deal_id: str, stage: str, event_id: int = 1001) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 2277,
        "portalId": int(portal),
        "appId": 4451,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    }


def _state(database_url: str, lead_id: uuid.UUID) -> tuple[str, list[dict[str, Any]]]:
    with psycopg.connect(database_url) as conn:
        stage = conn.execute("select stage::text from public.leads where id = %s", (lead_id,)).fetchone()
        cur = conn.execute(
            "select conversation_id, agent_id, agent_version, type, value::text as value, currency, source, external_id"
            " from public.conversions where lead_id = %s",
            (lead_id,),
        )
        names = [d.name for d in cur.description or []]
        conversions = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    assert stage is not None
    return str(stage[0]), conversions


@pytest.fixture
def won_deal(
    crm: FakeCrm,
    make_org: Callable[[], dict[str, Any]],
    connect: Callable[..., dict[str, Any]],
    make_lead: Callable[..., LeadSetup],
    emit_event: Callable[..., uuid.UUID],
    sync: Sync,
) -> tuple[dict[str, Any], LeadSetup, str]:
    """A lead whose deal this integration created (by syncing its qualification); the deal now has an amount."""
    org = make_org()
    integration = connect(org, "hubspot")
    lead = make_lead(org, email="won@example.com")
    sync(emit_event(org["id"], "lead.qualified", {"lead_id": str(lead.id)}))
    [deal_id] = crm.deals
    crm.deals[deal_id]["properties"].update({"amount": "4999.90", "deal_currency_code": "USD"})
    return integration, lead, deal_id


def test_a_won_deal_becomes_a_conversion_credited_to_the_agent_version_that_qualified_the_lead(
    api: LambdaApi, crm: FakeCrm, won_deal: tuple[dict[str, Any], LeadSetup, str], database_url: str
) -> None:
    integration, lead, deal_id = won_deal
    # when HubSpot reports the deal moved to closedwon, correctly signed
    response = _post(api, [_stage_change(integration["external_id"], deal_id, "closedwon")])
    # then it is accepted, and the deal's amount was read from HubSpot
    assert response.status == 200, response.body
    assert response.json() == {"received": 1, "recorded": 1}
    [read] = crm.made("GET", f"/crm/v3/objects/deals/{deal_id}")
    assert read.query == {"properties": "amount,deal_currency_code,dealstage"}
    # and one conversion exists: the deal's value, attributed to the qualifying conversation (version 1)
    stage, [conversion] = _state(database_url, lead.id)
    assert stage == "converted"
    assert conversion == {
        "conversation_id": lead.qualified_in,
        "agent_id": lead.agent_id,
        "agent_version": 1,
        "type": "purchase",
        "value": "4999.90",
        "currency": "USD",
        "source": "hubspot",
        "external_id": f"deal:{deal_id}",
    }
    # and the lead's history records the move
    with psycopg.connect(database_url) as conn:
        event = conn.execute(
            "select from_stage::text, to_stage::text, actor, data ->> 'deal_id' from public.lead_events"
            " where lead_id = %s and type = 'conversion.created'",
            (lead.id,),
        ).fetchone()
    assert event == ("qualified", "converted", "hubspot", deal_id)


def test_the_same_webhook_twice_records_one_conversion(
    api: LambdaApi, won_deal: tuple[dict[str, Any], LeadSetup, str], database_url: str
) -> None:
    integration, lead, deal_id = won_deal
    event = _stage_change(integration["external_id"], deal_id, "closedwon")
    # when HubSpot delivers the same event twice (it retries)
    first, second = _post(api, [event]), _post(api, [event])
    # then both are accepted, and only the first recorded anything
    assert (first.status, second.status) == (200, 200)
    assert (first.json()["recorded"], second.json()["recorded"]) == (1, 0)
    assert len(_state(database_url, lead.id)[1]) == 1


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "old timestamp", "no signature"],
)
def test_an_unverified_request_is_401_and_stores_nothing(
    api: LambdaApi, won_deal: tuple[dict[str, Any], LeadSetup, str], database_url: str, tamper: str
) -> None:
    integration, lead, deal_id = won_deal
    events = [_stage_change(integration["external_id"], deal_id, "closedwon")]
    # when the request is signed with another secret, dated six minutes ago, or not signed
    if tamper == "no signature":
        response = api.call("POST", "/webhooks/hubspot", raw_body=json.dumps(events), headers={"host": HOST})
    else:
        age = 6 * 60 * 1000 if tamper == "old timestamp" else 0
        response = _post(
            api, events, age_ms=age, secret="not-the-client-secret" if tamper == "wrong secret" else CLIENT_SECRET
        )
    # then 401 problem+json, and the lead is untouched
    assert response.status == 401, response.body
    assert response.content_type == "application/problem+json"
    assert _state(database_url, lead.id) == ("qualified", [])


def test_an_unknown_portal_is_404(api: LambdaApi, crm: FakeCrm) -> None:
    # given a correctly signed event from a portal no integration has / then 404
    response = _post(api, [_stage_change("999999999", "1", "closedwon")])
    assert response.status == 404, response.body


def test_a_lost_deal_marks_the_lead_lost_without_a_conversion(
    api: LambdaApi, won_deal: tuple[dict[str, Any], LeadSetup, str], database_url: str
) -> None:
    integration, lead, deal_id = won_deal
    # when the deal moves to closedlost
    response = _post(api, [_stage_change(integration["external_id"], deal_id, "closedlost")])
    # then the lead is lost and no conversion is recorded
    assert response.json() == {"received": 1, "recorded": 1}
    assert _state(database_url, lead.id) == ("lost", [])


def test_other_stages_and_unknown_deals_are_acknowledged_and_ignored(
    api: LambdaApi, won_deal: tuple[dict[str, Any], LeadSetup, str], database_url: str
) -> None:
    integration, lead, deal_id = won_deal
    portal = integration["external_id"]
    # when HubSpot reports a middle stage for our deal and a win for a deal we never created
    events = [_stage_change(portal, deal_id, "contractsent", 1), _stage_change(portal, "31337", "closedwon", 2)]
    response = _post(api, events)
    # then both are acknowledged, and nothing changes
    assert response.json() == {"received": 2, "recorded": 0}
    assert _state(database_url, lead.id) == ("qualified", [])


def test_a_conversion_hubspot_reported_is_not_pushed_back_to_it(
    api: LambdaApi,
    crm: FakeCrm,
    won_deal: tuple[dict[str, Any], LeadSetup, str],
    database_url: str,
    sync: Sync,
) -> None:
    integration, lead, deal_id = won_deal
    _post(api, [_stage_change(integration["external_id"], deal_id, "closedwon")])
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select id from public.event_outbox where type = 'conversion.created' and payload ->> 'lead_id' = %s",
            (str(lead.id),),
        ).fetchone()
    if row is None:
        pytest.skip("conversion.created comes from the domain-events trigger, which this schema lacks")
    # when the conversion.created event it caused is delivered to the same HubSpot integration
    calls = len(crm.calls)
    result, _ = sync(uuid.UUID(str(row[0])))
    # then nothing is sent back: HubSpot already holds the outcome
    assert result == {"batchItemFailures": []}
    assert crm.calls[calls:] == []
