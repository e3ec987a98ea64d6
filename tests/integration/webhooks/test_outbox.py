"""The outbox: events are written with the change they report, typed by the catalog, by the right callers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from shared.db import service_session, user_session
from shared.errors import Forbidden, InvalidInput
from shared.events.catalog import EVENT_TYPES
from shared.events.outbox import emit
from tests.support.aio import run
from tests.support.tokens import claims_for

pytestmark = pytest.mark.integration


def _events(database_url: str, organization_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "select type::text, payload from public.event_outbox where organization_id = %s order by created_at",
            (organization_id,),
        ).fetchall()


def test_the_sql_enum_is_the_python_catalog(db: psycopg.Connection[Any]) -> None:
    # given the migrated schema / then public.event_type lists exactly the catalog, in order
    row = db.execute("select enum_range(null::public.event_type)::text[]").fetchone()
    assert row is not None
    assert tuple(row[0]) == EVENT_TYPES


def test_an_event_commits_with_the_change_and_rolls_back_with_it(
    app_env: dict[str, str], make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    org = make_org()

    async def _change(fail: bool) -> None:
        async with service_session() as db:
            lead = await db.one("insert into public.leads (organization_id) values (%s) returning id", (org["id"],))
            assert lead is not None
            await emit(db, org["id"], "lead.updated", {"lead_id": lead["id"], "changes": {"stage": "engaged"}})
            if fail:
                raise RuntimeError("the change failed after the event was written")

    # when a change that emitted an event fails / then neither the change nor the event exists
    with pytest.raises(RuntimeError):
        run(_change(fail=True))
    assert _events(database_url, org["id"]) == []
    # when it commits / then the event is there, with its payload serialized as JSON
    run(_change(fail=False))
    [(event_type, payload)] = _events(database_url, org["id"])
    assert event_type == "lead.updated"
    assert payload["changes"] == {"stage": "engaged"}
    assert uuid.UUID(payload["lead_id"])


@pytest.mark.parametrize(("role", "allowed"), [("owner", True), ("editor", True), ("viewer", False)])
def test_users_emit_only_as_editors_of_their_own_organization(
    app_env: dict[str, str], make_org: Callable[[], dict[str, Any]], database_url: str, role: str, allowed: bool
) -> None:
    # given two organizations and a member of the first
    org, other = make_org(), make_org()
    member = org[role]

    async def _emit(organization_id: uuid.UUID) -> uuid.UUID:
        async with user_session(claims_for(member.user_id)) as db:
            return await emit(db, organization_id, "conversation.closed", {"conversation_id": "c1"})

    # when they emit for their organization / then only editors and above may
    if allowed:
        assert run(_emit(org["id"]))
        assert len(_events(database_url, org["id"])) == 1
    else:
        with pytest.raises(Forbidden):
            run(_emit(org["id"]))
    # and nobody emits for another organization
    with pytest.raises(Forbidden):
        run(_emit(other["id"]))
    assert _events(database_url, other["id"]) == []


def test_types_outside_the_catalog_are_refused(app_env: dict[str, str], make_org: Callable[[], dict[str, Any]]) -> None:
    org = make_org()

    async def _emit_raw(event_type: str) -> None:
        async with service_session() as db:
            await db.one("select app.emit_event(%s, %s, '{}')", (org["id"], event_type))

    # when Python code names an unknown type / then it fails before reaching the database
    with pytest.raises(ValueError, match="catalog"):
        run(_emit_unchecked(org["id"], "lead.deleted"))
    # and SQL refuses it too
    with pytest.raises(InvalidInput):
        run(_emit_raw("lead.deleted"))


async def _emit_unchecked(organization_id: uuid.UUID, event_type: str) -> None:
    async with service_session() as db:
        await emit(db, organization_id, event_type, {})  # type: ignore[arg-type]
