"""POST /webhooks/whatsapp: only deliveries signed with the app secret, on their raw bytes, are stored."""

from __future__ import annotations

import json

import pytest

from shared.clients.redis import get_redis
from shared.whatsapp import dedup
from shared.whatsapp.signature import sign
from tests.integration.whatsapp.helpers import APP_SECRET, Number, new_phone, post, raw, text
from tests.support.aio import run
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


def test_a_signed_delivery_is_stored(api: LambdaApi, number: Number) -> None:
    # given a text message signed as Meta signs it
    lead = new_phone()
    body = raw(text(number.phone_number_id, lead, "Oi, quero saber do apartamento"))
    # when it is posted / then 200, and the message is stored
    response = post(api, body)
    assert response.status == 200, response.body
    assert response.json() == {"stored": 1, "duplicates": 0, "statuses": 0}
    assert [m["content"] for m in number.messages(lead)] == ["Oi, quero saber do apartamento"]


@pytest.mark.parametrize(
    "header",
    [None, "sha256=" + "0" * 64, "sha256=not-hex", "sha1=" + "0" * 40, "forged-with-another-secret"],
    ids=["missing", "forged", "malformed", "sha1", "other-secret"],
)
def test_an_unsigned_or_forged_delivery_is_401_and_stores_nothing(
    api: LambdaApi, number: Number, header: str | None
) -> None:
    # given a delivery with a missing, malformed or forged signature
    lead = new_phone()
    body = raw(text(number.phone_number_id, lead, "Oi"))
    signature = sign(body, "not-the-app-secret") if header == "forged-with-another-secret" else header
    # when it is posted
    response = post(api, body, signature=signature)
    # then 401 problem+json, and no lead or message exists
    assert response.status == 401, response.body
    assert response.content_type == "application/problem+json"
    assert number.query("select 1 from public.leads where phone = %s", "+" + lead) == []


def test_escaped_unicode_is_verified_on_the_raw_bytes_and_a_reserialised_body_fails(
    api: LambdaApi, number: Number
) -> None:
    # given Meta's bytes, non-ASCII escaped (\u00e9), and their signature
    lead = new_phone()
    body = raw(text(number.phone_number_id, lead, "Olá, é você? Preço à vista @loja"))
    assert b"\\u00e9" in body
    header = sign(body, APP_SECRET)
    # when a proxy re-serialises the same JSON (é as UTF-8) and keeps the header
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    # then that copy is refused, and the exact bytes pass, with the text decoded
    assert post(api, reserialised, signature=header).status == 401
    assert number.messages(lead) == []
    assert post(api, body, signature=header).status == 200
    assert [m["content"] for m in number.messages(lead)] == ["Olá, é você? Preço à vista @loja"]


def test_a_replayed_delivery_is_deduplicated_by_redis_and_then_by_the_database(api: LambdaApi, number: Number) -> None:
    # given a stored, signed delivery
    lead = new_phone()
    delivered = text(number.phone_number_id, lead, "Oi")
    body = raw(delivered)
    assert post(api, body).json()["stored"] == 1
    # when it is replayed (the signature has no timestamp), then again after its Redis key is gone
    again = post(api, body)
    wamid = delivered["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    run(_forget(dedup.key(number.phone_number_id, wamid)))
    once_more = post(api, body)
    # then both are acknowledged as copies, and one message exists
    assert (again.status, again.json()["duplicates"]) == (200, 1)
    assert (once_more.status, once_more.json()["duplicates"]) == (200, 1)
    assert len(number.messages(lead)) == 1


async def _forget(key: str) -> None:
    await (await get_redis()).delete(key)


def test_malformed_json_with_a_valid_signature_is_400(api: LambdaApi, number: Number) -> None:
    response = post(api, b'{"object": "whatsapp_business_account", "entry": [')
    assert response.status == 400, response.body
    assert response.json()["type"] == "/problems/malformed-request"
