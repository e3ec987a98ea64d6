"""Knowledge-source use cases; each is one transaction under the caller's claims, so RLS decides.

Members read sources; editors add, change, re-index and delete them. A change to a source's
content (or a re-index) sets it back to ``pending`` in SQL (a trigger) and queues an ingestion
job; the worker does the rest. Another tenant's source is not found.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, LiteralString

from shared import idempotency, pagination
from shared.auth import Principal
from shared.db import Session, user_read, user_session, user_write
from shared.errors import Forbidden, IdempotentReplay, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from shared.idempotency import IdempotencyKey
from shared.knowledge import jobs, queue
from shared.knowledge.models import (
    FILE_TYPES,
    MAX_FILE_BYTES,
    CreateFaq,
    CreateFile,
    CreateSource,
    CreateText,
    Source,
    SourceList,
    UpdateSource,
    Upload,
)
from shared.observability import metrics
from shared.observability.context import bind_organization
from shared.settings import get_settings

BUCKET = "knowledge"  # shared.knowledge.files.BUCKET (that module is the worker's: it imports storage3)

_COLUMNS: LiteralString = """
    d.id, d.organization_id, d.agent_id, d.kind, d.title, d.source_url as url, d.language, d.status, d.problem,
    d.version, d.content_hash, d.chunk_count, d.embedding_model, d.indexed_at, d.created_at, d.updated_at,
    d.index_requested_at, d.file_name, d.media_type, d.byte_size as size, d.storage_path,
    array(select l.agent_id from public.knowledge_source_agents l where l.document_id = d.id order by l.agent_id)
        as agent_ids
"""
_INSERT: LiteralString = """
    insert into public.knowledge_documents as d
        (organization_id, agent_id, title, kind, content, faq, source_url, language, created_by,
         file_name, media_type, byte_size)
    select o.id, %(agent)s, %(title)s, %(kind)s, %(content)s, %(faq)s::jsonb, %(url)s, %(language)s, auth.uid(),
           %(file_name)s, %(media_type)s, %(size)s
    from public.organizations o
    where o.id = %(org)s
    returning {columns}
""".replace("{columns}", _COLUMNS)
# Created, and the row (as jsonb) remembered as the answer to the request's Idempotency-Key, if it sent one.
_REMEMBER: LiteralString = (
    "app.remember_response(%(idem_key)s, %(idem_hash)s, d.organization_id, 202, to_jsonb(d), %(idem_scope)s)"
)
_INSERT_REMEMBERED: LiteralString = (
    "with d as ({insert}) select d.*, {remember} as remembered from d".replace("{insert}", _INSERT)
).replace("{remember}", _REMEMBER)
_GET_REMEMBERED: LiteralString = (
    "select d.*, {remember} as remembered from app.read_knowledge_source(%(id)s) d".replace("{remember}", _REMEMBER)
)
# The agents that read a source become exactly ``agents`` (only the organization's own agents count).
_ATTACH: LiteralString = """
    with wanted as (
        select a.id from public.agents a
        join public.knowledge_documents d on d.organization_id = a.organization_id
        where d.id = %(doc)s and a.id = any(%(agents)s::uuid[])
    ),
    detached as (
        delete from public.knowledge_source_agents l
        where l.document_id = %(doc)s and l.agent_id <> all(%(agents)s::uuid[])
    ),
    attached as (
        insert into public.knowledge_source_agents (organization_id, document_id, agent_id)
        select d.organization_id, d.id, w.id from public.knowledge_documents d, wanted w where d.id = %(doc)s
        on conflict do nothing
    )
    select count(*)::int as found from wanted
"""
# The columns above, from PL/pgSQL functions (their plans kept per connection). One round trip each; a page is
# limit + 1 rows, newest first: no row means the organization is not visible, one row with a null id, no sources.
_GET: LiteralString = "select * from app.read_knowledge_source(%s)"
_PAGE: LiteralString = "select * from app.list_knowledge_sources(%(org)s, %(after_t)s, %(after_id)s, %(limit)s)"
_REINDEX: LiteralString = """
    update public.knowledge_documents d set index_requested_at = clock_timestamp() where d.id = %s
    returning {columns}
