"""Round trips of the signed webhooks: WhatsApp (X-Hub-Signature-256), HubSpot (v3), Pipedrive (basic auth) and
RD Station (token). Each takes at most two on its happy path and calls Redis, SQS or the CRM's API only
while no transaction is open. The member and widget writes are counted in ``test_write_round_trips.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.crm.conftest import (  # noqa: F401  (fixtures)
    PIPEDRIVE_PASSWORD,
    PIPEDRIVE_USER,
    RD_WEBHOOK_TOKEN,
    LeadSetup,
    connect,
    crm,
    cron,
    make_lead,
    sync,
)
from tests.integration.crm.test_inbound_hubspot import _post, _stage_change, won_deal  # noqa: F401
from tests.integration.crm.test_inbound_pipedrive_rdstation import (  # noqa: F401
    _basic,
    _classic,
    _pipedrive,
    _v2_deal,
    linked,
    pipedrive_lead,
    rd,
)
from tests.integration.webhooks.conftest import deliver, dispatch, emit_event, events_queue  # noqa: F401
from tests.integration.whatsapp.conftest import graph_api, meta, number, turns  # noqa: F401
from tests.integration.whatsapp.helpers import Number, TurnQueue, new_phone, post, raw, text
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.traffic import Traffic, recorded

pytestmark = pytest.mark.integration

MOST = 2
WEBHOOKS = ("whatsappWebhook", "hubspotWebhook", "pipedriveWebhook", "rdstationWebhook")


def _counted(monkeypatch: pytest.MonkeyPatch, send: Callable[[], LambdaResponse]) -> tuple[LambdaResponse, Traffic]:
    with recorded(monkeypatch) as traffic:
        response = send()
    return response, traffic


def _check(function: str, response: LambdaResponse, traffic: Traffic) -> None:
    assert response.status == 200, response.body
    assert traffic.calls_in_transaction == [], traffic.calls_in_transaction
    assert len(traffic.statements) <= MOST, (function, traffic.statements)


def test_a_whatsapp_message_is_stored_and_its_turn_queued_within_two_round_trips(
    api: LambdaApi,
    number: Number,  # noqa: F811
    turns: TurnQueue,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a lead's text message, signed with the app secret as Meta signs it
    wa_id = new_phone()
    body = raw(text(number.phone_number_id, wa_id, "Oi, quero saber o preço"))
    # when it arrives
    response, traffic = _counted(monkeypatch, lambda: post(api, body))
    # then it is stored, its turn is queued, and no call left while a transaction was open
    _check("whatsappWebhook", response, traffic)
    assert response.json()["stored"] == 1
    assert [m["status"] for m in number.messages(wa_id)] == ["queued"]
    assert any(c.startswith("aws SendMessage") for c in traffic.calls), traffic.calls
    turns.take()


def test_a_hubspot_deal_won_is_recorded_within_two_round_trips(
    api: LambdaApi,
    won_deal: tuple[dict[str, Any], LeadSetup, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a deal this integration created, now won, reported with a v3 signature
    integration, _, deal_id = won_deal
    event = _stage_change(integration["external_id"], deal_id, "closedwon")
    # when HubSpot reports it (the handler reads the deal's amount from HubSpot's API)
    response, traffic = _counted(monkeypatch, lambda: _post(api, [event]))
    # then the conversion is recorded, and HubSpot was asked while no transaction was open
    _check("hubspotWebhook", response, traffic)
    assert response.json() == {"received": 1, "recorded": 1}
    assert any(c.startswith("http GET") for c in traffic.calls), traffic.calls


def test_a_pipedrive_deal_won_is_recorded_within_two_round_trips(
    api: LambdaApi,
    pipedrive_lead: tuple[dict[str, Any], LeadSetup],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a linked deal reported won, with the integration's basic auth
    integration, _ = pipedrive_lead
    body, auth = _v2_deal(731, "won", {"status": "open"}), _basic(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD)
    # when Pipedrive reports it / then it is recorded within the round trips, with no call inside a transaction
    response, traffic = _counted(monkeypatch, lambda: _pipedrive(api, integration, body, auth))
    _check("pipedriveWebhook", response, traffic)
    assert response.json()["recorded"] == 1


def test_an_rdstation_customer_is_recorded_within_two_round_trips(
    api: LambdaApi,
    rd: tuple[dict[str, Any], LeadSetup],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given RD Station's report that a contact became a customer, with the webhook token
    integration, _ = rd
    path = f"/webhooks/rdstation/{integration['id']}?token={RD_WEBHOOK_TOKEN}"
    body = json.dumps(_classic("cliente@example.com", "Cliente"))
    # when it arrives / then it is recorded within the round trips, with no call inside a transaction
    response, traffic = _counted(monkeypatch, lambda: api.call("POST", path, raw_body=body))
    _check("rdstationWebhook", response, traffic)
    assert response.json() == {"received": 1, "recorded": 1}
