"""Hybrid retrieval in one SQL statement: pgvector (HNSW, cosine) and Postgres full-text search,
fused with reciprocal-rank fusion, filtered to an agent's sources and to each source's current
version, with the minimum scores enforced in SQL.

A chunk passes when its cosine similarity reaches ``min_similarity`` or its full-text score
(``ts_rank_cd``, normalised to [0, 1)) reaches ``min_text_score``; passing chunks are ordered by
RRF (``1/(k + rank)`` summed over both lists). Run under the caller's claims, RLS keeps other
tenants' chunks out; the worker's service path filters on the conversation's organization.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import LiteralString

from shared.db import Session
from shared.knowledge.embedding import SUPPORTED_DIMENSIONS

CANDIDATES = 40
RRF_K = 60
MIN_SIMILARITY = 0.35
MIN_TEXT_SCORE = 0.5
LANGUAGES = {"pt": "portuguese", "en": "english", "es": "spanish"}

# {dim} is one of SUPPORTED_DIMENSIONS: the cast selects that dimension's partial HNSW index.
_HYBRID = """
with q as (
    select %(vector)s::extensions.vector({dim}) as v,
           websearch_to_tsquery('portuguese', %(words)s) || websearch_to_tsquery(%(language)s::regconfig, %(words)s)
               as tq
),
vec as (
    select n.id, n.similarity, row_number() over (order by n.distance) as rank
    from (
        select c.id, c.embedding::extensions.vector({dim}) <=> q.v as distance,
               1 - (c.embedding::extensions.vector({dim}) <=> q.v) as similarity
        from public.knowledge_chunks c
        cross join q
        join public.knowledge_documents d on d.id = c.document_id and d.version = c.version
        where extensions.vector_dims(c.embedding) = {dim} and c.organization_id = %(org)s
          and (%(agent)s::uuid is null or d.agent_id is null or d.agent_id = %(agent)s::uuid)
          and (%(only_vector)s or not %(only_text)s)
        order by c.embedding::extensions.vector({dim}) <=> q.v
        limit %(candidates)s
    ) n
),
fts as (
    select t.id, t.text_score, row_number() over (order by t.text_score desc, t.id) as rank
    from (
        select c.id, ts_rank_cd(to_tsvector(c.search_config, c.heading_path || ' ' || c.content), q.tq, 32)
                   as text_score
        from public.knowledge_chunks c
        cross join q
        join public.knowledge_documents d on d.id = c.document_id and d.version = c.version
        where to_tsvector(c.search_config, c.heading_path || ' ' || c.content) @@ q.tq
          and c.organization_id = %(org)s
          and (%(agent)s::uuid is null or d.agent_id is null or d.agent_id = %(agent)s::uuid)
          and (%(only_text)s or not %(only_vector)s)
        order by text_score desc, c.id
        limit %(candidates)s
    ) t
),
fused as (
    select coalesce(vec.id, fts.id) as id, vec.similarity, fts.text_score,
           coalesce(1.0 / (%(rrf_k)s + vec.rank), 0) + coalesce(1.0 / (%(rrf_k)s + fts.rank), 0) as score
    from vec full join fts on fts.id = vec.id
)
select c.id, c.document_id, c.version, c.heading_path, c.content, d.title,
       f.score::float8 as score, coalesce(f.similarity, 0)::float8 as similarity,
       coalesce(f.text_score, 0)::float8 as text_score
from fused f
join public.knowledge_chunks c on c.id = f.id
join public.knowledge_documents d on d.id = c.document_id
where coalesce(f.similarity, 0) >= %(min_similarity)s or coalesce(f.text_score, 0) >= %(min_text_score)s
order by f.score desc, c.id
limit %(limit)s
"""
_STATEMENTS: dict[int, LiteralString] = {dim: _HYBRID.replace("{dim}", str(dim)) for dim in SUPPORTED_DIMENSIONS}


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the version of its source."""

    id: uuid.UUID
    document_id: uuid.UUID
    version: int
    title: str
    heading_path: str
    content: str
    score: float
    similarity: float
    text_score: float


@dataclass(frozen=True)
class Query:
    """What to search for, for whom, and how."""

    organization_id: uuid.UUID
    text: str
    vector: list[float]
    agent_id: uuid.UUID | None = None
    language: str = "pt"
    limit: int = 5
    mode: str = "hybrid"  # "vector" and "text" exist for the benchmark's comparison
    min_similarity: float = MIN_SIMILARITY
    min_text_score: float = MIN_TEXT_SCORE


def words(text: str) -> str:
    """The question's words joined with ``or``: websearch syntax for "any of these" (stop words drop out)."""
    return " or ".join(re.findall(r"\w+", text)[:32])


def statement(dimension: int) -> LiteralString:
    """The hybrid statement for vectors of ``dimension``."""
    return _STATEMENTS[dimension]


def params(query: Query) -> dict[str, object]:
    """The statement's parameters for ``query``."""
    from shared.knowledge.embedding import literal

    return {
        "vector": literal(query.vector),
        "words": words(query.text),
        "language": LANGUAGES.get(query.language.split("-")[0].lower(), "simple"),
        "org": query.organization_id,
        "agent": query.agent_id,
        "only_vector": query.mode == "vector",
        "only_text": query.mode == "text",
        "candidates": CANDIDATES,
        "rrf_k": RRF_K,
        "min_similarity": query.min_similarity,
        "min_text_score": query.min_text_score,
        "limit": query.limit,
    }


async def search(db: Session, query: Query) -> list[Hit]:
    """The best chunks for ``query`` that pass the thresholds, best first (at most ``query.limit``)."""
    rows = await db.all(statement(len(query.vector)), params(query))
    return [Hit(**row) for row in rows]