""".replace("{columns}", _COLUMNS)
_UPDATE: LiteralString = """
    update public.knowledge_documents d set
        -- one agent: agent_id names it (when it is the organization's; else _ATTACH refuses the change)
        agent_id = case when %(agents)s::uuid[] is null then d.agent_id
                        when cardinality(%(agents)s::uuid[]) = 1 then (
                            select a.id from public.agents a
                            where a.id = (%(agents)s::uuid[])[1] and a.organization_id = d.organization_id
                        ) end,
        title = coalesce(%(title)s, d.title),
        content = coalesce(%(content)s, d.content),
        faq = coalesce(%(faq)s::jsonb, d.faq),
        source_url = coalesce(%(url)s, d.source_url)
    where d.id = %(id)s
    returning {columns}
""".replace("{columns}", _COLUMNS)
_FIELD_OF_KIND = {"text": "content", "faq": "faq", "url": "url", "file": "file"}


def _source(row: dict[str, object]) -> Source:
    """The API's view of a row: a file source says where its file goes."""
    path = row.get("storage_path")
    upload = None
    if path:
        url = f"{get_settings().storage_url}/object/{BUCKET}/{path}"
        upload = Upload(bucket=BUCKET, path=str(path), url=url)
    return Source.model_validate({**row, "upload": upload})


async def _attach(db: Session, document_id: uuid.UUID, agents: list[uuid.UUID]) -> None:
    found = await db.one(_ATTACH, {"doc": document_id, "agents": agents})
    if found is None or found["found"] != len(agents):
        raise InvalidInput.for_field("body.agent_ids", "names an agent that is not in the organization")


async def _queue(row: dict[str, object], *, enqueue: bool = True) -> Source:
    source = _source(row)
    if enqueue and source.status == "pending":
        requested = row["index_requested_at"]
        await queue.enqueue(jobs.IngestJob(document_id=source.id, requested_at=requested))  # type: ignore[arg-type]
    return source


def _check_file(data: CreateFile) -> None:
    if data.media_type.split(";")[0].strip().lower() not in FILE_TYPES:
        raise UnsupportedMediaType(
            f"body.media_type: {data.media_type!r} is not one of {', '.join(FILE_TYPES.values())}",
            field="body.media_type",
        )
    if data.size > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"body.size: a file is at most {MAX_FILE_BYTES} bytes (20 MiB)", field="body.size")


async def create_source(
    principal: Principal, organization_id: uuid.UUID, data: CreateSource, key: IdempotencyKey | None = None
) -> Source:
    """Add a text, FAQ, web page or file source; it is indexed by the worker (status ``pending`` until then).

    A file source is indexed once its file is uploaded to Storage (the ``upload`` the answer names)
    and ``POST /knowledge/sources/{id}/reindex`` is called. A repeated ``key`` answers with the source
    the first request made, and queues its indexing again (the queue drops a duplicate job, and the
    worker one whose source is already indexed), in case the first request's enqueue failed.
    """
    bind_organization(organization_id)
    is_file = isinstance(data, CreateFile)
    if isinstance(data, CreateFile):
        _check_file(data)
    agents = data.readers()
    params = {
        "org": organization_id,
        "agent": agents[0] if len(agents) == 1 else None,
        "title": data.title,
        "kind": data.kind,
        "content": data.content if isinstance(data, CreateText) else "",
        "faq": json.dumps([e.model_dump() for e in data.faq]) if isinstance(data, CreateFaq) else None,
        "url": str(data.url) if data.kind == "url" else None,
        "language": data.language,
        "file_name": data.file_name if isinstance(data, CreateFile) else None,
        "media_type": data.media_type.split(";")[0].strip().lower() if isinstance(data, CreateFile) else None,
        "size": data.size if isinstance(data, CreateFile) else None,
        **idempotency.remembered(key),
    }
    try:
        row = await _created(principal, params, agents, key)
    except IdempotentReplay as replay:
        source = await _queue(replay.body, enqueue=not is_file)
        raise IdempotentReplay(replay.status, source.model_dump(mode="json")) from None
    metrics.add_metric(name="KnowledgeSourceCreated", unit="Count", value=1)
    return await _queue(row, enqueue=not is_file)


