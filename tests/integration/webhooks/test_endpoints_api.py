"""The webhook endpoints API through the real Lambda handlers: CRUD, the secret shown once, rotation, RLS."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration
HOOK = "https://hooks.example.com/ca"


def _endpoints(api: LambdaApi, org: dict[str, Any], role: str = "viewer") -> Any:
    response = api.call("GET", f"/organizations/{org['id']}/webhook-endpoints", token=org[role].token)
    assert response.status == 200, response.body
    return response.json()["data"]


def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]]
) -> None:
    # given an organization / when its admin registers an endpoint
    org = make_org()
    response = api.call(
        "POST",
        f"/organizations/{org['id']}/webhook-endpoints",
        token=org["admin"].token,
        body={"url": HOOK, "events": ["lead.qualified", "conversion.created"], "description": "HubSpot bridge"},
    )
    # then it is created, enabled, and the response carries a whsec_ signing secret
    assert response.status == 201, response.body
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) > 40
    assert (created["url"], created["events"], created["enabled"]) == (
        HOOK,
        ["lead.qualified", "conversion.created"],
        True,
    )
    assert created["organization_id"] == str(org["id"])
    # and listing it (as any member) never shows the secret again
    listing = api.call("GET", f"/organizations/{org['id']}/webhook-endpoints", token=org["viewer"].token)
    assert [e["id"] for e in listing.json()["data"]] == [created["id"]]
    assert created["secret"] not in listing.body
    assert "secret" not in listing.json()["data"][0]


def test_a_create_retried_with_its_key_makes_one_endpoint_with_a_new_secret(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    # given an endpoint registered with an Idempotency-Key
    org = make_org()
    path, key = f"/organizations/{org['id']}/webhook-endpoints", str(uuid.uuid4())
    body = {"url": HOOK, "events": ["lead.qualified"]}
    first = api.call("POST", path, token=org["admin"].token, body=body, headers={"Idempotency-Key": key})
    assert first.status == 201, first.body
    # when the same request is sent again (its answer was lost, say)
    again = api.call("POST", path, token=org["admin"].token, body=body, headers={"Idempotency-Key": key})
    # then it answers with the same endpoint and a new secret; one endpoint exists, and only the new secret signs
    assert again.status == 201, again.body
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["secret"].startswith("whsec_")
    assert again.json()["secret"] != first.json()["secret"]
    assert again.json()["previous_secret_expires_at"] is None
    assert [e["id"] for e in _endpoints(api, org)] == [first.json()["id"]]
    with psycopg.connect(database_url) as conn:
        names = conn.execute(
            "select count(*) from vault.secrets where name like %s", (f"webhook_endpoint:{first.json()['id']}:%",)
        ).fetchone()
        # and no secret was kept outside the vault: the remembered answer has none
        [stored] = conn.execute("select response_body from public.idempotency_keys where key = %s", (key,)).fetchall()
    assert names == (1,)
    assert "secret" not in stored[0]
    assert first.json()["secret"] not in str(stored[0])


def test_an_update_changes_only_what_was_sent_and_returns_no_secret(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_endpoint: Callable[..., dict[str, Any]]
) -> None:
    # given an endpoint
    org = make_org()
    endpoint = make_endpoint(org, HOOK)
    # when the owner disables it and changes its events
    response = api.call(
        "PATCH",
        f"/webhook-endpoints/{endpoint['id']}",
        token=org["owner"].token,
        body={"enabled": False, "events": ["handoff.requested", "handoff.requested"]},
    )
    # then those fields change (duplicates dropped), the rest stay, and no secret is returned
    assert response.status == 200, response.body
    updated = response.json()
    assert (updated["enabled"], updated["events"], updated["url"]) == (False, ["handoff.requested"], HOOK)
    assert updated["description"] == "CRM bridge"
    assert "secret" not in updated
    assert endpoint["secret"] not in response.body


def test_rotation_issues_a_new_secret_and_keeps_the_old_one_for_a_day(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_endpoint: Callable[..., dict[str, Any]]
) -> None:
    # given an endpoint
    org = make_org()
    endpoint = make_endpoint(org, HOOK)
    # when its admin rotates the secret
    response = api.call("POST", f"/webhook-endpoints/{endpoint['id']}/rotate-secret", token=org["admin"].token)
    # then a different secret is returned once, and the previous one signs for 24 more hours
    assert response.status == 200, response.body
    rotated = response.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != endpoint["secret"]
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=5)
    assert _endpoints(api, org)[0]["previous_secret_expires_at"] is not None


def test_rotation_with_no_grace_retires_the_old_secret_at_once(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    database_url: str,
) -> None:
    # given an endpoint rotated once with a grace period
    org = make_org()
    endpoint = make_endpoint(org, HOOK)
    path = f"/webhook-endpoints/{endpoint['id']}/rotate-secret"
    assert api.call("POST", path, token=org["admin"].token).status == 200
    # when it is rotated again with no grace period
    response = api.call("POST", path, token=org["admin"].token, body={"grace_period_hours": 0})
    # then only the newest secret is left, in the endpoint and in the vault
    assert response.status == 200, response.body
    assert response.json()["previous_secret_expires_at"] is None
    with psycopg.connect(database_url) as conn:
        names = conn.execute(
            "select count(*) from vault.secrets where name like %s", (f"webhook_endpoint:{endpoint['id']}:%",)
        ).fetchone()
    assert names == (1,)


def test_deleting_an_endpoint_removes_it_and_its_secrets(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    database_url: str,
) -> None:
    # given an endpoint whose secret was rotated (two secrets in the vault)
    org = make_org()
    endpoint = make_endpoint(org, HOOK)
    api.call("POST", f"/webhook-endpoints/{endpoint['id']}/rotate-secret", token=org["admin"].token)
    # when its admin deletes it
    response = api.call("DELETE", f"/webhook-endpoints/{endpoint['id']}", token=org["admin"].token)
    # then it is gone from the list and its secrets are gone from the vault
    assert response.status == 204, response.body
    assert _endpoints(api, org) == []
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "select count(*) from vault.secrets where name like %s", (f"webhook_endpoint:{endpoint['id']}:%",)
        ).fetchone()
    assert left == (0,)


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_another_tenants_endpoint_is_not_found(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_endpoint: Callable[..., dict[str, Any]], role: str
) -> None:
    # given an endpoint of organization B
    org_a, org_b = make_org(), make_org()
    endpoint = make_endpoint(org_b, HOOK)
    token = org_a[role].token
    # when A's member addresses it through every route / then each answers 404 problem+json
    for method, path, body in (
        ("PATCH", f"/webhook-endpoints/{endpoint['id']}", {"enabled": False}),
        ("POST", f"/webhook-endpoints/{endpoint['id']}/rotate-secret", None),
        ("DELETE", f"/webhook-endpoints/{endpoint['id']}", None),
        ("GET", f"/webhook-endpoints/{endpoint['id']}/deliveries", None),
        ("GET", f"/organizations/{org_b['id']}/webhook-endpoints", None),
        ("POST", f"/organizations/{org_b['id']}/webhook-endpoints", {"url": HOOK, "events": ["lead.updated"]}),
    ):
        response = api.call(method, path, token=token, body=body)
        assert response.status == 404, (method, path, response.body)
        assert response.content_type == "application/problem+json"
    # and B's endpoint is untouched
    assert _endpoints(api, org_b)[0]["enabled"] is True


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_members_below_admin_read_but_cannot_manage(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_endpoint: Callable[..., dict[str, Any]], role: str
) -> None:
    # given an endpoint and a member who is not an admin
    org = make_org()
    endpoint = make_endpoint(org, HOOK)
    token = org[role].token
    # when they manage it / then every write is 403 problem+json
    for method, path, body in (
        ("POST", f"/organizations/{org['id']}/webhook-endpoints", {"url": HOOK, "events": ["lead.updated"]}),
        ("PATCH", f"/webhook-endpoints/{endpoint['id']}", {"enabled": False}),
        ("POST", f"/webhook-endpoints/{endpoint['id']}/rotate-secret", None),
        ("DELETE", f"/webhook-endpoints/{endpoint['id']}", None),
    ):
        response = api.call(method, path, token=token, body=body)
        assert response.status == 403, (method, path, response.body)
        assert response.content_type == "application/problem+json"
    # but they read the endpoints and the delivery log
    assert _endpoints(api, org, role)[0]["enabled"] is True
    log = api.call("GET", f"/webhook-endpoints/{endpoint['id']}/deliveries", token=token)
    assert (log.status, log.json()) == (200, {"data": [], "next_cursor": None})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.com/", "events": ["lead.updated"]}, "body.url"),
        ({"url": "http://hooks.example.com/", "events": ["lead.updated"]}, "body.url"),
        ({"url": "https://user:pw@hooks.example.com/", "events": ["lead.updated"]}, "body.url"),
        ({"url": HOOK, "events": ["lead.qualified", "lead.bogus"]}, "body.events.1"),
        ({"url": HOOK, "events": ["*"]}, "body.events.0"),
        ({"url": HOOK, "events": []}, "body.events"),
        ({"url": HOOK}, "body.events"),
        ({"url": HOOK, "events": ["lead.updated"], "description": "x" * 501}, "body.description"),
        ({"url": HOOK, "events": ["lead.updated"], "secret": "whsec_mine"}, "body.secret"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    # given an admin / when they send an invalid endpoint / then 422 problem+json names the field
    org = make_org()
    response = api.call("POST", f"/organizations/{org['id']}/webhook-endpoints", token=org["admin"].token, body=body)
    assert response.status == 422, response.body
    assert response.content_type == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


def test_an_empty_update_or_a_bad_cursor_is_422(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_endpoint: Callable[..., dict[str, Any]]
) -> None:
    org = make_org()
    endpoint = make_endpoint(org, HOOK)
    # when nothing is sent to change / then 422
    response = api.call("PATCH", f"/webhook-endpoints/{endpoint['id']}", token=org["admin"].token, body={})
    assert response.status == 422, response.body
    # when the log is paged with a cursor the API never issued / then 422 on query.cursor
    response = api.call("GET", f"/webhook-endpoints/{endpoint['id']}/deliveries?cursor=nope", token=org["admin"].token)
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]


def test_an_unknown_endpoint_is_404(api: LambdaApi, make_org: Callable[[], dict[str, Any]]) -> None:
    org = make_org()
    response = api.call("PATCH", f"/webhook-endpoints/{uuid.uuid4()}", token=org["owner"].token, body={"enabled": True})
    assert response.status == 404, response.body


def test_the_delivery_log_pages_newest_first(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_endpoint: Callable[..., dict[str, Any]],
    emit_event: Callable[..., uuid.UUID],
    database_url: str,
) -> None:
    # given an endpoint with three logged attempts of one event
    org = make_org()
    endpoint = make_endpoint(org, HOOK)
    event_id = emit_event(org["id"], "lead.qualified", {})
    with psycopg.connect(database_url) as conn:
        for attempt in (1, 2, 3):
            conn.execute(
                "insert into public.webhook_deliveries (organization_id, endpoint_id, event_id, event_type, attempt,"
                " status, created_at) values (%s, %s, %s, 'lead.qualified', %s, 'failed', now() + %s * interval '1s')",
                (org["id"], endpoint["id"], event_id, attempt, attempt),
            )
    path = f"/webhook-endpoints/{endpoint['id']}/deliveries"
    # when a viewer reads two at a time
    first = api.call("GET", f"{path}?limit=2", token=org["viewer"].token).json()
    second = api.call("GET", f"{path}?limit=2&cursor={first['next_cursor']}", token=org["viewer"].token).json()
    # then the pages hold attempts 3, 2 and then 1, and the last page has no cursor
    assert [a["attempt"] for a in first["data"]] == [3, 2]
    assert [a["attempt"] for a in second["data"]] == [1]
    assert second["next_cursor"] is None


def test_an_organization_has_at_most_sixteen_endpoints(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_endpoint: Callable[..., dict[str, Any]]
) -> None:
    # given an organization with sixteen endpoints
    org = make_org()
    for n in range(16):
        make_endpoint(org, f"{HOOK}/{n}")
    # when a seventeenth is registered / then 409 problem+json
    response = api.call(
        "POST",
        f"/organizations/{org['id']}/webhook-endpoints",
        token=org["admin"].token,
        body={"url": HOOK, "events": ["lead.updated"]},
    )
    assert response.status == 409, response.body
    assert len(_endpoints(api, org)) == 16
