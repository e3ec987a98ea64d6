"""Knowledge-source use cases; each is one transaction under the caller's claims, so RLS decides.

Members read sources; editors add, change, re-index and delete them. A change to a source's
content (or a re-index) sets it back to ``pending`` in SQL (a trigger) and queues an ingestion
job; the worker does the rest. Another tenant's source is not found.
"""

from __future__ import annotations

import json
import uuid
from typing import LiteralString

from shared import pagination
from shared.auth import Principal
from shared.db import Session, user_read, user_session, user_write
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.knowledge import jobs, queue
from shared.knowledge.models import CreateFaq, CreateSource, CreateText, Source, SourceList, UpdateSource
from shared.observability import metrics
from shared.observability.context import bind_organization

_COLUMNS: LiteralString = """
    d.id, d.organization_id, d.agent_id, d.kind, d.title, d.source_url as url, d.language, d.status, d.problem,
    d.version, d.content_hash, d.chunk_count, d.embedding_model, d.indexed_at, d.created_at, d.updated_at,
    d.index_requested_at
"""
_INSERT: LiteralString = """
    insert into public.knowledge_documents as d
        (organization_id, agent_id, title, kind, content, faq, source_url, language, created_by)
    select o.id, %(agent)s, %(title)s, %(kind)s, %(content)s, %(faq)s::jsonb, %(url)s, %(language)s, auth.uid()
    from public.organizations o
    where o.id = %(org)s
    returning {columns}
""".replace("{columns}", _COLUMNS)
_GET: LiteralString = "select {columns} from public.knowledge_documents d where d.id = %s".replace(
    "{columns}", _COLUMNS
)
_PAGE: LiteralString = """
    select {columns}
    from public.organizations o
    left join lateral (
        select * from public.knowledge_documents x
        where x.organization_id = o.id
          and (%(after_t)s::timestamptz is null or (x.created_at, x.id) < (%(after_t)s, %(after_id)s::uuid))
        order by x.created_at desc, x.id desc
        limit %(limit)s + 1
    ) d on true
    where o.id = %(org)s
    order by d.created_at desc, d.id desc
""".replace("{columns}", _COLUMNS)
_REINDEX: LiteralString = """
    update public.knowledge_documents d set index_requested_at = clock_timestamp() where d.id = %s
    returning {columns}
""".replace("{columns}", _COLUMNS)
_UPDATE: LiteralString = """
    update public.knowledge_documents d set
        title = coalesce(%(title)s, d.title),
        content = coalesce(%(content)s, d.content),
        faq = coalesce(%(faq)s::jsonb, d.faq),
        source_url = coalesce(%(url)s, d.source_url)
    where d.id = %(id)s
    returning {columns}
""".replace("{columns}", _COLUMNS)
_FIELD_OF_KIND = {"text": "content", "faq": "faq", "url": "url"}


async def _queue(row: dict[str, object]) -> Source:
    source = Source.model_validate(row)
    if source.status == "pending":
        requested = row["index_requested_at"]
        await queue.enqueue(jobs.IngestJob(document_id=source.id, requested_at=requested))  # type: ignore[arg-type]
    return source


async def create_source(principal: Principal, organization_id: uuid.UUID, data: CreateSource) -> Source:
    """Add a text, FAQ or web page source; it is indexed by the worker (status ``pending`` until then)."""
    bind_organization(organization_id)
    params = {
        "org": organization_id,
        "agent": data.agent_id,
        "title": data.title,
        "kind": data.kind,
        "content": data.content if isinstance(data, CreateText) else "",
        "faq": json.dumps([e.model_dump() for e in data.faq]) if isinstance(data, CreateFaq) else None,
        "url": str(data.url) if data.kind == "url" else None,
        "language": data.language,
    }
    async with user_session(principal.claims) as db:
        row = await db.one(_INSERT, params)
    if row is None:
        raise NotFound("organization not found")  # not a member: its existence is not revealed
    metrics.add_metric(name="KnowledgeSourceCreated", unit="Count", value=1)
    return await _queue(row)


async def list_sources(principal: Principal, organization_id: uuid.UUID, limit: int, cursor: str | None) -> SourceList:
    """One page of the organization's sources, newest first; every member may list them."""
    bind_organization(organization_id)
    params = {"org": organization_id, "limit": limit, **pagination.bounds(pagination.decode(cursor, "query.cursor"))}
    rows = await user_read(principal.claims, _PAGE, params)
    if not rows:
        raise NotFound("organization not found")
    page, next_cursor = pagination.split([row for row in rows if row["id"] is not None], limit)
    return SourceList(data=[Source.model_validate(row) for row in page], next_cursor=next_cursor)


async def get_source(principal: Principal, source_id: uuid.UUID) -> Source:
    """One source and the state of its index."""
    rows = await user_read(principal.claims, _GET, (source_id,))
    if not rows:
        raise NotFound("source not found")
    row = rows[0]
    return Source.model_validate(row)


async def update_source(principal: Principal, source_id: uuid.UUID, data: UpdateSource) -> Source:
    """Change a source's title or content; changed content is indexed again as a new version."""
    # h10writes: the kind read in a transaction of its own, then the update in one script: two round trips.
    found = await user_read(
        principal.claims, "select d.kind from public.knowledge_documents d where d.id = %s", (source_id,)
    )
    if not found:
        raise NotFound("source not found")
    kind = str(found[0]["kind"])
    wrong = ({"content", "faq", "url"} & data.model_fields_set) - {_FIELD_OF_KIND[kind]}
    if wrong:
        field = sorted(wrong)[0]
        raise InvalidInput.for_field(f"body.{field}", f"a {kind} source has no {field}")
    params = {
        "id": source_id,
        "title": data.title,
        "content": data.content,
        "faq": json.dumps([e.model_dump() for e in data.faq]) if data.faq is not None else None,
        "url": str(data.url) if data.url is not None else None,
    }
    rows = await user_write(principal.claims, (_UPDATE, params))
    row = rows[0] if rows else None
    if row is None:
        raise Forbidden("editors change sources")  # it was visible a statement ago: the role is short
    return await _queue(row)


async def reindex_source(principal: Principal, source_id: uuid.UUID) -> Source:
    """Index a source again (a fetched page may have changed); unchanged content keeps its version."""
    async with user_session(principal.claims) as db:
        row = await db.one(_REINDEX, (source_id,))
        if row is None:
            await _refuse(db, source_id)
    assert row is not None
    return await _queue(row)


async def delete_source(principal: Principal, source_id: uuid.UUID) -> None:
    """Remove a source and its chunks."""
    async with user_session(principal.claims) as db:
        deleted = await db.execute("delete from public.knowledge_documents d where d.id = %s", (source_id,))
        if not deleted:
            await _refuse(db, source_id)


async def _refuse(db: Session, source_id: uuid.UUID) -> None:
    """A write that touched nothing: 403 when the caller sees the source (a viewer), else 404."""
    if await db.one("select 1 as seen from public.knowledge_documents d where d.id = %s", (source_id,)):
        raise Forbidden("editors change sources")
    raise NotFound("source not found")
