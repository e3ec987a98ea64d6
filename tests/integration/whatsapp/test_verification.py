"""GET /webhooks/whatsapp: Meta's subscription handshake, answered with the challenge as text/plain."""

from __future__ import annotations

import pytest

from shared.settings import get_settings
from tests.integration.whatsapp.fake_graph import FakeGraph
from tests.integration.whatsapp.helpers import PATH, VERIFY_TOKEN
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


def test_the_challenge_is_echoed_when_the_verify_token_matches(api: LambdaApi, meta: FakeGraph) -> None:
    # given Meta's verification request carrying our token
    query = f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    # when it reaches the webhook
    response = api.call("GET", f"{PATH}?{query}")
    # then the challenge comes back verbatim, as plain text
    assert response.status == 200, response.body
    assert response.body == "1158201444"
    assert response.content_type.startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        "hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=" + VERIFY_TOKEN + "&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ],
    ids=["wrong-token", "wrong-mode", "no-token", "nothing"],
)
def test_a_mismatch_or_missing_parameter_is_403(api: LambdaApi, meta: FakeGraph, query: str) -> None:
    response = api.call("GET", f"{PATH}?{query}" if query else PATH)
    assert response.status == 403, response.body
    assert response.content_type == "application/problem+json"
    assert response.body != "1"  # the challenge is not echoed


def test_without_secrets_the_webhook_answers_503_not_500(
    api: LambdaApi, meta: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a stage where neither WhatsApp secret is set
    monkeypatch.delenv("WHATSAPP_VERIFY_TOKEN")
    monkeypatch.delenv("WHATSAPP_APP_SECRET")
    get_settings.cache_clear()
    # when Meta calls either route / then 503 problem+json
    verify = api.call("GET", f"{PATH}?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1")
    deliver = api.call("POST", PATH, raw_body="{}", headers={"x-hub-signature-256": "sha256=" + "0" * 64})
    for response in (verify, deliver):
        assert response.status == 503, response.body
        assert response.json()["type"] == "/problems/not-configured"