async def _created(
    principal: Principal, params: dict[str, Any], agents: list[uuid.UUID], key: IdempotencyKey | None
) -> dict[str, Any]:
    """Insert the source (attached to ``agents``) after claiming ``key``; the row as it now reads."""
    if not agents:  # one script, one round trip
        rows = await user_write(principal.claims, idempotency.claim_first(key), (_INSERT_REMEMBERED, params))
        if not rows:
            raise NotFound("organization not found")  # not a member: its existence is not revealed
        return rows[0]
    # the claim, the insert, the agents it is attached to (checked), and the row as it now reads
    async with user_session(principal.claims) as db:
        await db.one(*idempotency.claim_first(key))
        created = await db.one(_INSERT, params)
        if created is None:
            raise NotFound("organization not found")
        await _attach(db, created["id"], agents)
        row = await db.one(_GET_REMEMBERED, {**params, "id": created["id"]})
    assert row is not None
    return row


async def list_sources(principal: Principal, organization_id: uuid.UUID, limit: int, cursor: str | None) -> SourceList:
    """One page of the organization's sources, newest first; every member may list them."""
    bind_organization(organization_id)
    params = {"org": organization_id, "limit": limit, **pagination.bounds(pagination.decode(cursor, "query.cursor"))}
    rows = await user_read(principal.claims, _PAGE, params)
    if not rows:
        raise NotFound("organization not found")
    page, next_cursor = pagination.split([row for row in rows if row["id"] is not None], limit)
    return SourceList(data=[_source(row) for row in page], next_cursor=next_cursor)


async def get_source(principal: Principal, source_id: uuid.UUID) -> Source:
    """One source and the state of its index."""
    rows = await user_read(principal.claims, _GET, (source_id,))
    if not rows:
        raise NotFound("source not found")
    return _source(rows[0])


async def update_source(principal: Principal, source_id: uuid.UUID, data: UpdateSource) -> Source:
    """Change a source's title or content; changed content is indexed again as a new version."""
    # h10writes: the kind read in a transaction of its own, then the update in one script: two round trips.
    # Changing the agents that read the source takes a transaction of three statements (update, attach, read).
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
    agents = list(dict.fromkeys(data.agent_ids)) if data.agent_ids is not None else None
    params = {
        "id": source_id,
        "title": data.title,
        "content": data.content,
        "faq": json.dumps([e.model_dump() for e in data.faq]) if data.faq is not None else None,
        "url": str(data.url) if data.url is not None else None,
        "agents": agents,
    }
    if agents is None:
        rows = await user_write(principal.claims, (_UPDATE, params))
        row = rows[0] if rows else None
        if row is None:
            raise Forbidden("editors change sources")  # it was visible a statement ago: the role is short
        return await _queue(row)
    async with user_session(principal.claims) as db:
        if await db.one(_UPDATE, params) is None:
            raise Forbidden("editors change sources")
        await _attach(db, source_id, agents)
        row = await db.one(_GET, (source_id,))
    assert row is not None
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
    """Remove a source and its chunks (one transaction); then queue the removal of its uploaded file.

    The object is removed from Storage by the knowledge worker once the delete has committed, and retried
    by the queue while Storage is unavailable; a failed enqueue is logged, never the caller's error.
    """
    async with user_session(principal.claims) as db:
        deleted = await db.one(
            "delete from public.knowledge_documents d where d.id = %s returning d.storage_path", (source_id,)
        )
        if deleted is None:
            await _refuse(db, source_id)
    assert deleted is not None
    if deleted["storage_path"]:
        await queue.enqueue(jobs.RemoveFileJob(document_id=source_id, path=deleted["storage_path"]))


async def _refuse(db: Session, source_id: uuid.UUID) -> None:
    """A write that touched nothing: 403 when the caller sees the source (a viewer), else 404."""
    if await db.one("select 1 as seen from public.knowledge_documents d where d.id = %s", (source_id,)):
        raise Forbidden("editors change sources")
    raise NotFound("source not found")
