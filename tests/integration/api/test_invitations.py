"""Membership needs consent: adding a member invites, and only the invitee, e-mail confirmed, accepts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


def _confirm(database_url: str, user_id: uuid.UUID) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update auth.users set email_confirmed_at = now() where id = %s", (user_id,))


def _invite(api: LambdaApi, org: dict[str, Any], email: str, role: str = "editor") -> Any:
    body = {"email": email, "role": role}
    return api.call("POST", f"/organizations/{org['id']}/members", token=org["admin"].token, body=body)


def _organizations(api: LambdaApi, token: str) -> list[tuple[str, str]]:
    return [(o["id"], o["role"]) for o in api.call("GET", "/organizations", token=token).json()["data"]]


def test_known_and_unknown_emails_get_the_same_answer_and_nobody_joins(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any]
) -> None:
    # given an organization and a registered user outside it
    org, known = make_org(), make_user()
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    # when its admin adds the registered e-mail and an unknown one
    for_known, for_unknown = _invite(api, org, known.email.upper()), _invite(api, org, unknown)
    # then both answers have the same status and shape: an invitation, nothing about accounts
    assert for_known.status == for_unknown.status == 201, for_known.body
    assert set(for_known.json()) == set(for_unknown.json()) == {"status", "email", "role", "invitation_id"}
    assert for_known.json()["status"] == for_unknown.json()["status"] == "invited"
    assert str(known.user_id) not in for_known.body
    # and the registered user is not a member until they accept
    assert _organizations(api, known.token) == []


def test_the_invitee_with_a_confirmed_email_sees_and_accepts(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any], database_url: str
) -> None:
    # given an invitation to a registered user whose e-mail is confirmed
    org, invitee = make_org(), make_user()
    invitation = _invite(api, org, invitee.email).json()["invitation_id"]
    _confirm(database_url, invitee.user_id)
    # when they list their invitations and accept it
    listed = api.call("GET", "/invitations", token=invitee.token)
    accepted = api.call("POST", f"/invitations/{invitation}/accept", token=invitee.token)
    # then they saw it, and now belong to the organization with the invited role
    assert [i["id"] for i in listed.json()["data"]] == [invitation]
    assert accepted.status == 200, accepted.body
    assert accepted.json() == {"organization_id": str(org["id"]), "role": "editor"}
    assert _organizations(api, invitee.token) == [(str(org["id"]), "editor")]
    # and the invitation cannot be used twice
    assert api.call("POST", f"/invitations/{invitation}/accept", token=invitee.token).status == 404


def test_an_unconfirmed_email_cannot_accept(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any]
) -> None:
    # given an invitation to a user who never confirmed their e-mail
    org, invitee = make_org(), make_user()
    invitation = _invite(api, org, invitee.email).json()["invitation_id"]
    # when they list and accept / then they see nothing and the accept is 404
    assert api.call("GET", "/invitations", token=invitee.token).json() == {"data": []}
    response = api.call("POST", f"/invitations/{invitation}/accept", token=invitee.token)
    assert response.status == 404, response.body
    assert response.content_type == "application/problem+json"
    assert _organizations(api, invitee.token) == []


def test_someone_else_cannot_accept_an_invitation(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any], database_url: str
) -> None:
    # given an invitation to one person, and another confirmed user who learned its id
    org, invitee, other = make_org(), make_user(), make_user()
    invitation = _invite(api, org, invitee.email).json()["invitation_id"]
    _confirm(database_url, other.user_id)
    # when the other user accepts it / then 404, and they joined nothing
    assert api.call("POST", f"/invitations/{invitation}/accept", token=other.token).status == 404
    assert _organizations(api, other.token) == []


def test_signing_up_does_not_accept_invitations(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any]
) -> None:
    # given an invitation to an e-mail nobody has signed up with
    org = make_org()
    email = f"later-{uuid.uuid4().hex[:8]}@example.com"
    assert _invite(api, org, email).status == 201
    # when someone signs up with that e-mail (unconfirmed) / then they are a member of nothing
    newcomer = make_user(email)
    assert _organizations(api, newcomer.token) == []
