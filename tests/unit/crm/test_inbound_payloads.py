"""Reading Pipedrive's and RD Station's webhook bodies, and Pipedrive's basic auth, without services."""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal
from typing import Any

import pytest

from shared.crm.inbound.common import Connected, amount, same_secret
from shared.crm.inbound.pipedrive import authorized, deal_outcome
from shared.crm.inbound.rdstation import contact_outcome


def _integration(config: dict[str, Any] | None = None, **credentials: str) -> Connected:
    return Connected(uuid.uuid4(), uuid.uuid4(), True, None, config or {}, credentials)


def test_a_v2_deal_that_became_won_is_a_won_outcome_with_its_value() -> None:
    payload = {
        "meta": {"action": "change", "entity": "deal", "entity_id": "9", "version": "2.0"},
        "data": {"id": 9, "status": "won", "value": 2.5, "currency": "usd", "won_time": "2026-11-05T10:00:00Z"},
        "previous": {"status": "open"},
    }
    outcome = deal_outcome(payload)
    assert outcome is not None
    assert (outcome.outcome, outcome.deal_id, outcome.external_id) == ("won", "9", "deal:9")
    assert (outcome.value, outcome.currency, outcome.occurred_at is not None) == (Decimal("2.5"), "USD", True)


def test_a_v1_updated_deal_that_became_lost_is_a_lost_outcome() -> None:
    payload = {
        "event": "updated.deal",
        "meta": {"action": "updated", "object": "deal", "id": 5},
        "current": {"id": 5, "status": "lost", "update_time": "2026-11-05 10:00:00"},
        "previous": {"id": 5, "status": "open"},
    }
    outcome = deal_outcome(payload)
    assert outcome is not None
    assert (outcome.outcome, outcome.deal_id) == ("lost", "5")


@pytest.mark.parametrize(
    "payload",
    [
        {
            "meta": {"action": "change", "entity": "deal"},
            "data": {"id": 1, "status": "won"},
            "previous": {"title": "x"},
        },
        {"meta": {"action": "change", "entity": "deal"}, "data": {"id": 1, "status": "open"}, "previous": None},
        {"meta": {"action": "change", "entity": "person"}, "data": {"id": 1, "status": "won"}, "previous": None},
        {"meta": {"action": "delete", "entity": "deal"}, "data": {"id": 1, "status": "won"}, "previous": None},
        {"event": "updated.deal", "current": {"id": 1, "status": "won"}, "previous": {"id": 1, "status": "won"}},
        {"meta": {"action": "change", "entity": "deal"}, "data": {"status": "won"}, "previous": None},
        {"meta": "not an object", "data": []},
    ],
    ids=["status unchanged", "open", "not a deal", "deleted", "v1 unchanged", "no id", "garbage"],
)
def test_anything_else_is_no_outcome(payload: dict[str, Any]) -> None:
    assert deal_outcome(payload) is None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (_basic("ca", "s3cret-password"), True),
        (_basic("ca", "s3cret-passwor"), False),
        (_basic("cb", "s3cret-password"), False),
        (_basic("ca", ""), False),
        ("Basic !!!notbase64", False),
        ("Bearer " + base64.b64encode(b"ca:s3cret-password").decode(), False),
        (None, False),
    ],
)
def test_pipedrive_basic_auth(header: str | None, ok: bool) -> None:
    integration = _integration(webhook_username="ca", webhook_password="s3cret-password")
    assert authorized(header, integration) is ok


def test_missing_stored_credentials_never_match() -> None:
    assert not authorized(_basic("", ""), _integration())
    assert not same_secret("", "")
    assert not same_secret(None, None)


def test_rdstation_classic_and_newer_payloads() -> None:
    integration = _integration({"won_stages": ["Cliente"], "lost_stages": ["Perdido"], "value_field": "cf_valor"})
    won = contact_outcome(
        {"email": "a@b.co", "lead_stage": "Cliente", "id": "7", "custom_fields": {"cf_valor": "10"}}, integration
    )
    lost = contact_outcome({"email": "a@b.co", "funnel": {"lifecycle_stage": "Perdido"}, "uuid": "u1"}, integration)
    assert won is not None
    assert (won.outcome, won.external_id, won.email, won.value) == ("won", "contact:7", "a@b.co", Decimal("10"))
    assert lost is not None
    assert (lost.outcome, lost.external_id, lost.value) == ("lost", "contact:u1", None)
    assert contact_outcome({"email": "a@b.co", "lead_stage": "Lead"}, integration) is None
    assert contact_outcome({"lead_stage": "Cliente"}, integration) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1500.00", Decimal("1500.00")),
        (1500, Decimal("1500")),
        ("", None),
        (None, None),
        ("-3", None),
        ("abc", None),
        ("NaN", None),
    ],
)
def test_amounts(raw: object, expected: Decimal | None) -> None:
    assert amount(raw) == expected
