"""Hybrid retrieval in one SQL statement: pgvector (HNSW, cosine) and Postgres full-text search,
fused with reciprocal-rank fusion, filtered to an agent's sources and to each source's current
version, with the minimum scores enforced in SQL.

A chunk passes when its cosine similarity reaches ``min_similarity`` and its full-text score
(``ts_rank_cd``, normalised to [0, 1)) is above ``min_text_score``: close in meaning, and sharing
at least one of the question's words (both calibrated on the golden set, bench/knowledge). Passing
chunks are ordered by RRF (``1/(k + rank)`` summed over both lists). Run under the caller's claims, RLS keeps other
tenants' chunks out; the worker's service path filters on the conversation's organization.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import LiteralString

from shared.db import Session, TransactionSettings
from shared.knowledge.embedding import SUPPORTED_DIMENSIONS

CANDIDATES = 40
# The vector side filters on the organization after the HNSW index, which hands out its nearest rows
# across every tenant (ef_search, 40 by default): when another tenant's chunks lie nearer the question,
# a tenant large enough for the planner to walk the index got none of its own, and so no answer at all
# (a hit must pass both sides' thresholds). pgvector's iterative scan (0.8) keeps walking until the
# candidates pass the filter; relaxed order, because the statement ranks the candidates by distance
# itself. The walk stops after 2,000 rows (``hnsw.max_scan_tuples``; 20,000 by default): bench.knowledge,
# whose golden questions lie nearer another tenant's 23,300 PDF chunks than the measured tenant's, took
# 7.9 ms p50 / 16.6 p99 without the scan, 28.5 / 82.1 with the default and 14.7 / 30.2 with 2,000,
# inside the statement's 20 ms p50 target. Set for the retrieval's transaction only.
SCAN_SETTINGS: TransactionSettings = (
    ("hnsw.iterative_scan", "relaxed_order"),
    ("hnsw.max_scan_tuples", "2000"),
)
MATCHES = 300
RRF_K = 60
MIN_SIMILARITY = 0.2
MIN_TEXT_SCORE = 0.0
MIN_COVERAGE = 0.3
# Words that ask rather than say what is asked about: interrogatives and the existential and modal
# verbs of a question ("Quantas coberturas existem?", "Posso parcelar?", "Is there a gym?"). They are
# left out of the coverage's denominator (Postgres' stop-word lists keep most of them).
_QUESTION_WORDS = (
    "quanto quanta quantos quantas qual quais onde como quando quem porque existe existem há tem têm "
    "posso pode podem podemos consigo consegue dá what which where when how who is are there can could "
    "do does cuánto cuánta cuántos cuántas cuál cuáles dónde cómo cuándo quién hay puedo puede"
)
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())
LANGUAGES = {"pt": "portuguese", "en": "english", "es": "spanish"}

# {dim} is one of SUPPORTED_DIMENSIONS: the cast selects that dimension's partial HNSW index.
_HYBRID = """
with q as materialized (
    -- h12storage: the question, parsed once: the any-of-these-words query (the agent's language added
    -- only when it is not portuguese: the same terms twice doubled ts_rank_cd's cost), and its content
    -- words as lexemes in the source's configuration (portuguese by default) and in the agent's language.
    select case when %(language)s = 'portuguese' then websearch_to_tsquery('portuguese', %(words)s)
                else websearch_to_tsquery('portuguese', %(words)s)
                     || websearch_to_tsquery(%(language)s::regconfig, %(words)s)
           end as query,
           tsvector_to_array(to_tsvector('portuguese', %(text)s)) as words_pt,
           tsvector_to_array(to_tsvector(%(language)s::regconfig, %(text)s)) as words_lang
),
vec as (
    select n.id, 1 - n.distance as similarity, row_number() over (order by n.distance, n.id) as rank
    from (
        select c.id,
               c.embedding::extensions.vector({dim}) operator(extensions.<=>) %(vector)s::extensions.vector({dim})
                   as distance
        from public.knowledge_chunks c
        where extensions.vector_dims(c.embedding) = {dim} and c.organization_id = %(org)s
          and not %(only_text)s
        order by distance
        limit %(candidates)s
    ) n
),
fts as (
    select m.id, m.fts, m.text_score, row_number() over (order by m.text_score desc, m.id) as rank
    from (
        select t.id, t.fts, ts_rank_cd(t.fts, q.query, 32) as text_score
        -- h12storage: the organization's matches, at most %(matches)s (a bound on the cost of a common word),
        -- from a security-definer function: under RLS `@@` could not use the (organization_id, fts) index.
        from q, app.knowledge_text_matches(%(org)s, q.query, case when %(only_vector)s then 0 else %(matches)s end) t
        order by text_score desc, t.id
        limit %(candidates)s
    ) m
),
fused as (
    select coalesce(vec.id, fts.id) as id, coalesce(vec.similarity, 0)::float8 as similarity,
           coalesce(fts.text_score, 0)::float8 as text_score,
           (coalesce(1.0 / (%(rrf_k)s + vec.rank), 0) + coalesce(1.0 / (%(rrf_k)s + fts.rank), 0))::float8 as score
    from vec full join fts on fts.id = vec.id
),
scored as (
    select f.*, c.document_id, c.version, c.heading_path, c.content, c.fts,
           -- h12storage: coverage, the share of the question's words (lexemes) the chunk holds
           greatest(
               (select count(*) from unnest(q.words_pt) w where w = any(tsvector_to_array(c.fts)))::float8
                   / greatest(cardinality(q.words_pt), 1),
               (select count(*) from unnest(q.words_lang) w where w = any(tsvector_to_array(c.fts)))::float8
                   / greatest(cardinality(q.words_lang), 1)
           ) as coverage
    from fused f
    join public.knowledge_chunks c on c.id = f.id
    cross join q
)
select s.id, s.document_id, s.version, s.heading_path, s.content, d.title, s.score, s.similarity, s.text_score,
       s.coverage
from scored s
join public.knowledge_documents d on d.id = s.document_id and d.version = s.version
where (%(agent)s::uuid is null
       -- h12storage: the agents that read a source are in knowledge_source_agents (none: every agent)
       or not exists (select 1 from public.knowledge_source_agents l where l.document_id = d.id)
       or exists (select 1 from public.knowledge_source_agents l
                  where l.document_id = d.id and l.agent_id = %(agent)s::uuid))
  and s.similarity >= %(min_similarity)s and s.text_score > %(min_text_score)s and s.coverage >= %(min_coverage)s
order by s.score desc, s.id
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
    coverage: float


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
    min_coverage: float = MIN_COVERAGE


def words(text: str) -> str:
    """The question's words joined with ``or``: websearch syntax for "any of these" (stop words drop out,
    and so do question words: "quantos" or "posso" match much and say nothing of the subject)."""
    return " or ".join([w for w in re.findall(r"\w+", text) if w.lower() not in QUESTION_WORDS][:32])


def content_words(text: str) -> str:
    """The question without its question words: what the coverage threshold counts."""
    return " ".join(w for w in re.findall(r"\w+", text)[:64] if w.lower() not in QUESTION_WORDS)


def statement(dimension: int) -> LiteralString:
    """The hybrid statement for vectors of ``dimension``."""
    return _STATEMENTS[dimension]


def params(query: Query) -> dict[str, object]:
    """The statement's parameters for ``query``."""
    from shared.knowledge.embedding import literal

    return {
        "vector": literal(query.vector),
        "words": words(query.text),
        "text": content_words(query.text),
        "language": LANGUAGES.get(query.language.split("-")[0].lower(), "simple"),
        "org": query.organization_id,
        "agent": query.agent_id,
        "only_vector": query.mode == "vector",
        "only_text": query.mode == "text",
        "candidates": CANDIDATES,
        "matches": MATCHES,
        "rrf_k": RRF_K,
        "min_similarity": query.min_similarity,
        "min_text_score": query.min_text_score,
        "min_coverage": query.min_coverage,
        "limit": query.limit,
    }


async def search(db: Session, query: Query) -> list[Hit]:
    """The best chunks for ``query`` that pass the thresholds, best first (at most ``query.limit``).

    ``db`` is a session opened with ``settings=SCAN_SETTINGS``, as the turn's lookup
    (``shared.knowledge.context``) opens its one round trip.
    """
    rows = await db.all(statement(len(query.vector)), params(query))
    return [Hit(**row) for row in rows]
