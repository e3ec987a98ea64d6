"""The ingestion worker's use case: take a pending source to ``ready`` (a new version of its chunks)
or to ``failed`` with a problem. Never raises for bad input; raises ``UpstreamUnavailable`` only
when the embedding provider fails, so the queue retries later.

Steps: claim (pending -> processing), read the content (text, FAQ or the fetched page), hash it
(same hash as the indexed version: ready, nothing changes), chunk, reserve budget, embed in batches,
then one transaction writes every chunk of the new version, removes the old version's, settles the
budget and adds the usage row. A source edited meanwhile is left for its own, newer job.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, LiteralString

from shared.db import Session, service_session
from shared.errors import InvalidInput, UpstreamUnavailable
from shared.knowledge import chunking, embedding, extraction, fetch, files
from shared.knowledge.chunking import QA, Chunk
from shared.observability import logger, metrics

INSERT_BATCH = 500
# A source whose worker died mid-way is 'processing': the retried job takes it again.
_CLAIM: LiteralString = """
    update public.knowledge_documents d set status = 'processing'
    from public.organizations o
    where d.id = %s and o.id = d.organization_id and d.status in ('pending', 'processing')
    returning d.id, d.organization_id, d.kind, d.title, d.content, d.faq, d.source_url, d.language, d.version,
              d.content_hash, d.embedding_model, d.index_requested_at, d.storage_path, d.media_type,
              o.settings ->> 'knowledge_embedding_model' as embedding_alias
"""
_FAIL: LiteralString = """
    update public.knowledge_documents d set status = 'failed', problem = %s
    where d.id = %s and d.status = 'processing' and d.index_requested_at = %s
"""
_UNCHANGED: LiteralString = """
    update public.knowledge_documents d set status = 'ready', problem = null
    where d.id = %s and d.status = 'processing' and d.index_requested_at = %s
"""
_RETRY_LATER: LiteralString = (
    "update public.knowledge_documents d set status = 'pending' where d.id = %s and d.status = 'processing'"
)
_RESERVE: LiteralString = "select app.reserve_budget(%s, null, null, %s, %s::numeric) as id"
_RELEASE: LiteralString = "select app.settle_budget(%s, null)"
_INSERT_CHUNKS: LiteralString = """
    insert into public.knowledge_chunks (organization_id, document_id, version, chunk_index, heading_path, content,
                                         token_count, search_config, fts, embedding)
    select %(org)s, %(doc)s, %(version)s, c.i, c.heading_path, c.content, c.tokens, %(config)s::regconfig,
           to_tsvector(%(config)s::regconfig, c.heading_path || ' ' || c.content), c.v
    from unnest(%(indexes)s::int[], %(paths)s::text[], %(contents)s::text[], %(tokens)s::int[],
                %(vectors)s::extensions.vector[]) as c(i, heading_path, content, tokens, v)
"""
_PUBLISH: LiteralString = """
    with published as (
        update public.knowledge_documents d
        set version = %(version)s, status = 'ready', problem = null, content_hash = %(hash)s,
            embedding_model = %(model)s, chunk_count = %(count)s, indexed_at = now()
        where d.id = %(doc)s and d.status = 'processing' and d.index_requested_at = %(requested)s
        returning d.id
    ),
    usage as (
        insert into public.llm_usage (organization_id, model, alias, tokens_in, cost_usd, latency_ms)
        select %(org)s, %(served_by)s, %(model)s, %(tokens_in)s, %(cost)s, %(latency)s from published
    ),
    removed as (
        delete from public.knowledge_chunks c
        using published
        where c.document_id = published.id and c.version <> %(version)s
    )
    select count(*)::int as published from published
