"""``python -m bench.knowledge``: retrieval quality on the golden set, retrieval speed at scale, ingestion.

Starts its own Postgres (migrations applied), indexes the golden documents through the real
ingestion path (LiteLLM ``aembedding`` with the local hashed n-gram model), then prints:
- recall@5 and MRR for vector only, full-text only and hybrid, and how many unanswerable
  questions fall below the threshold (and answerable ones above it);
- retrieval p50/p99 with ``--chunks`` chunks in one organization and as many in another;
- ingestion throughput (chunks/s) and peak RSS for a generated PDF of ``--pdf-mb`` MB.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "golden.json").read_text(encoding="utf-8"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _org(database_url: str, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    import psycopg

    org, agent = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, %s, %s)", (org, name, org.hex))
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'Sofia')", (agent, org))
        conn.execute("update public.budgets set monthly_limit_usd = 1000 where organization_id = %s", (org,))
    return org, agent


def _add_text(database_url: str, org: uuid.UUID, title: str, content: str) -> uuid.UUID:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.knowledge_documents (organization_id, title, kind, content) values (%s, %s, 'text', %s)"
            " returning id",
            (org, title, content),
        ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


async def _ingest(document_id: uuid.UUID) -> str:
    from shared.knowledge.ingestion import ingest

    return await ingest(document_id)


async def _search(org: uuid.UUID, agent: uuid.UUID | None, text: str, mode: str, floor: bool) -> list[Any]:
    from shared.db import service_session
    from shared.knowledge import embedding, retrieval

    model = embedding.model_for(None)
    vector = (await embedding.embed(model, [text])).vectors[0]
    query = retrieval.Query(org, text, vector, agent_id=agent, mode=mode, limit=5)
    if not floor:
        query = retrieval.Query(
            org, text, vector, agent_id=agent, mode=mode, limit=5, min_similarity=0, min_text_score=-1, min_coverage=0
        )
    async with service_session(settings=retrieval.SCAN_SETTINGS) as db:
        return await retrieval.search(db, query)


def quality(database_url: str) -> list[str]:
    org, agent = _org(database_url, "Golden")
    for name in GOLDEN["documents"]:
        document = _add_text(database_url, org, name, (HERE / "docs" / f"{name}.md").read_text(encoding="utf-8"))
        assert asyncio.run(_ingest(document)) == "ready", name
    lines = ["| mode | recall@5 | MRR |", "|---|---|---|"]
    loop = asyncio.new_event_loop()
    for mode in ("vector", "text", "hybrid"):
        found, reciprocal = 0, 0.0
        for item in GOLDEN["questions"]:
            hits = loop.run_until_complete(_search(org, agent, item["question"], mode, floor=False))
            ranks = [
                i
                for i, h in enumerate(hits, 1)
                if h.title == item["document"] and h.heading_path.endswith(item["section"])
            ]
            found += bool(ranks)
            reciprocal += 1 / ranks[0] if ranks else 0.0
        total = len(GOLDEN["questions"])
        lines.append(f"| {mode} | {found / total:.3f} | {reciprocal / total:.3f} |")
    if os.environ.get("BENCH_CALIBRATE"):
        for label, texts in (
            ("answerable", [i["question"] for i in GOLDEN["questions"]]),
            ("unanswerable", GOLDEN["unanswerable"]),
        ):
            for text in texts:
                hits = loop.run_until_complete(_search(org, agent, text, "hybrid", floor=False))
                top_sim = max((h.similarity for h in hits), default=0)
                top_text = max((h.text_score for h in hits), default=0)
                top_coverage = max((h.coverage for h in hits if h.similarity >= 0.2 and h.text_score > 0), default=0)
                print(f"{label}\t{top_sim:.3f}\t{top_text:.3f}\t{top_coverage:.3f}\t{text}", file=sys.stderr)
    answered = sum(
        bool(loop.run_until_complete(_search(org, agent, item["question"], "hybrid", floor=True)))
        for item in GOLDEN["questions"]
    )
    passing = [
        question
        for question in GOLDEN["unanswerable"]
        if loop.run_until_complete(_search(org, agent, question, "hybrid", floor=True))
    ]
    refused = len(GOLDEN["unanswerable"]) - len(passing)
    lines.append("")
    lines.append(
        f"Threshold (hybrid, in SQL): {answered}/{len(GOLDEN['questions'])} answerable questions pass it; "
        f"{refused}/{len(GOLDEN['unanswerable'])} unanswerable questions fall below it"
        + (f" (above it: {'; '.join(passing)})." if passing else ".")
    )
    loop.close()
    return lines


def ingestion(database_url: str, megabytes: int) -> list[str]:
    from bench.knowledge.pdf import build_pdf
    from shared.knowledge.extraction import PDF_TYPE, extract

    org, _ = _org(database_url, "Pdf")
    data = build_pdf(megabytes * 1024 * 1024)
    before = _rss_mb()
    started = time.perf_counter()
    text = extract(data, PDF_TYPE)
    extracted = time.perf_counter()
    document = _add_text(database_url, org, "Manual", text)
    assert asyncio.run(_ingest(document)) == "ready"
    done = time.perf_counter()
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("select chunk_count from public.knowledge_documents where id = %s", (document,)).fetchone()
    chunks = int(row[0]) if row else 0
    return [
        "| PDF | chunks | extract s | chunk+embed+write s | chunks/s (all) | peak RSS MB (before) |",
        "|---|---|---|---|---|---|",
        f"| {len(data) / 1048576:.1f} MB | {chunks} | {extracted - started:.1f} | {done - extracted:.1f} "
        f"| {chunks / (done - started):.0f} | {_rss_mb():.0f} ({before:.0f}) |",
    ]


_SYLLABLES = ("ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "xo", "za", "tra")


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float], list[str]]:
    """A long-tailed (Zipf) vocabulary of 30,000 made-up words, and the golden documents' own words."""
    made_up = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(30_000)})
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(made_up))))
    domain = sorted(
        {w.strip(".,:;") for name in GOLDEN["documents"] for w in (HERE / "docs" / f"{name}.md").read_text().split()}
    )
    return made_up, weights, domain


