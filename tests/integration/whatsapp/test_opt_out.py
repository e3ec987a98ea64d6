"""Opt-out keywords stop every outbound message to the lead; opt-in keywords restore them."""

from __future__ import annotations

import json

import pytest

from shared.whatsapp.outbound import send_stored_message
from tests.integration.whatsapp.conftest import connect_number
from tests.integration.whatsapp.fake_graph import FakeGraph
from tests.integration.whatsapp.helpers import Number, TurnQueue, new_phone, post, raw, text
from tests.integration.worker.conftest import AGENT_CONFIG
from tests.support.aio import run
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


def _consent_events(number: Number, wa_id: str) -> list[dict[str, object]]:
    return [
        e["data"]
        for e in number.query(
            "select e.data from public.lead_events e join public.leads l on l.id = e.lead_id"
            " where l.phone = %s and e.type = 'lead.updated' order by e.created_at",
            "+" + wa_id,
        )
    ]


@pytest.mark.parametrize("keyword", ["PARAR", "sair", "Stop!", " CANCELAR "])
def test_an_opt_out_keyword_withdraws_consent_without_a_turn(
    api: LambdaApi, number: Number, turns: TurnQueue, keyword: str
) -> None:
    # given a lead in conversation
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "Oi")))
    conversation = number.conversation(lead)["id"]
    turns.take(conversation)
    # when they send an opt-out keyword
    assert post(api, raw(text(number.phone_number_id, lead, keyword))).status == 200
    # then consent is withdrawn, with a lead event, and the message is kept but not answered
    assert number.lead(lead)["consent"] is False
    [event] = _consent_events(number, lead)
    assert (event["consent"], event["reason"], event["fields"]) == (False, "opt_out", ["consent"])
    stored = number.messages(lead)[-1]
    assert (stored["content"], stored["handled_at"] is not None) == (keyword, True)
    assert turns.take(conversation) == []


def test_nothing_reaches_an_opted_out_lead_until_they_opt_in(
    api: LambdaApi, number: Number, meta: FakeGraph, turns: TurnQueue
) -> None:
    # given a lead who opted out
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "PARAR")))
    conversation = number.conversation(lead)["id"]
    # when they write something else, and a reply (AI or human) is queued for them
    post(api, raw(text(number.phone_number_id, lead, "só mais uma pergunta")))
    reply = number.outbound(lead, "Claro, pode perguntar!", role="human")
    # then no turn is queued, nothing is sent, and the reply says why it failed
    assert turns.take(conversation) == []
    assert run(send_stored_message(reply)) == "failed"
    assert meta.sent_to(lead) == []
    [failed] = number.query("select status, error from public.messages where id = %s", reply)
    assert (failed["status"], failed["error"]["type"]) == ("failed", "/problems/whatsapp-opted-out")
    # when they opt back in
    post(api, raw(text(number.phone_number_id, lead, "VOLTAR")))
    # then consent is back, the agent answers again, and sending works
    assert number.lead(lead)["consent"] is True
    assert [e["reason"] for e in _consent_events(number, lead)] == ["opt_out", "opt_in"]
    assert [t["type"] for t in turns.take(conversation)] == ["turn"]
    again = number.outbound(lead, "Que bom te ver de volta!")
    assert run(send_stored_message(again)) == "sent"
    assert [r.body["text"]["body"] for r in meta.sent_to(lead)] == ["Que bom te ver de volta!"]


def test_a_keyword_inside_a_sentence_is_just_a_message(api: LambdaApi, number: Number) -> None:
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "não quero parar de receber ofertas")))
    assert number.lead(lead)["consent"] is True


def test_the_agent_config_replaces_the_default_keywords(api: LambdaApi, meta: FakeGraph, database_url: str) -> None:
    # given an agent whose opt-out list is only "CHEGA"
    config = {**AGENT_CONFIG, "whatsapp": {"opt_out_keywords": ["CHEGA"], "opt_in_keywords": ["OI DE NOVO"]}}
    number = connect_number(database_url, config, json.dumps({"access_token": "EAAGcustom"}))
    lead = new_phone()
    # when the lead sends a default keyword, then the agent's
    post(api, raw(text(number.phone_number_id, lead, "STOP")))
    assert number.lead(lead)["consent"] is True
    post(api, raw(text(number.phone_number_id, lead, "chega")))
    assert number.lead(lead)["consent"] is False
    post(api, raw(text(number.phone_number_id, lead, "Oi de novo")))
    assert number.lead(lead)["consent"] is True
