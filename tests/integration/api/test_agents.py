"""Agents through the real Lambda handlers: CRUD, versions, presets, roles, tenants, bad input, pages."""

from __future__ import annotations

import base64
import importlib
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from local_runtime.gateway.routes import functions
from tests.support.aio import use_container_loop
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.lambda_events import FakeLambdaContext, http_event
from tests.support.sql import authenticate_as

pytestmark = pytest.mark.integration

SPECS = {spec.name: spec for spec in functions()}
CONFIG = {
    "name": "Sofia (SDR)",
    "persona": "Sofia, consultora de imóveis simpática e objetiva",
    "instructions": "Qualifique o lead e ofereça uma visita.",
    "goal": "book_meeting",
    "language": "pt-BR",
    "model": "fast",
    "temperature": 0.3,
    "qualification_fields": [{"name": "budget", "type": "money", "required": True, "description": "Orçamento"}],
}


def call(
    api: LambdaApi,
    method: str,
    path: str,
    *,
    token: str,
    query: str = "",
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> LambdaResponse:
    """Like ``api.call``, with a query string, and with base64 bodies (problem+json) decoded."""
    name, route_key = api.function_for(method, path)
    module = importlib.import_module(SPECS[name].module)
    event = http_event(
        method, path, body=body, raw_body=raw_body, token=token, query=query, headers=headers, route_key=route_key
    )
    use_container_loop()
    result = module.handler(event, FakeLambdaContext(name))
    text = result.get("body") or ""
    if result.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return LambdaResponse(result["statusCode"], {k.lower(): v for k, v in (result.get("headers") or {}).items()}, text)


@pytest.fixture
def org(make_org: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return make_org()


@pytest.fixture
def create(api: LambdaApi) -> Callable[..., LambdaResponse]:
    def _create(org: dict[str, Any], role: str = "editor", **overrides: Any) -> LambdaResponse:
        body = {**CONFIG, **overrides}
        return call(api, "POST", f"/organizations/{org['id']}/agents", token=org[role].token, body=body)

    return _create


@pytest.fixture
def agent(org: dict[str, Any], create: Callable[..., LambdaResponse]) -> dict[str, Any]:
    response = create(org)
    assert response.status == 201, response.body
    body: dict[str, Any] = response.json()
    return body


def _versions(database_url: str, agent_id: str) -> list[tuple[int, dict[str, Any]]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select version, config from public.agent_versions where agent_id = %s order by version", (agent_id,)
        ).fetchall()
    return [(int(v), c) for v, c in rows]


# --- create, read, update, archive ---------------------------------------------------------------


def test_an_editor_creates_an_agent_at_version_1(
    org: dict[str, Any], create: Callable[..., LambdaResponse], database_url: str
) -> None:
    # given an organization / when its editor creates an agent with widget origins
    response = create(org, allowed_origins=["HTTPS://Loja.example.com:443/", "http://localhost:3001"])
    # then it is active at version 1, with a database-minted key and canonical origins
    assert response.status == 201, response.body
    body = response.json()
    assert (body["organization_id"], body["status"]) == (str(org["id"]), "active")
    assert (body["current_version"], body["version"]) == (1, 1)
    assert body["publishable_key"].startswith("pk_")
    assert body["allowed_origins"] == ["https://loja.example.com", "http://localhost:3001"]
    # and the stored config carries the worker's keys, defaults filled in
    config = body["config"]
    assert config["persona"] == CONFIG["persona"]
    assert config["scoring"] == {"qualified_threshold": 70}
    assert config["handoff"] == {"on_request": True, "keywords": []}
    assert config["on_budget_exhausted"] == "fallback"
    assert "name" not in config
    assert _versions(database_url, body["id"]) == [(1, config)]


def test_the_bant_preset_expands_to_fields_and_a_rubric(
    org: dict[str, Any], create: Callable[..., LambdaResponse]
) -> None:
    # given a BANT preset, a field overriding timeline and a custom choice field
    fields = [
        {"name": "timeline", "type": "date", "required": True, "description": "Data da mudança"},
        {"name": "property", "type": "choice", "choices": ["casa", "apartamento"]},
    ]
    # when an agent is created with them
    response = create(org, preset="bant", qualification_fields=fields)
    # then BANT plus contact fields come first (timeline replaced in place), then the custom one
    assert response.status == 201, response.body
    config = response.json()["config"]
    names = [f["name"] for f in config["qualification_fields"]]
    assert names == ["name", "email", "phone", "budget", "authority", "need", "timeline", "property"]
    assert config["qualification_fields"][6]["type"] == "date"
    assert config["scoring"]["rubric"] == {"budget": 25, "authority": 25, "need": 25, "timeline": 25}
    assert "preset" not in config


def test_get_returns_the_current_config_and_its_etag(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]
) -> None:
    # given an agent / when a viewer reads it
    response = call(api, "GET", f"/agents/{agent['id']}", token=org["viewer"].token)
    # then they see it, with the version as ETag
    assert response.status == 200, response.body
    assert response.json() == agent
    assert response.headers["etag"] == '"1"'


def test_an_update_creates_version_2_and_version_1_stays(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any], database_url: str
) -> None:
    # given an agent at v1 and a conversation pinned to it
    _start_conversation(database_url, org["id"], agent["id"])
    # when an editor changes its temperature and persona
    patch = {"temperature": 0.9, "persona": "Sofia 2"}
    response = call(api, "PATCH", f"/agents/{agent['id']}", token=org["editor"].token, body=patch)
    # then the agent is at v2 with the new config and the other keys kept
    assert response.status == 200, response.body
    body = response.json()
    assert (body["current_version"], body["version"], response.headers["etag"]) == (2, 2, '"2"')
    assert body["config"] == {**agent["config"], **patch}
    # and v1 is still readable as it was, and the conversation still points at it
    v1 = call(api, "GET", f"/agents/{agent['id']}", token=org["viewer"].token, query="version=1")
    assert v1.status == 200, v1.body
    assert (v1.json()["version"], v1.json()["current_version"], v1.json()["config"]) == (1, 2, agent["config"])
    assert [v for v, _ in _versions(database_url, agent["id"])] == [1, 2]
    with psycopg.connect(database_url) as conn:
        pinned = conn.execute("select agent_version from public.conversations where agent_id = %s", (agent["id"],))
        assert pinned.fetchall() == [(1,)]