def _synthetic(rng: random.Random, words: tuple[list[str], list[float], list[str]]) -> str:
    """60 words: most from the long tail, some (a fifth) from the business's own vocabulary."""
    made_up, weights, domain = words
    return " ".join(rng.choices(made_up, cum_weights=weights, k=48) + rng.choices(domain, k=12))


def _load(database_url: str, org: uuid.UUID, count: int, seed: int) -> None:
    """``count`` chunks of synthetic text in one document, embedded with the local model, by COPY."""
    import psycopg

    from local_runtime.model.embedding import embed
    from shared.knowledge.embedding import literal

    rng = random.Random(seed)
    words = _vocabulary(rng)
    with psycopg.connect(database_url, autocommit=True) as conn:
        doc = conn.execute(
            "insert into public.knowledge_documents (organization_id, title, status, version)"
            " values (%s, 'Bulk', 'ready', 1) returning id",
            (org,),
        ).fetchone()
        assert doc is not None
        conn.execute("create temporary table bulk (i int, content text, embedding text)")
        with conn.cursor().copy("copy bulk (i, content, embedding) from stdin") as copy:
            for i in range(count):
                text = _synthetic(rng, words)
                copy.write_row((i, text, literal(embed(text, 384))))
        conn.execute(
            "insert into public.knowledge_chunks (organization_id, document_id, version, chunk_index, content, fts,"
            " embedding) select %s, %s, 1, b.i, b.content, to_tsvector('portuguese', ' ' || b.content),"
            " b.embedding::extensions.vector from bulk b",
            (org, doc[0]),
        )
        conn.execute("drop table bulk")


