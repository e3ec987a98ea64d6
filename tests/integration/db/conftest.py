"""Two tenants, A and B, each with a member per role and one row in every table.

The rows are committed once per module by the superuser, the way the service path
would write them; each test then acts as some user inside a rolled-back transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

ROLES = ("owner", "admin", "editor", "viewer")


@dataclass
class Tenant:
    """One organization's ids: its members by role and one row id per table."""

    org: uuid.UUID
    members: dict[str, uuid.UUID] = field(default_factory=dict)
    rows: dict[str, uuid.UUID] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        return {"org": self.org, **{f"{role}_id": uid for role, uid in self.members.items()}, **self.rows}


def _insert(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> uuid.UUID:
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return uuid.UUID(str(row[0]))


def seed_tenant(conn: psycopg.Connection[Any], label: str) -> Tenant:
    """Create an organization with a member per role and one row in each tenant table."""
    tenant = Tenant(org=uuid.uuid4())
    for role in ROLES:
        uid = uuid.uuid4()
        conn.execute("insert into auth.users (id, email) values (%s, %s)", (uid, f"{role}-{uid.hex[:8]}@{label}.test"))
        tenant.members[role] = uid
    conn.execute(
        "insert into public.organizations (id, name, slug, created_by) values (%s, %s, %s, %s)",
        (tenant.org, f"Tenant {label}", f"{label}-{tenant.org.hex[:10]}", tenant.members["owner"]),
    )
    for role, uid in tenant.members.items():
        conn.execute(
            "insert into public.memberships (organization_id, user_id, role) values (%s, %s, %s)",
            (tenant.org, uid, role),
        )
    p: dict[str, Any] = {"org": tenant.org, "email": f"invitee@{label}.test"}
    r = tenant.rows
    r["invitation"] = _insert(
        conn,
        "insert into public.invitations (organization_id, email, role)"
        " values (%(org)s, %(email)s, 'viewer') returning id",
        p,
    )
    r["agent"] = p["agent"] = _insert(
        conn, "insert into public.agents (organization_id, name) values (%(org)s, 'Agent') returning id", p
    )
    r["agent_version"] = _insert(
        conn,
        "insert into public.agent_versions (organization_id, agent_id, version, config)"
        " values (%(org)s, %(agent)s, 1, '{}') returning id",
        p,
    )
    r["lead"] = p["lead"] = _insert(
        conn,
        "insert into public.leads (organization_id, name, email) values (%(org)s, 'Lead', %(email)s) returning id",
        p,
    )
    r["conversation"] = p["conversation"] = _insert(
        conn,
        "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
        " values (%(org)s, %(agent)s, 1, %(lead)s, 'web') returning id",
        p,
    )
    r["message"] = _insert(
        conn,
        "insert into public.messages (organization_id, conversation_id, role, content)"
        " values (%(org)s, %(conversation)s, 'lead', 'oi') returning id",
        p,
    )
    r["lead_event"] = _insert(
        conn,
        "insert into public.lead_events (organization_id, lead_id, conversation_id, type, to_stage)"
        " values (%(org)s, %(lead)s, %(conversation)s, 'lead.created', 'new') returning id",
        p,
    )
    r["conversion"] = _insert(
        conn,
        "insert into public.conversions"
        " (organization_id, lead_id, conversation_id, agent_id, agent_version, type, value)"
        " values (%(org)s, %(lead)s, %(conversation)s, %(agent)s, 1, 'meeting', 100) returning id",
        p,
    )
    r["llm_usage"] = _insert(
        conn,
        "insert into public.llm_usage (organization_id, agent_id, conversation_id, model, tokens_in, cost_usd)"
        " values (%(org)s, %(agent)s, %(conversation)s, 'local/deterministic', 10, 0.0001) returning id",
        p,
    )
    # Every organization has its budget from the moment it exists (app.create_default_budget);
    # a limit change leaves an audit row.
    r["budget"] = p["budget"] = _insert(conn, "select id from public.set_budget(%(org)s, null, 10)", p)
    r["budget_change"] = _insert(
        conn, "select id from public.budget_changes where budget_id = %(budget)s order by created_at desc limit 1", p
    )
    r["reservation"] = _insert(
        conn,
        "insert into public.budget_reservations (organization_id, conversation_id, alias, amount_usd)"
        " values (%(org)s, %(conversation)s, 'fast', 0.01) returning id",
        p,
    )
    r["integration"] = _insert(
        conn,
        "insert into public.integrations (organization_id, kind, name, external_id, agent_id)"
        " values (%(org)s, 'whatsapp', 'WhatsApp', %(email)s, %(agent)s) returning id",
        p,
    )
    r["document"] = p["document"] = _insert(
        conn,
        "insert into public.knowledge_documents (organization_id, agent_id, title, content, version)"
        " values (%(org)s, %(agent)s, 'FAQ', 'texto', 1) returning id",  # version 1: the seeded chunk's
        p,
    )
    # A source every agent reads (no agent attached yet): the link table's insert target.
    p["pool_document"] = _insert(
        conn,
        "insert into public.knowledge_documents (organization_id, title, content)"
        " values (%(org)s, 'Pool', 'texto') returning id",
        p,
    )
    r["pool_document"] = p["pool_document"]
    # Two file sources: one whose file is in Storage (storage.objects, bucket 'knowledge'), one awaiting upload.
    for name in ("file_document", "upload_document"):
        r[name] = _insert(
            conn,
            "insert into public.knowledge_documents (organization_id, title, kind, file_name, media_type, byte_size)"
            " values (%(org)s, 'Manual', 'file', 'manual.pdf', 'application/pdf', 10) returning id",
            p,
        )
    paths = dict(
        conn.execute(
            "select id, storage_path from public.knowledge_documents where id = any(%s)",
            ([r["file_document"], r["upload_document"]],),
        ).fetchall()
    )
    r["file_object"], r["upload_path"] = paths[r["file_document"]], paths[r["upload_document"]]
    conn.execute(
        "insert into storage.objects (bucket_id, name, metadata) values ('knowledge', %s, '{}')", (r["file_object"],)
    )
    r["chunk"] = _insert(
        conn,
        "insert into public.knowledge_chunks (organization_id, document_id, chunk_index, content, embedding)"
        " values (%(org)s, %(document)s, 0, 'texto', array_fill(0.1, array[1536])::extensions.vector) returning id",
        p,
    )
    r["event"] = p["event"] = _insert(
        conn,
        "insert into public.event_outbox (organization_id, type, payload)"
        " values (%(org)s, 'lead.qualified', '{}') returning id",
        p,
    )
    r["webhook_endpoint"] = p["webhook_endpoint"] = _insert(
        conn,
        "insert into public.webhook_endpoints (organization_id, url, events)"
        " values (%(org)s, 'https://example.com/hooks', '{lead.qualified}') returning id",
        p,
    )
    r["webhook_delivery"] = _insert(
        conn,
        "insert into public.webhook_deliveries (organization_id, endpoint_id, event_id, event_type, attempt)"
        " values (%(org)s, %(webhook_endpoint)s, %(event)s, 'lead.qualified', 1) returning id",
        p,
    )
    r["idempotency_key"] = _insert(
        conn,
        "insert into public.idempotency_keys"
        " (organization_id, user_id, scope, key, request_hash, response_status, response_body)"
        " values (%(org)s, %(viewer_id)s, 'user:' || %(viewer_id)s, md5(random()::text), repeat('a', 64), 200, '{}')"
        " returning id",
        {**p, "viewer_id": tenant.members["viewer"]},
    )
    r["message_status_event"] = _insert(
        conn,
        "insert into public.message_status_events"
        " (organization_id, message_id, channel_message_id, status, occurred_at)"
        " values (%(org)s, %(message)s, 'wamid.' || md5(random()::text), 'delivered', now()) returning id",
        {**p, "message": r["message"]},
    )
    r["crm_link"] = _insert(
        conn,
        "insert into public.crm_links (organization_id, integration_id, lead_id, contact_id, deal_id)"
        " values (%(org)s, %(integration)s, %(lead)s, '501', '901') returning id",
        {**p, "integration": r["integration"]},
    )
    r["experiment"] = p["experiment"] = _insert(
        conn,
        "select (public.create_experiment(%(agent)s, 'A/B', 'conversion_rate',"
        " '[{\"version\": 1, \"weight\": 1}]') ->> 'id')::uuid",
        p,
    )
    r["experiment_variant"] = _insert(
        conn, "select id from public.experiment_variants where experiment_id = %(experiment)s", p
    )
    conn.execute("select app.refresh_analytics_rows(array[%(conversation)s]::uuid[])", p)
    conn.execute(
        "insert into public.analytics_experiment_leads (experiment_variant_id, lead_id, organization_id,"
        " conversations, qualified, converted, conversions, llm_cost_usd)"
        " values (%(experiment_variant)s, %(lead)s, %(org)s, 1, true, false, 0, 0.0001)",
        {**p, "experiment_variant": r["experiment_variant"]},
    )
    r["follow_up"] = _insert(
        conn,
        "insert into public.follow_ups (organization_id, conversation_id, lead_id, step, anchor_at, due_at, time_zone)"
        " values (%(org)s, %(conversation)s, %(lead)s, 0, now(), now() + interval '1 hour', 'UTC') returning id",
        p,
    )
    r["unanswered"] = _insert(
        conn,
        "insert into public.knowledge_unanswered (organization_id, agent_id, conversation_id, message_id, question)"
        " values (%(org)s, %(agent)s, %(conversation)s, %(message)s, 'Tem piscina?') returning id",
        {**p, "message": r["message"]},
    )
    return tenant


@pytest.fixture(scope="module")
def tenants(database_url: str) -> Iterator[tuple[Tenant, Tenant]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield seed_tenant(conn, "a"), seed_tenant(conn, "b")
