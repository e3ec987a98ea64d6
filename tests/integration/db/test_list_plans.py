"""Every list filter keeps an index plan under RLS: no sequential scan, no filter over more than 1,000 rows.

Under RLS a condition can become an index condition only if its operator is leakproof; an enum
comparison is not, so a status filter turned into a filter over the whole organization. The plans
are taken with EXPLAIN ANALYZE as role ``authenticated`` with a member's claims, on a database of
its own seeded with two tenants of tens of thousands of rows, for the exact SQL the services send.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, LiteralString

import psycopg
import pytest

from local_runtime.migrate import apply_migrations
from local_runtime.postgres import PostgresServer
from shared.agents.service import _PAGE as AGENTS_PAGE
from shared.conversations.service import _LIST as CONVERSATIONS_PAGE
from shared.integrations.service import _PAGE as INTEGRATIONS_PAGE
from shared.organizations.service import _MY_ORGANIZATIONS

pytestmark = pytest.mark.integration

CONVERSATIONS = 20_000  # per tenant
AGENTS = 2_000  # per tenant, nearly all archived
INTEGRATIONS = 2_000  # per tenant, few of kind hubspot
MAX_FILTERED = 1_000
_NO_CURSOR = {"after_t": None, "after_id": None}


def _seed(conn: psycopg.Connection[Any], org: uuid.UUID, user: uuid.UUID) -> dict[str, Any]:
    """One tenant: a member, agents, leads with conversations (few 'human', one rare agent), integrations."""
    conn.execute("insert into public.organizations (id, name, slug) values (%s, 'T', %s)", (org, f"t-{org.hex[:12]}"))
    conn.execute(
        "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'viewer')", (org, user)
    )
    conn.execute(
        "insert into public.agents (organization_id, name, status, created_at)"
        " select %s, 'a' || i, case when i %% 100 = 0 then 'active' else 'archived' end,"
        " now() - i * interval '1 minute' from generate_series(1, %s) i",
        (org, AGENTS),
    )
    agents = [r[0] for r in conn.execute("select id from public.agents where organization_id = %s limit 2", (org,))]
    for agent in agents:
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, '{}')",
            (org, agent),
        )
    conn.execute(
        "insert into public.leads (organization_id, name) select %s, 'l' || i from generate_series(1, %s) i",
        (org, CONVERSATIONS),
    )
    conn.execute(
        """
        insert into public.conversations
            (organization_id, agent_id, agent_version, lead_id, channel, status, created_at)
        select %(org)s,
               case when n %% 250 = 0 then %(rare)s::uuid else %(common)s::uuid end,
               1, l.id, 'api',
               case when n %% 500 = 0 then 'human' when n %% 3 = 0 then 'closed' else 'bot' end,
               now() - n * interval '1 second'
        from (select id, row_number() over () as n from public.leads where organization_id = %(org)s) l
        """,
        {"org": org, "rare": agents[0], "common": agents[1]},
    )
    conn.execute(
        "insert into public.integrations (organization_id, kind, name, external_id, created_at)"
        " select %s, case when i %% 300 = 0 then 'hubspot' else 'webhook' end, 'i' || i, %s || i,"
        " now() - i * interval '1 minute' from generate_series(1, %s) i",
        (org, org.hex, INTEGRATIONS),
    )
    return {"org": org, "rare_agent": agents[0], "common_agent": agents[1]}


@pytest.fixture(scope="module")
def seeded(pg_server: PostgresServer) -> Iterator[dict[str, Any]]:
    """A database of its own with two tenants; the member belongs to the first."""
    url = pg_server.create_database()
    apply_migrations(url)
    user, other = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        for who in (user, other):
            conn.execute("insert into auth.users (id, email) values (%s, %s)", (who, f"{who.hex}@example.com"))
        tenant = _seed(conn, uuid.uuid4(), user)
        _seed(conn, uuid.uuid4(), other)
        conn.execute("analyze")
    yield {"url": url, "user": user, **tenant}
    pg_server.drop_database(str(psycopg.conninfo.conninfo_to_dict(url)["dbname"]))


def _cases(t: dict[str, Any]) -> dict[str, tuple[LiteralString, dict[str, Any]]]:
    conversations = {"organization_id": t["org"], "status": None, "agent_id": None, "fetch": 21, **_NO_CURSOR}
    integrations = {"org": t["org"], "kind": None, "limit": 50, **_NO_CURSOR}
    agents = {"org": t["org"], "archived": False, "limit": 20, **_NO_CURSOR}
    return {
        "conversations": (CONVERSATIONS_PAGE, conversations),
        "conversations?status=human": (CONVERSATIONS_PAGE, {**conversations, "status": "human"}),
        "conversations?status=closed": (CONVERSATIONS_PAGE, {**conversations, "status": "closed"}),
        "conversations?agent_id=rare": (CONVERSATIONS_PAGE, {**conversations, "agent_id": t["rare_agent"]}),
        "conversations?agent_id=common": (CONVERSATIONS_PAGE, {**conversations, "agent_id": t["common_agent"]}),
        "conversations?agent_id&status": (
            CONVERSATIONS_PAGE,
            {**conversations, "agent_id": t["rare_agent"], "status": "human"},
        ),
        "agents": (AGENTS_PAGE, agents),
        "agents?include_archived": (AGENTS_PAGE, {**agents, "archived": True}),
        "integrations": (INTEGRATIONS_PAGE, integrations),
        "integrations?kind=hubspot": (INTEGRATIONS_PAGE, {**integrations, "kind": "hubspot"}),
        "organizations": (_MY_ORGANIZATIONS, {}),
    }


CASES = list(_cases({"org": None, "rare_agent": None, "common_agent": None}))


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def explain_as_member(url: str, user: uuid.UUID, sql: LiteralString, params: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN ANALYZE of ``sql`` bound client-side (as ``user_read`` sends it), as role authenticated."""
    claims = json.dumps({"sub": str(user), "role": "authenticated"})
    with psycopg.connect(url) as conn:
        conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", (claims,)
        )
        bound = psycopg.ClientCursor(conn).mogrify(sql, params)
        row = conn.execute(f"explain (analyze, format json) {bound}".encode()).fetchone()  # type: ignore[arg-type]
        conn.rollback()
    assert row is not None
    return dict(row[0][0]["Plan"])


@pytest.mark.parametrize("case", CASES)
def test_a_list_filter_is_an_index_plan_under_rls(seeded: dict[str, Any], case: str) -> None:
    # given two tenants of tens of thousands of rows, and a member of the first
    sql, params = _cases(seeded)[case]
    # when the list's statement is explained under RLS with the member's claims
    plan = explain_as_member(seeded["url"], seeded["user"], sql, params)
    # then no node scans a table sequentially past the threshold, and none filters away more than 1,000 rows
    for node in _nodes(plan):
        loops = node.get("Actual Loops", 1)
        examined = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
        assert not (node["Node Type"] == "Seq Scan" and examined > MAX_FILTERED), (case, node)
        assert node.get("Rows Removed by Filter", 0) * loops <= MAX_FILTERED, (case, node)
        assert node.get("Rows Removed by Index Recheck", 0) * loops <= MAX_FILTERED, (case, node)