_INDEXES = (
    "drop index if exists public.knowledge_chunks_embedding_384_idx",
    "drop index if exists public.knowledge_chunks_organization_fts_idx",
)
_REBUILD = (
    "create index knowledge_chunks_embedding_384_idx on public.knowledge_chunks using hnsw"
    " ((embedding::extensions.vector(384)) extensions.vector_cosine_ops) where extensions.vector_dims(embedding) = 384",
    "create index knowledge_chunks_organization_fts_idx on public.knowledge_chunks using gin (organization_id, fts)",
)


def speed(database_url: str, chunks: int, queries: int) -> list[str]:
    import psycopg

    org_a, agent_a = _org(database_url, "Big A")
    org_b, _ = _org(database_url, "Big B")
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in _INDEXES:  # bulk load, then build: what a restore would do
            conn.execute(statement)
    _load(database_url, org_a, chunks, 1)
    _load(database_url, org_b, chunks, 2)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("set maintenance_work_mem = '512MB'")
        for statement in _REBUILD:
            conn.execute(statement)
        conn.execute("analyze public.knowledge_chunks")
    print(f"loaded and indexed {2 * chunks} chunks in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    loop = asyncio.new_event_loop()
    questions = [item["question"] for item in GOLDEN["questions"]]
    embed_s, search_s = [], []

    async def one(question: str) -> None:
        from shared.db import service_session
        from shared.knowledge import embedding, retrieval

        model = embedding.model_for(None)
        t0 = time.perf_counter()
        vector = (await embedding.embed(model, [question])).vectors[0]
        t1 = time.perf_counter()
        async with service_session() as db:
            await retrieval.search(db, retrieval.Query(org_a, question, vector, agent_id=agent_a))
        t2 = time.perf_counter()
        embed_s.append(t1 - t0)
        search_s.append(t2 - t1)

    if os.environ.get("BENCH_EXPLAIN"):
        from local_runtime.model.embedding import embed as local_embed
        from shared.knowledge import retrieval

        question = questions[0]
        query = retrieval.Query(org_a, question, local_embed(question, 384), agent_id=agent_a)
        with psycopg.connect(database_url) as conn:
            plan = conn.execute("explain analyze " + retrieval.statement(384), retrieval.params(query)).fetchall()
        print("\n".join(str(r[0]) for r in plan), file=sys.stderr)
    for i in range(queries):
        loop.run_until_complete(one(questions[i % len(questions)]))
    loop.close()

    def pct(samples: list[float], q: float) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    turn = [e + s for e, s in zip(embed_s, search_s, strict=True)]
    return [
        "| chunks (org A + org B) | retrieval p50 ms | retrieval p99 ms | query embedding p50 ms"
        " | added to a turn p50 / p99 ms |",
        "|---|---|---|---|---|",
        f"| {chunks} + {chunks} | {pct(search_s, 0.5):.1f} | {pct(search_s, 0.99):.1f}"
        f" | {statistics.median(embed_s) * 1000:.1f} | {pct(turn, 0.5):.1f} / {pct(turn, 0.99):.1f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.knowledge")
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks per organization for the speed table")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--pdf-mb", type=int, default=20)
    args = parser.parse_args()

    from local_runtime.cli import services

    with tempfile.TemporaryDirectory(prefix="ca-bench-kb-") as tmp, services(Path(tmp), port=0) as runtime:
        os.environ.update({**runtime.environment(), "POWERTOOLS_LOG_LEVEL": "WARNING"})
        from shared.settings import get_settings

        get_settings.cache_clear()
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus", file=sys.stderr)
        print(
            f"### Retrieval quality (golden set: {len(GOLDEN['questions'])} questions,"
            f" {len(GOLDEN['documents'])} documents)\n"
        )
        print("\n".join(quality(runtime.database_url)), flush=True)
        print("\n### Ingestion (local embedding model)\n")
        print("\n".join(ingestion(runtime.database_url, args.pdf_mb)), flush=True)
        print("\n### Retrieval speed (hybrid, one statement, in-process)\n")
        print("\n".join(speed(runtime.database_url, args.chunks, args.queries)), flush=True)


if __name__ == "__main__":
    main()
