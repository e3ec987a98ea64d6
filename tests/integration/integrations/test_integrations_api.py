"""The integrations API through the real Lambda handlers: CRUD, write-only credentials in the vault, RLS."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.integration.whatsapp.fake_graph import FakeGraph
from tests.support.api import LambdaApi
from tests.support.sql import authenticate_as

pytestmark = pytest.mark.integration
TOKEN = "pat-na1-3f1e9c2a-7b6d-4e5f-8a9b-0c1d2e3f4a5b"


def _hubspot(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "hubspot",
        "name": "HubSpot vendas",
        "external_id": str(uuid.uuid4().int % 10**9),
        "config": {"pipeline": "default", "won_stage": "closedwon"},
        "credentials": {"access_token": TOKEN},
    }
    return {**body, **overrides}


def _create(api: LambdaApi, org: dict[str, Any], body: dict[str, Any], role: str = "admin") -> Any:
    return api.call("POST", f"/organizations/{org['id']}/integrations", token=org[role].token, body=body)


def _listing(api: LambdaApi, org: dict[str, Any], query: str = "") -> Any:
    response = api.call("GET", f"/organizations/{org['id']}/integrations{query}", token=org["viewer"].token)
    assert response.status == 200, response.body
    return response


def _vault(database_url: str, integration_id: str) -> tuple[str, str] | None:
    """The stored (encrypted) form and, read back on the service path, the plaintext of the credentials."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select s.secret, i.secret_id from public.integrations i join vault.secrets s on s.id = i.secret_id"
            " where i.id = %s",
            (integration_id,),
        ).fetchone()
        if row is None:
            return None
        authenticate_as(conn, None, role="service_role")
        plain = conn.execute("select secret from app.read_secrets(array[%s::uuid])", (row[1],)).fetchone()
    assert plain is not None
    return str(row[0]), str(plain[0])


