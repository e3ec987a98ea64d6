"""Organizations through the real Lambda handlers: create, list, add members."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


def test_creator_becomes_owner(api: LambdaApi, make_user: Callable[..., Any], database_url: str) -> None:
    # given a signed-in user
    user = make_user()
    # when they create an organization
    response = api.call("POST", "/organizations", token=user.token, body={"name": "Acme Vendas"})
    # then it is created with a derived slug and they own it
    assert response.status == 201, response.body
    body = response.json()
    assert body["name"] == "Acme Vendas"
    assert body["role"] == "owner"
    assert body["slug"].startswith("acme-vendas")
    with psycopg.connect(database_url) as conn:
        role = conn.execute(
            "select role from public.memberships where organization_id = %s and user_id = %s",
            (body["id"], user.user_id),
        ).fetchone()
    assert role == ("owner",)


def test_duplicate_slug_conflicts(api: LambdaApi, make_user: Callable[..., Any]) -> None:
    # given an organization with slug s
    user = make_user()
    slug = f"dup-{uuid.uuid4().hex[:8]}"
    assert api.call("POST", "/organizations", token=user.token, body={"name": "A", "slug": slug}).status == 201
    # when another is created with the same slug
    response = api.call("POST", "/organizations", token=user.token, body={"name": "B", "slug": slug})
    # then 409 problem+json
    assert response.status == 409
    assert response.content_type == "application/problem+json"


def test_a_create_retried_with_its_key_makes_one_organization(
    api: LambdaApi, make_user: Callable[..., Any], database_url: str
) -> None:
    # given an organization created with an Idempotency-Key (no slug: each create would derive a new one)
    user = make_user()
    name, headers = f"Retry {uuid.uuid4().hex[:6]}", {"Idempotency-Key": str(uuid.uuid4())}
    first = api.call("POST", "/organizations", token=user.token, body={"name": name}, headers=headers)
    assert first.status == 201, first.body
    # when the same request is sent again / then the same answer, and the caller owns one such organization
    again = api.call("POST", "/organizations", token=user.token, body={"name": name}, headers=headers)
    assert again.status == 201, again.body
    assert again.json() == first.json()
    with psycopg.connect(database_url) as conn:
        made = conn.execute(
            "select o.id::text from public.organizations o join public.memberships m on m.organization_id = o.id"
            " where m.user_id = %s and o.name = %s",
            (user.user_id, name),
        ).fetchall()
    assert made == [(first.json()["id"],)]
    # and another user's retry with the same key is theirs: keys belong to their caller
    other = make_user()
    theirs = api.call("POST", "/organizations", token=other.token, body={"name": name}, headers=headers)
    assert theirs.status == 201, theirs.body
    assert theirs.json()["id"] != first.json()["id"]


def test_list_shows_only_my_organizations(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any]
) -> None:
    # given two organizations, and a user in the first only
    org_a, org_b = make_org(), make_org()
    # when A's viewer lists organizations
    response = api.call("GET", "/organizations", token=org_a["viewer"].token)
    # then only A is listed, with the viewer's role
    assert response.status == 200
    listed = {(o["id"], o["role"]) for o in response.json()["data"]}
    assert listed == {(str(org_a["id"]), "viewer")}
    assert str(org_b["id"]) not in response.body


def test_user_without_organizations_lists_none(api: LambdaApi, make_user: Callable[..., Any]) -> None:
    # given a new user / when they list / then the list is empty
    response = api.call("GET", "/organizations", token=make_user().token)
    assert response.status == 200
    assert response.json() == {"data": []}


def test_unknown_email_is_invited(api: LambdaApi, make_org: Callable[[], dict[str, Any]]) -> None:
    # given an org / when its admin adds an e-mail nobody has signed up with
    org = make_org()
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    response = api.call(
        "POST", f"/organizations/{org['id']}/members", token=org["admin"].token, body={"email": email, "role": "viewer"}
    )
    # then an invitation is recorded
    assert response.status == 201, response.body
    assert response.json()["status"] == "invited"
    assert response.json()["email"] == email


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_add_members(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any], role: str
) -> None:
    # given an org / when an editor or viewer tries to add someone
    org = make_org()
    response = api.call(
        "POST",
        f"/organizations/{org['id']}/members",
        token=org[role].token,
        body={"email": make_user().email, "role": "viewer"},
    )
    # then 403 problem+json
    assert response.status == 403, response.body
    assert response.content_type == "application/problem+json"


def test_admin_cannot_grant_owner_but_owner_can(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any]
) -> None:
    # given an org and an outsider
    org, outsider = make_org(), make_user()
    path = f"/organizations/{org['id']}/members"
    body = {"email": outsider.email, "role": "owner"}
    # when its admin grants owner / then refused
    assert api.call("POST", path, token=org["admin"].token, body=body).status == 403
    # when its owner does / then accepted
    assert api.call("POST", path, token=org["owner"].token, body=body).status == 201


def test_cross_tenant_member_add_is_not_found(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any]
) -> None:
    # given two orgs / when A's owner adds a member to B
    org_a, org_b = make_org(), make_org()
    response = api.call(
        "POST",
        f"/organizations/{org_b['id']}/members",
        token=org_a["owner"].token,
        body={"email": make_user().email, "role": "viewer"},
    )
    # then B's existence is not revealed
    assert response.status == 404, response.body