def test_a_missing_version_is_404(api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]) -> None:
    # given an agent at v1 / when v7 is asked for / then 404 problem+json
    response = call(api, "GET", f"/agents/{agent['id']}", token=org["viewer"].token, query="version=7")
    assert response.status == 404, response.body
    assert response.content_type == "application/problem+json"


def test_changes_outside_the_config_keep_the_version(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any], database_url: str
) -> None:
    # given an agent / when it is renamed, its origins change and its config is re-sent unchanged
    body = {"name": "Sofia", "allowed_origins": ["https://a.example"], "temperature": CONFIG["temperature"]}
    response = call(api, "PATCH", f"/agents/{agent['id']}", token=org["editor"].token, body=body)
    # then those columns change and no version is added
    assert response.status == 200, response.body
    assert (response.json()["name"], response.json()["allowed_origins"]) == ("Sofia", ["https://a.example"])
    assert response.json()["current_version"] == 1
    assert len(_versions(database_url, agent["id"])) == 1


def test_an_empty_patch_changes_nothing_but_is_still_authorised(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]
) -> None:
    # given an agent / when an editor sends an empty patch / then it is returned untouched
    path = f"/agents/{agent['id']}"
    response = call(api, "PATCH", path, token=org["editor"].token, body={})
    assert response.status == 200, response.body
    assert response.json() == agent
    # and a viewer's empty patch is still refused
    assert call(api, "PATCH", path, token=org["viewer"].token, body={}).status == 403


