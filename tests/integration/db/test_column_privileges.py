"""Every column, every role, every verb, against the README's "Direct database access" table.

For each public table and each column, anon and the viewer, editor, admin and owner of the row's
organization (A) and of another one (B) try SELECT, UPDATE (``set col = col``) and INSERT (the
column's privilege with a zero-row insert, and one real row per principal), and DELETE the row.
Each outcome is ``ok`` (the row was read or written), ``filtered`` (RLS left zero rows) or
``denied`` (Postgres refused the statement), and must be what the README table says.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg

from tests.integration.db.conftest import Tenant, seed_tenant
from tests.support.sql import authenticate_as

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[3] / "README.md"
RANK = {"owner": 0, "admin": 1, "editor": 2, "viewer": 3}
SELF_ROLE = "viewer"  # the seeded membership and idempotency key belong to A's viewer
Outcome = str  # "ok" | "filtered" | "denied"


@dataclass(frozen=True)
class Cell:
    """Who may do one verb on a table: the weakest role (or none), ``self``, and the columns (None: all)."""

    role: str | None
    self_too: bool = False
    columns: frozenset[str] | None = None

    def allows(self, principal: Principal, column: str | None = None) -> bool:
        if self.role is None or principal.org != "a":
            return False
        if column is not None and self.columns is not None and column not in self.columns:
            return False
        weakest = self.role if self.role != "self" else None
        by_role = weakest is not None and RANK[principal.role] <= RANK[weakest]
        by_self = (self.self_too or self.role == "self") and principal.role == SELF_ROLE
        return by_role or by_self

    def grants(self, column: str) -> bool:
        return self.role is not None and (self.columns is None or column in self.columns)


def parse_cell(text: str) -> Cell:
    text = re.sub(r"\(.*?\)", "", text).strip()
    if text.startswith("—"):
        return Cell(None)
    who, _, cols = text.partition(":")
    names = [w.strip() for w in who.split(",")]
    columns = frozenset(re.findall(r"`([a-z_]+)`", cols)) if cols.strip() else None
    return Cell(names[0], "self" in names[1:], columns)


def privilege_table() -> dict[str, dict[str, Cell]]:
    """The README table between its markers: table -> verb -> cell."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- privileges:begin -->")[1].split("<!-- privileges:end -->")[0]
    rows = [line for line in block.strip().splitlines() if line.startswith("| `")]
    table: dict[str, dict[str, Cell]] = {}
    for line in rows:
        name, select, insert, update, delete = (c.strip() for c in line.strip("|").split("|"))
        table[name.strip("`")] = {
            "select": parse_cell(select),
            "insert": parse_cell(insert),
            "update": parse_cell(update),
            "delete": parse_cell(delete),
        }
    return table


SPEC = privilege_table()

# Where-clauses naming the seeded row of each table (params from Tenant.params()).
KEYS = {
    "organizations": "id = %(org)s",
    "memberships": "organization_id = %(org)s and user_id = %(viewer_id)s",
    "invitations": "id = %(invitation)s",
    "agents": "id = %(agent)s",
    "agent_versions": "id = %(agent_version)s",
    "leads": "id = %(lead)s",
    "conversations": "id = %(conversation)s",
    "messages": "id = %(message)s",
    "lead_events": "id = %(lead_event)s",
    "conversions": "id = %(conversion)s",
    "llm_usage": "id = %(llm_usage)s",
    "budgets": "id = %(budget)s",
    "budget_changes": "id = %(budget_change)s",
    "budget_reservations": "id = %(reservation)s",
    "integrations": "id = %(integration)s",
    "knowledge_documents": "id = %(document)s",
    "knowledge_chunks": "id = %(chunk)s",
    "knowledge_source_agents": "document_id = %(document)s and agent_id = %(agent)s",
    "knowledge_unanswered": "id = %(unanswered)s",
    "event_outbox": "id = %(event)s",
    "webhook_endpoints": "id = %(webhook_endpoint)s",
    "webhook_deliveries": "id = %(webhook_delivery)s",
    "idempotency_keys": "id = %(idempotency_key)s",
    "message_status_events": "id = %(message_status_event)s",
    "crm_links": "id = %(crm_link)s",
    "experiments": "id = %(experiment)s",
    "experiment_variants": "id = %(experiment_variant)s",
    "analytics_conversations": "conversation_id = %(conversation)s",
    "analytics_experiment_leads": "lead_id = %(lead)s",
    "follow_ups": "id = %(follow_up)s",
}

# One legitimate new row for each table that someone may insert into, in A.
INSERTS = {
    "leads": "insert into public.leads (organization_id, name) values (%(org)s, 'New lead')",
    "conversations": "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
    " values (%(org)s, %(agent)s, 1, %(lead)s, 'api')",
    "messages": "insert into public.messages (organization_id, conversation_id, role, content)"
    " values (%(org)s, %(conversation)s, 'lead', 'olá')",
    # A lead event records the change its transaction makes: here, closing the conversation.
    "lead_events": "with c as (update public.conversations c set status = 'closed', closed_at = now()"
    " where c.id = %(conversation)s returning c.*)"
    " insert into public.lead_events (organization_id, lead_id, conversation_id, type, actor)"
    " select c.organization_id, c.lead_id, c.id, 'conversation.closed', 'me' from c",
    "integrations": "insert into public.integrations (organization_id, kind, name) values (%(org)s, 'webhook', 'Hook')",
    "knowledge_documents": "insert into public.knowledge_documents (organization_id, title) values (%(org)s, 'Preços')",
    "knowledge_source_agents": "insert into public.knowledge_source_agents (organization_id, document_id, agent_id)"
    " values (%(org)s, %(pool_document)s, %(agent)s)",
    "webhook_endpoints": "insert into public.webhook_endpoints (organization_id, url, events)"
    " values (%(org)s, 'https://example.com/new', '{lead.updated}')",
}