def test_an_admin_connects_hubspot_and_the_token_is_stored_encrypted_and_never_returned(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    # given an organization / when its admin connects HubSpot
    org = make_org()
    response = _create(api, org, _hubspot())
    # then it is created with its config (defaults filled in) and has_credentials, but no credentials
    assert response.status == 201, response.body
    created = response.json()
    assert TOKEN not in response.body
    assert "credentials" not in created
    assert (created["kind"], created["enabled"], created["has_credentials"]) == ("hubspot", True, True)
    assert created["config"]["won_stage"] == "closedwon"
    assert created["config"]["qualified_stage"] == "qualifiedtobuy"
    assert created["webhook_path"] == "/webhooks/hubspot"
    # and the vault holds ciphertext, which only the service path reads back as the credentials
    stored = _vault(database_url, created["id"])
    assert stored is not None
    ciphertext, plaintext = stored
    assert TOKEN not in ciphertext
    assert json.loads(plaintext) == {"access_token": TOKEN}
    # and listing it (as a viewer) shows it without the token
    listing = _listing(api, org)
    assert [i["id"] for i in listing.json()["data"]] == [created["id"]]
    assert TOKEN not in listing.body


def _agent(database_url: str, org: dict[str, Any]) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        agent = conn.execute(
            "insert into public.agents (organization_id, name) values (%s, 'SDR') returning id", (org["id"],)
        ).fetchone()
    assert agent is not None
    return str(agent[0])


def _whatsapp(agent: str, number: str | None = None, token: str = "EAAG" + "x" * 40) -> dict[str, Any]:
    return {
        "kind": "whatsapp",
        "name": "Número principal",
        "external_id": number or str(uuid.uuid4().int % 10**15),
        "agent_id": agent,
        "config": {"waba_id": "102290129340398"},
        "credentials": {"access_token": token},
    }


def test_each_kind_is_created_with_its_own_shape(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str, graph: FakeGraph
) -> None:
    org = make_org()
    whatsapp = _whatsapp(_agent(database_url, org))
    graph.own(whatsapp["external_id"], "102290129340398", whatsapp["credentials"]["access_token"])
    bodies = [
        whatsapp,
        {
            "kind": "pipedrive",
            "name": "Pipedrive",
            "config": {"company_domain": "acme", "pipeline_id": 1, "qualified_stage_id": 2},
            "credentials": {
                "api_token": "p" * 40,
                "webhook_username": "conversion-agents-hooks",
                "webhook_password": "w" * 16,
            },
        },
        {
            "kind": "rdstation",
            "name": "RD Station",
            "credentials": {"api_key": "k" * 32, "webhook_token": "t" * 24},
        },
    ]
    # when an admin creates one of each / then each is 201 with its kind's config
    for body in bodies:
        response = _create(api, org, body)
        assert response.status == 201, response.body
        assert response.json()["has_credentials"] is True
        for secret in body["credentials"].values():
            assert secret not in response.body
    pipedrive = next(i for i in _listing(api, org, "?kind=pipedrive").json()["data"])
    assert pipedrive["webhook_path"] == f"/webhooks/pipedrive/{pipedrive['id']}"
    assert pipedrive["config"]["company_domain"] == "acme"


def test_an_update_merges_config_replaces_credentials_and_returns_none(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    # given a HubSpot integration
    org = make_org()
    created = _create(api, org, _hubspot()).json()
    before = _vault(database_url, created["id"])
    new_token = "pat-na1-99999999-8888-7777-6666-555555555555"
    # when the owner changes one config key, disables it and rotates the token
    body = {"config": {"lost_stage": "perdido"}, "enabled": False, "credentials": {"access_token": new_token}}
    response = api.call("PATCH", f"/integrations/{created['id']}", token=org["owner"].token, body=body)
    # then the config is merged, the rest kept, and no token comes back
    assert response.status == 200, response.body
    updated = response.json()
    assert (updated["config"]["lost_stage"], updated["config"]["won_stage"], updated["enabled"]) == (
        "perdido",
        "closedwon",
        False,
    )
    assert new_token not in response.body
    assert updated["name"] == created["name"]
    # and the same vault secret now holds the new token, encrypted afresh
    after = _vault(database_url, created["id"])
    assert before is not None
    assert after is not None
    assert after[0] != before[0]
    assert json.loads(after[1]) == {"access_token": new_token}


def test_deleting_an_integration_removes_its_credentials_from_the_vault(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    org = make_org()
    created = _create(api, org, _hubspot()).json()
    with psycopg.connect(database_url) as conn:
        secret = conn.execute("select secret_id from public.integrations where id = %s", (created["id"],)).fetchone()
    # when the admin deletes it / then it is gone, and so is its vault secret
    response = api.call("DELETE", f"/integrations/{created['id']}", token=org["admin"].token)
    assert response.status == 204, response.body
    assert _listing(api, org).json()["data"] == []
    with psycopg.connect(database_url) as conn:
        assert (
            conn.execute("select 1 from vault.secrets where id = %s", (secret[0] if secret else None,)).fetchone()
            is None
        )


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_another_tenants_integration_is_not_found(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], role: str
) -> None:
    # given an integration of organization B
    org_a, org_b = make_org(), make_org()
    created = _create(api, org_b, _hubspot()).json()
    token = org_a[role].token
    # when A's member addresses it through every route / then 404 problem+json
    for method, path, body in (
        ("PATCH", f"/integrations/{created['id']}", {"enabled": False}),
        ("DELETE", f"/integrations/{created['id']}", None),
        ("GET", f"/organizations/{org_b['id']}/integrations", None),
        ("POST", f"/organizations/{org_b['id']}/integrations", _hubspot()),
    ):
        response = api.call(method, path, token=token, body=body)
        assert response.status == 404, (method, path, response.body)
        assert response.content_type == "application/problem+json"
    assert _listing(api, org_b).json()["data"][0]["enabled"] is True


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_members_below_admin_read_but_cannot_manage(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], role: str
) -> None:
    org = make_org()
    created = _create(api, org, _hubspot()).json()
    token = org[role].token
    for method, path, body in (
        ("POST", f"/organizations/{org['id']}/integrations", _hubspot()),
        ("PATCH", f"/integrations/{created['id']}", {"enabled": False}),
        ("PATCH", f"/integrations/{created['id']}", {"credentials": {"access_token": "pat-na1-" + "0" * 30}}),
        ("DELETE", f"/integrations/{created['id']}", None),
    ):
        response = api.call(method, path, token=token, body=body)
        assert response.status == 403, (method, path, response.body)
        assert response.content_type == "application/problem+json"
    listing = api.call("GET", f"/organizations/{org['id']}/integrations", token=token)
    assert [i["enabled"] for i in listing.json()["data"]] == [True]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**_hubspot(), "kind": "salesforce"}, "body.kind"),
        ({key: value for key, value in _hubspot().items() if key != "kind"}, "body.kind"),
        ({**_hubspot(), "kind": "webhook"}, "body.kind"),
        ({**_hubspot(), "credentials": {}}, "body.credentials.access_token"),
        ({**_hubspot(), "credentials": {"access_token": "short"}}, "body.credentials.access_token"),
        ({**_hubspot(), "credentials": {"access_token": TOKEN, "extra": "x"}}, "body.credentials.extra"),
        ({**_hubspot(), "external_id": "portal-abc"}, "body.external_id"),
        ({**_hubspot(), "config": {"pipeline": "bad stage!"}}, "body.config.pipeline"),
        ({**_hubspot(), "config": {"access_token": TOKEN}}, "body.config.access_token"),
        ({**_hubspot(), "name": ""}, "body.name"),
        ({**_hubspot(), "agent_id": str(uuid.uuid4())}, "body.agent_id"),
        ({"kind": "rdstation", "name": "RD", "credentials": {"webhook_token": "t" * 24}}, "body.credentials"),
        (
            {"kind": "pipedrive", "name": "PD", "credentials": {"api_token": "p" * 40}},
            "body.credentials.webhook_username",
        ),
        ({"kind": "whatsapp", "name": "WA", "external_id": "1", "config": {}}, "body.agent_id"),
    ],
)
def test_bad_input_is_4xx_naming_the_field(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    # given an admin / when they send an invalid integration / then 422 problem+json names the field
    org = make_org()
    response = _create(api, org, body)
    assert response.status == 422, response.body
    assert response.content_type == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert TOKEN not in response.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"credentials": {"api_token": "x" * 30}}, "body.credentials.access_token"),
        ({"config": {"won_stage": ""}}, "body.config.won_stage"),
        ({"external_id": None}, "body.external_id"),
        ({"agent_id": str(uuid.uuid4())}, "body.agent_id"),
        ({}, "body"),
    ],
)
def test_a_bad_update_is_422_naming_the_field(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    org = make_org()
    created = _create(api, org, _hubspot()).json()
    response = api.call("PATCH", f"/integrations/{created['id']}", token=org["admin"].token, body=body)
    assert response.status == 422, response.body
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_portal_connected_twice_is_a_conflict(api: LambdaApi, make_org: Callable[[], dict[str, Any]]) -> None:
    # given a portal connected by one organization / when another connects the same portal / then 409
    body = _hubspot()
    assert _create(api, make_org(), body).status == 201
    response = _create(api, make_org(), body)
    assert response.status == 409, response.body


def test_listing_pages_newest_first(api: LambdaApi, make_org: Callable[[], dict[str, Any]]) -> None:
    org = make_org()
    ids = [_create(api, org, _hubspot(name=f"H{n}")).json()["id"] for n in range(3)]
    first = _listing(api, org, "?limit=2").json()
    second = _listing(api, org, f"?limit=2&cursor={first['next_cursor']}").json()
    assert [i["id"] for i in first["data"] + second["data"]] == ids[::-1]
    assert second["next_cursor"] is None


def _neutral(response: Any) -> tuple[int, list[dict[str, Any]]]:
    """What a refused registration says: status and errors (no ids of the request)."""
    return response.status, response.json()["errors"]


def test_a_number_the_token_cannot_read_or_outside_the_waba_is_refused_with_a_neutral_422(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str, graph: FakeGraph
) -> None:
    # given a number owned with one token in one WABA
    org = make_org()
    body = _whatsapp(_agent(database_url, org))
    graph.own(body["external_id"], "999999999999999", body["credentials"]["access_token"])
    # when registered with another WABA, or with a token that cannot read it
    other_waba = _create(api, org, body)
    other_token = _create(api, org, {**body, "credentials": {"access_token": "EAAG" + "y" * 40}})
    # then both are the same 422 naming body.external_id, and nothing is stored
    assert _neutral(other_waba) == _neutral(other_token)
    assert other_waba.status == 422
    assert [e["field"] for e in other_waba.json()["errors"]] == ["body.external_id"]
    assert _listing(api, org, "?kind=whatsapp").json()["data"] == []


def test_a_number_registered_by_another_organization_answers_like_a_failed_check(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str, graph: FakeGraph
) -> None:
    # given a number another organization registered (it passed the ownership check)
    first, second = make_org(), make_org()
    body = _whatsapp(_agent(database_url, first))
    graph.own(body["external_id"], "102290129340398", body["credentials"]["access_token"])
    assert _create(api, first, body).status == 201
    # when a second organization registers it (its token reads it too) and a third number fails the check
    taken = _create(api, second, {**body, "agent_id": _agent(database_url, second)})
    unowned = _create(api, second, _whatsapp(_agent(database_url, second)))
    # then the answers are the same: nothing tells the second organization that the number is taken
    assert _neutral(taken) == _neutral(unowned)
    assert "integrations_" not in taken.body
    assert "already" not in taken.body


def test_moving_a_registered_number_to_one_the_token_does_not_own_is_refused(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str, graph: FakeGraph
) -> None:
    # given a verified WhatsApp number
    org = make_org()
    body = _whatsapp(_agent(database_url, org))
    token = body["credentials"]["access_token"]
    graph.own(body["external_id"], "102290129340398", token)
    created = _create(api, org, body).json()
    # when its external id is changed to a number the token does not own, with or without the token
    patch = {"external_id": "123456789012345"}
    with_token = {**patch, "credentials": {"access_token": token}}
    without = api.call("PATCH", f"/integrations/{created['id']}", token=org["owner"].token, body=patch)
    refused = api.call("PATCH", f"/integrations/{created['id']}", token=org["owner"].token, body=with_token)
    # then both are refused and the number is unchanged
    assert (without.status, refused.status) == (422, 422)
    assert [e["field"] for e in refused.json()["errors"]] == ["body.external_id"]
    [listed] = _listing(api, org, "?kind=whatsapp").json()["data"]
    assert listed["external_id"] == body["external_id"]