def test_null_resets_a_config_key(api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]) -> None:
    # given an agent with a fallback model
    path, token = f"/agents/{agent['id']}", org["editor"].token
    assert call(api, "PATCH", path, token=token, body={"fallback_model": "economy"}).json()["config"]["fallback_model"]
    # when the key is sent as null
    response = call(api, "PATCH", path, token=token, body={"fallback_model": None, "goal": None})
    # then it is gone (goal back to its default) in a new version
    assert response.status == 200, response.body
    assert "fallback_model" not in response.json()["config"]
    assert (response.json()["config"]["goal"], response.json()["current_version"]) == ("qualify", 3)


def test_a_preset_on_update_replaces_the_fields(api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]) -> None:
    # given an agent with one field / when BANT is applied on update
    response = call(api, "PATCH", f"/agents/{agent['id']}", token=org["editor"].token, body={"preset": "bant"})
    # then its fields are BANT's and the rubric is BANT's
    assert response.status == 200, response.body
    config = response.json()["config"]
    assert [f["name"] for f in config["qualification_fields"]][3:] == ["budget", "authority", "need", "timeline"]
    assert set(config["scoring"]["rubric"]) == {"budget", "authority", "need", "timeline"}


@pytest.mark.parametrize(
    ("headers", "body"),
    [({}, {"expected_version": 1}), ({"If-Match": '"1"'}, {}), ({"If-Match": "1"}, {})],
    ids=["expected_version", "if-match", "bare-if-match"],
)
def test_a_stale_version_is_409(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any], headers: dict[str, str], body: dict[str, Any]
) -> None:
    # given an agent someone moved to v2
    path, token = f"/agents/{agent['id']}", org["editor"].token
    assert call(api, "PATCH", path, token=token, body={"temperature": 1.0}).status == 200
    # when an update expects v1
    response = call(api, "PATCH", path, token=token, body={"temperature": 0.1, **body}, headers=headers)
    # then 409 problem+json, and nothing changed
    assert response.status == 409, response.body
    assert response.content_type == "application/problem+json"
    assert "version 2" in response.json()["detail"]
    assert call(api, "GET", path, token=token).json()["config"]["temperature"] == 1.0


def test_the_current_etag_lets_an_update_through(api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]) -> None:
    # given an agent's ETag / when an update sends it as If-Match
    path, token = f"/agents/{agent['id']}", org["editor"].token
    etag = call(api, "GET", path, token=token).headers["etag"]
    response = call(api, "PATCH", path, token=token, body={"temperature": 0.5}, headers={"If-Match": etag})
    # then it applies
    assert response.status == 200, response.body
    assert response.json()["current_version"] == 2


def test_a_malformed_if_match_is_422(api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]) -> None:
    response = call(
        api, "PATCH", f"/agents/{agent['id']}", token=org["editor"].token, body={}, headers={"If-Match": "abc"}
    )
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == ["header.if-match"]


def test_the_publishable_key_can_be_rotated(api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]) -> None:
    # given an agent / when its key is rotated
    body = {"rotate_publishable_key": True}
    response = call(api, "PATCH", f"/agents/{agent['id']}", token=org["editor"].token, body=body)
    # then a new key is issued and the config version is unchanged
    assert response.status == 200, response.body
    assert response.json()["publishable_key"].startswith("pk_")
    assert response.json()["publishable_key"] != agent["publishable_key"]
    assert response.json()["current_version"] == 1


@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_archiving_is_soft_and_hides_the_agent_from_lists(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any], role: str
) -> None:
    # given an agent / when it is archived
    path = f"/agents/{agent['id']}"
    response = call(api, "DELETE", path, token=org[role].token)
    # then 204, and it is still readable, as archived
    assert (response.status, response.body) == (204, "")
    body = call(api, "GET", path, token=org["viewer"].token).json()
    assert body["status"] == "archived"
    assert body["archived_at"] is not None
    # and lists leave it out unless asked for
    listing = f"/organizations/{org['id']}/agents"
    assert call(api, "GET", listing, token=org["viewer"].token).json()["data"] == []
    included = call(api, "GET", listing, token=org["viewer"].token, query="include_archived=true")
    assert [a["id"] for a in included.json()["data"]] == [agent["id"]]
    # and archiving again is harmless
    assert call(api, "DELETE", path, token=org[role].token).status == 204