@dataclass(frozen=True)
class Principal:
    """Who acts: anon, or a member of org ``a`` (the row's) or ``b`` with a role."""

    org: str | None
    role: str

    @property
    def label(self) -> str:
        return "anon" if self.org is None else f"{self.role}@{self.org}"


PRINCIPALS = [Principal(None, "anon")] + [Principal(org, role) for org in ("a", "b") for role in RANK]


def _run(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> Outcome:
    """Run ``sql`` in a savepoint that is always rolled back, so every attempt sees the seeded rows."""
    conn.execute("savepoint attempt")
    try:
        rows = conn.execute(sql, params).rowcount  # type: ignore[arg-type]
    except (pg.InsufficientPrivilege, pg.ForeignKeyViolation, pg.CheckViolation, pg.NotNullViolation):
        return "denied"
    finally:
        conn.execute("rollback to savepoint attempt")
    return "ok" if rows > 0 else "filtered"


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped"
        " order by attnum",
        (f"public.{table}",),
    ).fetchall()
    return [r[0] for r in rows]


def _expected(verb: str, cell: Cell, who: Principal, column: str | None) -> Outcome:
    if who.org is None:
        return "refused" if verb == "insert" else "denied"
    if verb == "insert-privilege":
        return "ok" if column is not None and cell.grants(column) else "denied"
    if verb == "update" and (cell.role is None or (column is not None and not cell.grants(column))):
        return "denied"
    if verb == "delete" and cell.role is None:
        return "denied"
    if verb == "insert":
        return "ok" if cell.allows(who) else "refused"
    return "ok" if cell.allows(who, column) else "filtered"


@pytest.fixture(scope="module")
def tenants(database_url: str) -> tuple[Tenant, Tenant]:
    """Two tenants of their own (labels unique in the session's database)."""
    suffix = uuid.uuid4().hex[:6]
    with psycopg.connect(database_url, autocommit=True) as conn:
        return seed_tenant(conn, f"pa{suffix}"), seed_tenant(conn, f"pb{suffix}")


def _act_as(conn: psycopg.Connection[Any], who: Principal, tenants: dict[str, Tenant]) -> None:
    if who.org is None:
        authenticate_as(conn, None, role="anon")
    else:
        authenticate_as(conn, tenants[who.org].members[who.role])


def test_the_readme_table_covers_every_public_table(db: psycopg.Connection[Any]) -> None:
    # given the migrated schema / when its tables are listed / then the README table has a row for each
    rows = db.execute(
        "select c.relname from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')"
    ).fetchall()
    assert {r[0] for r in rows} == set(SPEC) == set(KEYS)
    # and every table someone may insert into has a row to insert in this test
    assert {t for t, verbs in SPEC.items() if verbs["insert"].role is not None} == set(INSERTS)


@pytest.mark.parametrize("table", sorted(SPEC))
def test_every_column_and_role_does_what_the_readme_says(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], table: str
) -> None:
    spec, key = SPEC[table], KEYS[table]
    params = tenants[0].params()
    columns = _columns(db, table)
    by_org = {"a": tenants[0], "b": tenants[1]}
    mismatches: list[str] = []

    def expect(who: Principal, verb: str, column: str | None, actual: Outcome) -> None:
        cell = spec["insert" if verb == "insert-privilege" else verb]
        wanted = _expected(verb, cell, who, column)
        if actual != wanted:
            mismatches.append(f"{who.label} {verb} {table}.{column or '*'}: {actual}, README says {wanted}")

    for who in PRINCIPALS:
        # given the principal
        _act_as(db, who, by_org)
        # when they read, update and insert each column, insert a row and delete the row
        for column in columns:
            quoted = f'"{column}"'
            expect(who, "select", column, _run(db, f"select {quoted} from public.{table} where {key}", params))
            update = f"update public.{table} set {quoted} = {quoted} where {key}"
            expect(who, "update", column, _run(db, update, params))
            privilege = f"insert into public.{table} ({quoted}) select null where false"
            expect(who, "insert-privilege", column, "ok" if _run(db, privilege, params) != "denied" else "denied")
        if table in INSERTS:
            # (a refused row is an error, or zero rows when its statement's own change was filtered)
            inserted = _run(db, INSERTS[table], params)
            expect(who, "insert", None, "ok" if inserted == "ok" else "refused")
        expect(who, "delete", None, _run(db, f"delete from public.{table} where {key}", params))
    # then every outcome is the one the README table gives
    assert mismatches == []


def test_a_new_table_gives_the_api_roles_nothing(db: psycopg.Connection[Any]) -> None:
    # given a table created the way a migration creates one
    db.execute("create table public.privilege_probe (id uuid primary key, note text)")
    # when the API roles' privileges on it are read / then they have none (Supabase would grant all)
    rows = db.execute(
        "select r, p from unnest(array['anon', 'authenticated']) r, unnest(array['SELECT', 'INSERT', 'UPDATE',"
        " 'DELETE', 'TRUNCATE']) p where has_table_privilege(r, 'public.privilege_probe', p)"
    ).fetchall()
    assert rows == []