"""


class _Rejected(Exception):
    """The source cannot be indexed as it is; the message is its problem."""


@dataclass(frozen=True)
class Source:
    """A claimed source, as the worker reads it."""

    row: dict[str, Any]

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(str(self.row["id"]))


async def ingest(document_id: uuid.UUID) -> str:
    """Index one source; the outcome (``ready``, ``unchanged``, ``failed``, ``skipped``, ``superseded``)."""
    async with service_session() as db:
        row = await db.one(_CLAIM, (document_id,))
    if row is None:
        return "skipped"  # deleted, or already handled by an earlier delivery of this job
    try:
        model = embedding.model_for(row["embedding_alias"])
        chunks, digest = await _prepare(row, model)
    except (_Rejected, extraction.ExtractionFailed, fetch.FetchFailed, files.FileRejected) as exc:
        return await _fail(row, str(exc))
    except InvalidInput as exc:
        return await _fail(row, exc.detail)
    if digest == row["content_hash"] and row["version"] > 0:
        async with service_session() as db:
            await db.execute(_UNCHANGED, (row["id"], row["index_requested_at"]))
        return "unchanged"
    return await _index(row, model, chunks, digest)


async def _prepare(row: dict[str, Any], model: embedding.EmbeddingModel) -> tuple[list[Chunk], str]:
    if row["kind"] == "faq":
        entries = [QA(str(e.get("question", "")), str(e.get("answer", ""))) for e in row["faq"] or []]
        text = chunking.faq_text(entries)
        chunks = chunking.chunk_faq(row["title"], [e for e in entries if e.question.strip() and e.answer.strip()])
    else:
        if row["kind"] == "url":
            data, media_type = await fetch.fetch_page(row["source_url"])
            text = extraction.extract(data, media_type)
        elif row["kind"] == "file":
            data = await files.fetch(row["storage_path"], row["media_type"])
            text = extraction.extract(data, row["media_type"])
        else:
            text = row["content"]
        chunks = chunking.chunk_text(text)
    if not chunks:
        raise _Rejected("the document has no text")
    # A file's hash covers its text: the same content uploaded again (or re-saved) changes nothing.
    identity = json.dumps([row["kind"], row["title"], row["language"], model.alias, text], ensure_ascii=False)
    return chunks, hashlib.sha256(identity.encode()).hexdigest()


async def _fail(row: dict[str, Any], problem: str) -> str:
    async with service_session() as db:
        await db.execute(_FAIL, (problem[:500], row["id"], row["index_requested_at"]))
    metrics.add_metric(name="KnowledgeSourceFailed", unit="Count", value=1)
    logger.info("knowledge source failed", extra={"document_id": str(row["id"]), "problem": problem[:200]})
    return "failed"


def estimate_usd(chunks: list[Chunk], model: embedding.EmbeddingModel) -> float:
    """What embedding ``chunks`` may cost: characters / 4 tokens at the alias's price, with a margin."""
    characters = sum(len(c.heading_path) + len(c.content) + 1 for c in chunks)
    return round(characters / 4 * model.price_per_token * 1.25, 6)


async def _index(row: dict[str, Any], model: embedding.EmbeddingModel, chunks: list[Chunk], digest: str) -> str:
    async with service_session() as db:
        reserved = await db.one(_RESERVE, (row["organization_id"], model.alias, estimate_usd(chunks, model)))
    reservation = reserved["id"] if reserved else None
    if reservation is None:
        return await _fail(row, "the organization's model budget is exhausted")
    try:
        embedded = await embedding.embed(model, [f"{c.heading_path}\n{c.content}".strip() for c in chunks])
    except UpstreamUnavailable:
        async with service_session() as db:
            await db.one(_RELEASE, (reservation,))
            await db.execute(_RETRY_LATER, (row["id"],))
        raise
    try:
        async with service_session() as db:
            if not await _write(db, row, chunks, embedded, digest, int(row["version"]) + 1, model):
                raise _Superseded  # rolls the new chunks back
            await db.one("select app.settle_budget(%s, %s::numeric)", (reservation, embedded.cost_usd))
    except _Superseded:
        async with service_session() as db:
            await db.one(_RELEASE, (reservation,))
        return "superseded"
    metrics.add_metric(name="KnowledgeChunksIndexed", unit="Count", value=len(chunks))
    return "ready"


class _Superseded(Exception):
    """The source changed (or went) while it was being indexed; its newer job indexes it."""


async def _write(
    db: Session,
    row: dict[str, Any],
    chunks: list[Chunk],
    embedded: embedding.Embedded,
    digest: str,
    version: int,
    model: embedding.EmbeddingModel,
) -> bool:
    # In slices, so no one statement of a large document runs into the statement timeout.
    for start in range(0, len(chunks), INSERT_BATCH):
        part = chunks[start : start + INSERT_BATCH]
        await db.execute(
            _INSERT_CHUNKS,
            {
                "org": row["organization_id"],
                "doc": row["id"],
                "version": version,
                "config": row["language"],
                "indexes": [c.index for c in part],
                "paths": [c.heading_path for c in part],
                "contents": [c.content for c in part],
                "tokens": [max(1, len(c.content) // 4) for c in part],
                "vectors": [embedding.literal(v) for v in embedded.vectors[start : start + INSERT_BATCH]],
            },
        )
    result = await db.one(
        _PUBLISH,
        {
            "version": version,
            "hash": digest,
            "model": model.alias,
            "served_by": embedded.model,
            "count": len(chunks),
            "doc": row["id"],
            "requested": row["index_requested_at"],
            "org": row["organization_id"],
            "tokens_in": embedded.tokens,
            "cost": embedded.cost_usd,
            "latency": embedded.latency_ms,
        },
    )
    return bool(result and result["published"])