def test_an_archived_agent_cannot_be_changed(api: LambdaApi, org: dict[str, Any], agent: dict[str, Any]) -> None:
    # given an archived agent / when it is updated / then 409
    assert call(api, "DELETE", f"/agents/{agent['id']}", token=org["admin"].token).status == 204
    body = {"temperature": 1.0}
    response = call(api, "PATCH", f"/agents/{agent['id']}", token=org["editor"].token, body=body)
    assert response.status == 409, response.body
    assert "archived" in response.json()["detail"]


# --- roles and tenants ---------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any], create: Callable[..., LambdaResponse]
) -> None:
    viewer = org["viewer"].token
    path = f"/agents/{agent['id']}"
    # given an org's viewer / when they read / then they see the agent
    assert call(api, "GET", path, token=viewer).status == 200
    assert [a["id"] for a in call(api, "GET", f"/organizations/{org['id']}/agents", token=viewer).json()["data"]] == [
        agent["id"]
    ]
    # when they create, update or archive / then each is 403 problem+json
    for response in (
        create(org, role="viewer"),
        call(api, "PATCH", path, token=viewer, body={"temperature": 1.0}),
        call(api, "PATCH", path, token=viewer, body={"rotate_publishable_key": True}),
        call(api, "DELETE", path, token=viewer),
    ):
        assert response.status == 403, response.body
        assert response.content_type == "application/problem+json"
    # and nothing changed
    assert call(api, "GET", path, token=viewer).json() == agent


@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_owners_admins_and_editors_write(
    api: LambdaApi, org: dict[str, Any], create: Callable[..., LambdaResponse], role: str
) -> None:
    # given a writer role / when it creates and updates an agent / then both succeed
    created = create(org, role=role)
    assert created.status == 201, created.body
    body = {"persona": f"by {role}"}
    updated = call(api, "PATCH", f"/agents/{created.json()['id']}", token=org[role].token, body=body)
    assert updated.status == 200, updated.body


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_another_tenants_agent_is_404_everywhere(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], create: Callable[..., LambdaResponse], role: str
) -> None:
    # given tenant B's agent, and A's owner or viewer
    org_a, org_b = make_org(), make_org()
    theirs = create(org_b).json()
    token = org_a[role].token
    path = f"/agents/{theirs['id']}"
    # when A's member addresses it through every agent route
    responses = [
        call(api, "GET", path, token=token),
        call(api, "GET", path, token=token, query="version=1"),
        call(api, "PATCH", path, token=token, body={"temperature": 1.0}),
        call(api, "PATCH", path, token=token, body={"rotate_publishable_key": True}),
        call(api, "DELETE", path, token=token),
        call(api, "GET", f"/organizations/{org_b['id']}/agents", token=token),
        call(api, "POST", f"/organizations/{org_b['id']}/agents", token=token, body=CONFIG),
    ]
    # then each is 404 problem+json, and B's agent is untouched
    assert [r.status for r in responses] == [404] * len(responses), [r.body for r in responses]
    assert {r.content_type for r in responses} == {"application/problem+json"}
    assert call(api, "GET", path, token=org_b["viewer"].token).json() == theirs


def test_an_unknown_agent_is_404_and_a_bad_id_422(api: LambdaApi, org: dict[str, Any]) -> None:
    assert call(api, "GET", f"/agents/{uuid.uuid4()}", token=org["owner"].token).status == 404
    response = call(api, "DELETE", "/agents/not-a-uuid", token=org["owner"].token)
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == ["path.agent_id"]


