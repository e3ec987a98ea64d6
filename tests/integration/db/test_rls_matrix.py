"""RLS matrix at the SQL level: every public table, as `authenticated` and as `anon`.

For each table a member of tenant A cannot select, insert, update or delete tenant B's
rows; `anon` can do nothing; a viewer cannot write. Positive controls prove that the
same statements do work for the roles the policies allow, so a table that refused
everything would fail too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from shared.knowledge import retrieval
from tests.integration.db.conftest import Tenant
from tests.support.sql import authenticate_as

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class TableSpec:
    """How to reach one row of a table and how to write to it."""

    table: str
    key: str  # where-clause naming one tenant row, with %(name)s params from Tenant.params()
    insert: str  # a fresh row for the tenant in %(org)s
    update: str  # a harmless SET clause
    inserter: str | None  # the weakest role allowed to insert (None: nobody as authenticated)
    updater: str | None
    deleter: str | None
    reader: str = "viewer"

    @property
    def qualified(self) -> str:
        """The table with its schema (public unless the spec names another, e.g. ``storage.objects``)."""
        return self.table if "." in self.table else f"public.{self.table}"


TABLES = [
    TableSpec(
        "organizations",
        "id = %(org)s",
        "(name, slug) values ('X', 'x-' || md5(random()::text))",
        "name = name || '!'",
        None,
        "admin",
        "owner",
    ),
    TableSpec(
        "memberships",
        "organization_id = %(org)s and user_id = %(viewer_id)s",
        "(organization_id, user_id, role) values (%(org)s, %(newcomer)s, 'viewer')",
        "role = 'editor'",
        None,  # members join by accepting an invitation
        "admin",
        "admin",
    ),
    TableSpec(
        "invitations",
        "id = %(invitation)s",
        "(organization_id, email, role) values (%(org)s, 'new-' || md5(random()::text) || '@x.test', 'viewer')",
        "role = 'editor'",
        None,  # public.add_organization_member
        None,
        "admin",
        reader="admin",
    ),
    TableSpec(
        "agents",
        "id = %(agent)s",
        "(organization_id, name) values (%(org)s, 'New agent')",
        "name = name || '!'",
        None,  # public.create_agent
        "editor",
        "admin",
    ),
    TableSpec(
        "agent_versions",
        "id = %(agent_version)s",
        "(organization_id, agent_id, version, config) values (%(org)s, %(agent)s, 2, '{}')",
        "config = '{\"x\": 1}'",
        None,  # public.update_agent
        None,
        None,
    ),
    TableSpec(
        "leads",
        "id = %(lead)s",
        "(organization_id, name) values (%(org)s, 'Other lead')",
        "name = 'Other'",
        "editor",
        "editor",
        "admin",
    ),
    TableSpec(
        "conversations",
        "id = %(conversation)s",
        "(organization_id, agent_id, agent_version, lead_id, channel) values (%(org)s, %(agent)s, 1, %(lead)s, 'api')",
        "status = 'human'",
        "editor",
        "editor",
        "admin",
    ),
    TableSpec(
        "messages",
        "id = %(message)s",
        "(organization_id, conversation_id, role, content) values (%(org)s, %(conversation)s, 'human', 'olá')",
        "status = 'queued'",
        "editor",
        "editor",
        "admin",
    ),
    TableSpec(
        "lead_events",
        "id = %(lead_event)s",
        "(organization_id, lead_id, type) values (%(org)s, %(lead)s, 'lead.note')",
        "type = 'lead.changed'",
        None,  # only the service path, or an event recording the transaction's own change
        None,
        None,
    ),
    TableSpec(
        "conversions",
        "id = %(conversion)s",
        "(organization_id, lead_id, type, value) values (%(org)s, %(lead)s, 'sale', 10)",
        "value = 1",
        None,  # the worker and CRM webhooks record outcomes
        None,
        None,
    ),
    TableSpec(
        "llm_usage",
        "id = %(llm_usage)s",
        "(organization_id, model) values (%(org)s, 'local/deterministic')",
        "cost_usd = 0",
        None,
        None,
        None,
    ),
    TableSpec(
        "budgets",
        "id = %(budget)s",
        "(organization_id, agent_id, monthly_limit_usd) values (%(org)s, %(agent)s, 1)",
        "monthly_limit_usd = 99",
        None,  # public.set_budget
        None,
        None,
    ),
    TableSpec(
        "budget_changes",
        "id = %(budget_change)s",
        "(organization_id, budget_id, new) values (%(org)s, %(budget)s, '{}')",
        "new = '{}'",
        None,
        None,
        None,
        reader="admin",
    ),
    TableSpec(
        "follow_ups",
        "id = %(follow_up)s",
        "(organization_id, conversation_id, lead_id, step, anchor_at, due_at, time_zone)"
        " values (%(org)s, %(conversation)s, %(lead)s, 1, now(), now(), 'UTC')",
        "status = 'stopped'",
        None,  # public.set_follow_ups
        None,
        None,
    ),
    TableSpec(
        "budget_reservations",
        "id = %(reservation)s",
        "(organization_id, alias, amount_usd) values (%(org)s, 'fast', 1)",
        "amount_usd = 0",
        None,
        None,
        None,
    ),
    TableSpec(
        "integrations",
        "id = %(integration)s",
        "(organization_id, kind, name) values (%(org)s, 'webhook', 'Hook')",
        "enabled = false",
        "admin",
        "admin",
        "admin",
    ),
    TableSpec(
        "knowledge_documents",
        "id = %(document)s",
        "(organization_id, title) values (%(org)s, 'Preços')",
        "title = 'Novo'",
        "editor",
        "editor",
        "editor",
    ),
    TableSpec(
        "knowledge_unanswered",
        "id = %(unanswered)s",
        "(organization_id, agent_id, conversation_id, message_id, question)"
        " values (%(org)s, %(agent)s, %(conversation)s, %(message)s, 'Tem academia?')",
        "question = 'x'",
        None,  # app.finish_turn
        None,
        None,
    ),
    TableSpec(
        "knowledge_chunks",
        "id = %(chunk)s",
        "(organization_id, document_id, chunk_index, content) values (%(org)s, %(document)s, 7, 'x')",
        "content = 'y'",
        None,  # the ingestion worker
        None,
        None,
    ),
    TableSpec(
        "knowledge_source_agents",
        "document_id = %(document)s and agent_id = %(agent)s",
        "(organization_id, document_id, agent_id) values (%(org)s, %(pool_document)s, %(agent)s)",
        "agent_id = agent_id",
        "editor",
        None,  # detach and attach again
        "editor",
    ),
    # Supabase Storage: objects of the knowledge bucket, keyed on the first path segment (the organization).
    TableSpec(
        "storage.objects",
        "bucket_id = 'knowledge' and name = %(file_object)s",
        "(bucket_id, name) values ('knowledge', %(upload_path)s)",
        "metadata = '{}'::jsonb",
        "editor",
        "editor",
        "editor",
    ),
    TableSpec(
        "event_outbox",
        "id = %(event)s",
        "(organization_id, type) values (%(org)s, 'lead.updated')",
        "attempts = 1",
        None,
        None,
        None,
    ),
    TableSpec(
        "webhook_endpoints",
        "id = %(webhook_endpoint)s",
        "(organization_id, url, events) values (%(org)s, 'https://example.com/new', '{lead.updated}')",
        "enabled = false",
        "admin",
        "admin",
        "admin",
    ),
    TableSpec(
        "webhook_deliveries",
        "id = %(webhook_delivery)s",
        "(organization_id, endpoint_id, event_id, event_type, attempt)"
        " values (%(org)s, %(webhook_endpoint)s, %(event)s, 'lead.qualified', 2)",
        "status = 'failed'",
        None,
        None,
        None,
    ),
    TableSpec(
        "idempotency_keys",
        "id = %(idempotency_key)s",
        "(organization_id, user_id, scope, key, request_hash, response_status, response_body)"
        " values (%(org)s, %(viewer_id)s, 'user:' || %(viewer_id)s, md5(random()::text), repeat('a', 64), 200, '{}')",
        "key = 'x'",
        None,
        None,
        None,
    ),
    TableSpec(
        "message_status_events",
        "id = %(message_status_event)s",
        "(organization_id, channel_message_id, status, occurred_at) values (%(org)s, 'wamid.new', 'read', now())",
        "status = 'failed'",
        None,
        None,
        None,
    ),
    TableSpec(
        "experiments",
        "id = %(experiment)s",
        "(organization_id, agent_id, name, primary_metric, control_version, status)"
        " values (%(org)s, %(agent)s, 'x', 'conversion_rate', 1, 'stopped')",
        "name = 'y'",
        None,  # public.create_experiment
        None,  # public.stop_experiment
        None,
    ),
    TableSpec(
        "experiment_variants",
        "id = %(experiment_variant)s",
        "(organization_id, experiment_id, agent_id, version, weight, position)"
        " values (%(org)s, %(experiment)s, %(agent)s, 1, 1, 5)",
        "weight = 2",
        None,
        None,
        None,
    ),
    TableSpec(
        "analytics_conversations",
        "conversation_id = %(conversation)s",
        "(organization_id, conversation_id, agent_id, agent_version, channel, lead_id, started_at)"
        " values (%(org)s, %(conversation)s, %(agent)s, 1, 'web', %(lead)s, now())",
        "llm_cost_usd = 0",
        None,  # the refreshAnalytics cron
        None,
        None,
    ),
    TableSpec(
        "analytics_experiment_leads",
        "lead_id = %(lead)s",
        "(experiment_variant_id, lead_id, organization_id, conversations, qualified, converted, conversions,"
        " llm_cost_usd) values (%(experiment_variant)s, %(lead)s, %(org)s, 1, false, false, 0, 0)",
        "llm_cost_usd = 0",
        None,
        None,
        None,
    ),
    TableSpec(
        "crm_links",
        "id = %(crm_link)s",
        "(organization_id, integration_id, lead_id) values (%(org)s, %(integration)s, %(lead)s)",
        "deal_id = 'x'",
        None,
        None,
        None,
    ),
]
IDS = [spec.table for spec in TABLES]
RANK = {"owner": 0, "admin": 1, "editor": 2, "viewer": 3}


def _params(tenant: Tenant) -> dict[str, Any]:
    return {**tenant.params(), "newcomer": tenant.members["viewer"]}


def _count(conn: psycopg.Connection[Any], spec: TableSpec, tenant: Tenant) -> int:
    row = conn.execute(f"select count(*) from {spec.qualified} where {spec.key}", _params(tenant)).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def _attempt(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> int | None:
    """Run a write in a savepoint: rows affected, or None when Postgres refused it."""
    try:
        with conn.transaction():
            return conn.execute(sql, params).rowcount  # type: ignore[arg-type]
    except (pg.InsufficientPrivilege, pg.ForeignKeyViolation):
        return None


def _insert(conn: psycopg.Connection[Any], spec: TableSpec, params: dict[str, Any]) -> int | None:
    return _attempt(conn, f"insert into {spec.qualified} {spec.insert}", params)


def _update(conn: psycopg.Connection[Any], spec: TableSpec, params: dict[str, Any]) -> int | None:
    return _attempt(conn, f"update {spec.qualified} set {spec.update} where {spec.key}", params)


def _delete(conn: psycopg.Connection[Any], spec: TableSpec, params: dict[str, Any]) -> int | None:
    return _attempt(conn, f"delete from {spec.qualified} where {spec.key}", params)


def _refused(result: int | None) -> bool:
    return result is None or result == 0


def test_every_public_table_is_in_the_matrix_and_has_rls(db: psycopg.Connection[Any]) -> None:
    # given the migrated schema / when its public tables are listed
    rows = db.execute(
        "select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p')"
    ).fetchall()
    # then every one has RLS on and is covered by this matrix
    assert {name for name, _ in rows} == {s.table for s in TABLES if "." not in s.table}
    assert [name for name, rls in rows if not rls] == []


def test_no_view_in_public_bypasses_rls(db: psycopg.Connection[Any]) -> None:
    # given the schema / then any view runs with the caller's rights (security_invoker)
    views = db.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('v', 'm')"
        " and not coalesce('security_invoker=true' = any(c.reloptions), false)"
    ).fetchall()
    assert views == []


@pytest.mark.parametrize("spec", TABLES, ids=IDS)
def test_members_read_their_rows_but_not_another_tenants(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], spec: TableSpec
) -> None:
    a, b = tenants
    # given A's member with the weakest role that may read this table
    authenticate_as(db, a.members[spec.reader])
    # when they select A's row and B's row / then only A's is visible
    assert _count(db, spec, a) == 1
    assert _count(db, spec, b) == 0


@pytest.mark.parametrize("spec", TABLES, ids=IDS)
@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_a_member_of_a_cannot_write_b_rows(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], spec: TableSpec, role: str
) -> None:
    a, b = tenants
    # given A's owner (the strongest role) or viewer
    authenticate_as(db, a.members[role])
    params = _params(b)
    # when they insert, update and delete in B / then every write is refused
    assert _insert(db, spec, params) is None
    assert _refused(_update(db, spec, params))
    assert _refused(_delete(db, spec, params))
    # and B's row is untouched (as seen by B's member who may read it)
    authenticate_as(db, b.members[spec.reader])
    assert _count(db, spec, b) == 1


CHILDREN = [s for s in TABLES if any(f"%({p})s" in s.insert for p in ("agent", "lead", "conversation", "document"))]


@pytest.mark.parametrize("spec", CHILDREN, ids=[s.table for s in CHILDREN])
def test_a_row_in_a_cannot_point_at_b_parents(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], spec: TableSpec
) -> None:
    a, b = tenants
    # given A's owner / when they insert a row for A that references B's parent rows
    authenticate_as(db, a.members["owner"])
    params = {**_params(b), "org": a.org}
    result = _insert(db, spec, params)
    # then the composite foreign key refuses it
    assert result is None


@pytest.mark.parametrize("spec", TABLES, ids=IDS)
def test_anon_sees_and_writes_nothing(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], spec: TableSpec
) -> None:
    a, _ = tenants
    # given an anonymous caller
    authenticate_as(db, None, role="anon")
    params = _params(a)
    # when they select / then they are refused outright
    with pytest.raises(pg.InsufficientPrivilege), db.transaction():
        db.execute(f"select * from {spec.qualified}")
    # and every write is refused
    assert _insert(db, spec, params) is None
    assert _update(db, spec, params) is None
    assert _delete(db, spec, params) is None


@pytest.mark.parametrize("spec", TABLES, ids=IDS)
def test_a_viewer_cannot_write_in_their_own_organization(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], spec: TableSpec
) -> None:
    a, _ = tenants
    # given A's viewer
    authenticate_as(db, a.members["viewer"])
    params = {**_params(a), "viewer_id": a.members["editor"]}
    # when they insert, update and delete A's rows / then nothing is written
    assert _insert(db, spec, params) is None
    assert _refused(_update(db, spec, params))
    assert _refused(_delete(db, spec, params))


@pytest.mark.parametrize("spec", TABLES, ids=IDS)
def test_the_roles_the_policies_name_can_write(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], spec: TableSpec
) -> None:
    a, _ = tenants
    params = {**_params(a), "newcomer": _outsider(db)}
    # given, for each write, the weakest role allowed to do it (and the role just below it)
    for verb, allowed, run in (
        ("insert", spec.inserter, _insert),
        ("update", spec.updater, _update),
        ("delete", spec.deleter, _delete),
    ):
        if allowed is None:
            authenticate_as(db, a.members["owner"])
            assert _refused(run(db, spec, params)), f"{verb} should be refused to everyone"
            continue
        weaker = [r for r, rank in RANK.items() if rank == RANK[allowed] + 1]
        if weaker:
            # when the next weaker role tries / then it is refused
            authenticate_as(db, a.members[weaker[0]])
            assert _refused(run(db, spec, params)), f"{weaker[0]} should not {verb} {spec.table}"
        # when that role writes A's row / then exactly one row is written
        authenticate_as(db, a.members[allowed])
        assert run(db, spec, params) == 1, f"{allowed} should {verb} {spec.table}"


def _outsider(db: psycopg.Connection[Any]) -> uuid.UUID:
    db.execute("reset role")
    uid = uuid.uuid4()
    db.execute("insert into auth.users (id, email) values (%s, %s)", (uid, f"out-{uid.hex[:8]}@x.test"))
    return uid


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_the_api_roles_cannot_truncate_any_table(db: psycopg.Connection[Any], role: str) -> None:
    # given every public table / when the API roles' privileges are read
    rows = db.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p')"
        " and has_table_privilege(%s, c.oid, 'TRUNCATE')",
        (role,),
    ).fetchall()
    # then none may TRUNCATE (which would bypass RLS)
    assert rows == []


@pytest.mark.parametrize("agent", [None, "agent"], ids=["any-agent", "crafted-agent"])
def test_the_turns_retrieval_never_returns_another_tenants_chunks(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], agent: str | None
) -> None:
    a, b = tenants
    # given A's viewer and the hybrid statement the turn runs, with every threshold open
    authenticate_as(db, a.members["viewer"])

    def found(org: uuid.UUID, agent_id: uuid.UUID | None) -> set[uuid.UUID]:
        query = retrieval.Query(
            org, "texto", [0.1] * 1536, agent_id=agent_id, min_similarity=-1, min_text_score=-1, min_coverage=-1
        )
        return {row[0] for row in db.execute(retrieval.statement(1536), retrieval.params(query)).fetchall()}

    # when they search their own organization / then their chunk comes back (the statement finds what RLS allows)
    assert found(a.org, a.rows["agent"] if agent else None) == {a.rows["chunk"]}
    # when they craft B's organization (and B's agent) / then nothing of B's comes back
    assert found(b.org, b.rows["agent"] if agent else None) == set()