def test_members_cannot_move_current_version_or_the_key_directly(database_url: str, agent: dict[str, Any]) -> None:
    # given the agent's owner acting through PostgREST (role authenticated)
    with psycopg.connect(database_url) as conn:
        owner = conn.execute(
            "select m.user_id from public.memberships m where m.organization_id = %s and m.role = 'owner'",
            (agent["organization_id"],),
        ).fetchone()
        assert owner is not None
        authenticate_as(conn, owner[0])
        # when they set current_version or the key themselves / then Postgres refuses
        for column in ("current_version = 9", "publishable_key = 'pk_mine'", "organization_id = gen_random_uuid()"):
            with pytest.raises(pg.InsufficientPrivilege), conn.transaction():
                conn.execute(f"update public.agents set {column} where id = %s", (agent["id"],))
        # but renaming directly still works
        assert conn.execute("update public.agents set name = 'x' where id = %s", (agent["id"],)).rowcount == 1
        conn.rollback()


def test_update_agent_refuses_a_config_derived_from_an_old_version(database_url: str, agent: dict[str, Any]) -> None:
    # given an agent at v2, changed by someone else after we read v1
    with psycopg.connect(database_url) as conn:
        owner = conn.execute(
            "select user_id from public.memberships where organization_id = %s and role = 'editor'",
            (agent["organization_id"],),
        ).fetchone()
        assert owner is not None
        authenticate_as(conn, owner[0])
        conn.execute('select public.update_agent(%s, 1, \'{"persona": "v2"}\'::jsonb)', (agent["id"],))
        # when a change derived from v1 lands / then it is refused and writes nothing
        with pytest.raises(pg.RaiseException, match="version 2, not 1"), conn.transaction():
            conn.execute('select public.update_agent(%s, 1, \'{"persona": "lost"}\'::jsonb)', (agent["id"],))
        conn.rollback()


# --- bad input -----------------------------------------------------------------------------------

CREATE_ERRORS = [
    ({"temperature": 2.5}, "body.temperature"),
    ({"temperature": "0.5"}, "body.temperature"),
    ({"goal": "sell"}, "body.goal"),
    ({"language": "portuguese"}, "body.language"),
    ({"model": "gpt-4o"}, "body.model"),
    ({"fallback_model": "huge"}, "body.fallback_model"),
    ({"persona": "  "}, "body.persona"),
    ({"instructions": "x" * 8001}, "body.instructions"),
    ({"name": ""}, "body.name"),
    ({"qualification_fields": [{"name": "Budget"}]}, "body.qualification_fields.0.name"),
    ({"qualification_fields": [{"name": "b", "type": "money!"}]}, "body.qualification_fields.0.type"),
    ({"qualification_fields": [{"name": "b", "type": "choice"}]}, "body.qualification_fields.0"),
    ({"qualification_fields": [{"name": "b", "required": "yes"}]}, "body.qualification_fields.0.required"),
    ({"qualification_fields": [{"name": "b"}, {"name": "b"}]}, "body.qualification_fields.1.name"),
    ({"scoring": {"qualified_threshold": 101}}, "body.scoring.qualified_threshold"),
    ({"scoring": {"rubric": {"ghost": 10}, "qualified_threshold": 5}}, "body.scoring.rubric.ghost"),
    ({"scoring": {"rubric": {"budget": 50}}}, "body.scoring.qualified_threshold"),
    ({"handoff": {"max_bot_turns": 0}}, "body.handoff.max_bot_turns"),
    ({"handoff": {"keywords": [""]}}, "body.handoff.keywords.0"),
    ({"handoff": {"score_at_least": 80}}, "body.handoff.score_at_least"),
    ({"follow_up": {"delays_hours": [0]}}, "body.follow_up.delays_hours.0"),
    ({"follow_up": {"delays_hours": [24], "max_attempts": 2}}, "body.follow_up.max_attempts"),
    ({"follow_up": {"template": "Hello World"}}, "body.follow_up.template"),
    ({"on_budget_exhausted": "panic"}, "body.on_budget_exhausted"),
    ({"whatsapp": "yes"}, "body.whatsapp"),
    ({"allowed_origins": ["https://shop.example.com/widget"]}, "body.allowed_origins.0"),
    ({"allowed_origins": ["https://ok.example", "ftp://files.example"]}, "body.allowed_origins.1"),
    ({"allowed_origins": ["*"]}, "body.allowed_origins.0"),
    ({"preset": "spin"}, "body.preset"),
    ({"colour": "blue"}, "body.colour"),
]


@pytest.mark.parametrize(("overrides", "field"), CREATE_ERRORS, ids=[f for _, f in CREATE_ERRORS])
def test_bad_input_on_create_names_the_field(
    org: dict[str, Any], create: Callable[..., LambdaResponse], overrides: dict[str, Any], field: str
) -> None:
    # given a body with one bad field / when an agent is created with it
    response = create(org, **overrides)
    # then 422 problem+json naming that field
    assert response.status == 422, response.body
    assert response.content_type == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]], response.body


UPDATE_ERRORS = [
    ({"temperature": -1}, "body.temperature"),
    ({"goal": 1}, "body.goal"),
    ({"expected_version": 0}, "body.expected_version"),
    ({"allowed_origins": ["https://a.example?x=1"]}, "body.allowed_origins.0"),
    ({"scoring": {"rubric": {"ghost": 80}}}, "body.scoring.rubric.ghost"),
    ({"persona": None}, "body.persona"),
    ({"status": "active"}, "body.status"),
]


@pytest.mark.parametrize(("patch", "field"), UPDATE_ERRORS, ids=[f for _, f in UPDATE_ERRORS])
def test_bad_input_on_update_names_the_field_and_writes_nothing(
    api: LambdaApi, org: dict[str, Any], agent: dict[str, Any], patch: dict[str, Any], field: str
) -> None:
    # given an agent / when it is patched with one bad field
    response = call(api, "PATCH", f"/agents/{agent['id']}", token=org["editor"].token, body=patch)
    # then 422 naming the field, and the agent is unchanged
    assert response.status == 422, response.body
    assert field in [e["field"] for e in response.json()["errors"]], response.body
    assert call(api, "GET", f"/agents/{agent['id']}", token=org["viewer"].token).json() == agent


def test_a_body_that_is_not_json_is_400(api: LambdaApi, org: dict[str, Any]) -> None:
    path = f"/organizations/{org['id']}/agents"
    response = call(api, "POST", path, token=org["editor"].token, raw_body="{not json")
    assert response.status == 400, response.body
    assert response.content_type == "application/problem+json"


# --- pagination ----------------------------------------------------------------------------------


def test_pages_follow_the_cursor_newest_first(
    api: LambdaApi, org: dict[str, Any], create: Callable[..., LambdaResponse]
) -> None:
    # given five agents
    created = [create(org, name=f"Agent {i}").json()["id"] for i in range(5)]
    path, token = f"/organizations/{org['id']}/agents", org["viewer"].token
    # when they are listed two at a time, following next_cursor
    seen: list[str] = []
    query = "limit=2"
    for expected_size in (2, 2, 1):
        page = call(api, "GET", path, token=token, query=query)
        assert page.status == 200, page.body
        body = page.json()
        assert len(body["data"]) == expected_size
        seen += [a["id"] for a in body["data"]]
        query = f"limit=2&cursor={body['next_cursor']}"
    # then every agent is seen once, newest first, and the last page has no cursor
    assert body["next_cursor"] is None
    assert seen == created[::-1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=bm9wZQ", "query.cursor"),
        ("cursor=%%%", "query.cursor"),
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
    ],
)
def test_a_bad_page_request_is_422(api: LambdaApi, org: dict[str, Any], query: str, field: str) -> None:
    response = call(api, "GET", f"/organizations/{org['id']}/agents", token=org["viewer"].token, query=query)
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == [field]


def _start_conversation(database_url: str, organization_id: uuid.UUID, agent_id: str) -> None:
    """A conversation pinned to the agent's version 1, written the way the service path would."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        lead = conn.execute(
            "insert into public.leads (organization_id, name) values (%s, 'Lead') returning id", (organization_id,)
        ).fetchone()
        assert lead is not None
        conn.execute(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
            " values (%s, %s, 1, %s, 'web')",
            (organization_id, agent_id, lead[0]),
        )
