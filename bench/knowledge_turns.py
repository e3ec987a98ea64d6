"""``python -m bench.knowledge_turns``: what the knowledge base adds to a turn, in time and round trips.

The same worker handler, Router and local zero-latency models (chat and hashed embeddings) as
``bench.turns``, on agents of one organization: one without sources, one with an FAQ. In interleaved
rounds it times, per turn, the lead's question to the stored reply:
- the agent without sources (begin_turn, model, finish_turn);
- the agent with the FAQ, on a question it answers (+ one embedding and one retrieval statement);
- the agent with the FAQ, on a question it does not (+ the model's one search_knowledge call: a
  second embedding, retrieval and model call, then "I do not know").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from bench.turns import COUNTS, ROUNDS, _pct, _tenant, _time, counted_round_trips, queued_messages

FAQ = [
    {"question": "O apartamento tem garagem?", "answer": "Sim, duas vagas cobertas no subsolo."},
    {"question": "Aceitam pets?", "answer": "Sim, cães e gatos de pequeno porte."},
    {"question": "Qual o valor do condomínio?", "answer": "O condomínio custa R$ 650 por mês."},
]
CASES = {
    "no sources": (False, "O apartamento tem garagem?"),
    "FAQ, answered": (True, "O apartamento tem garagem?"),
    "FAQ, not answered": (True, "Vocês trabalham com financiamento pela Caixa?"),
}


def _with_faq(database_url: str, org: uuid.UUID, agent: uuid.UUID) -> None:
    """An FAQ for ``agent``, indexed through the real ingestion path."""
    from shared.knowledge.ingestion import ingest
    from shared.runtime import run

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.knowledge_documents (organization_id, agent_id, title, kind, faq)"
            " values (%s, %s, 'Perguntas', 'faq', %s) returning id",
            (org, agent, json.dumps(FAQ)),
        ).fetchone()
    assert row is not None
    assert run(ingest(row[0])) == "ready"


def measure(database_url: str, n: int) -> dict[str, Any]:
    """Interleaved rounds of each case: samples and round trips per turn."""
    from functions.workers.turn_worker import handler as worker
    from local_runtime.lambda_context import LocalLambdaContext

    org, plain = _tenant(database_url)
    informed = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'K')", (informed, org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config)"
            " select organization_id, %s, 1, config from public.agent_versions where agent_id = %s",
            (informed, plain),
        )
    _with_faq(database_url, org, informed)
    per_round = max(1, n // ROUNDS)
    context: Any = LocalLambdaContext("turnWorker")
    queues = {
        name: iter(queued_messages(database_url, org, informed if faq else plain, per_round * ROUNDS + 10, text))
        for name, (faq, text) in CASES.items()
    }
    for queue in queues.values():  # warm: connection, Router, embedding model, prices
        for _ in range(10):
            worker.handler(next(queue), context)
    samples: dict[str, list[list[float]]] = {name: [] for name in CASES}
    trips: dict[str, int] = dict.fromkeys(CASES, 0)
    for _ in range(ROUNDS):
        for name, queue in queues.items():

            def turn(events: Iterator[dict[str, Any]] = queue) -> None:
                worker.handler(next(events), context)

            COUNTS.clear()
            with counted_round_trips():
                samples[name].append(_time(turn, per_round))
            trips[name] += COUNTS["db"]
    return {"samples": samples, "db": {name: trips[name] / (per_round * ROUNDS) for name in CASES}}


def table(result: dict[str, Any]) -> str:
    """The figures as markdown rows, each case against the agent without sources."""
    rows = ["| turn | p50 ms | p99 ms | added p50 ms | DB round trips |", "|---|---|---|---|---|"]
    base = _pct([x for r in result["samples"]["no sources"] for x in r], 0.5)
    for name, rounds in result["samples"].items():
        merged = [x for r in rounds for x in r]
        p50, p99 = _pct(merged, 0.5), _pct(merged, 0.99)
        rows.append(f"| {name} | {p50:.2f} | {p99:.2f} | {p50 - base:+.2f} | {result['db'][name]:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.knowledge_turns")
    parser.add_argument("--turns", type=int, default=150)
    args = parser.parse_args()
    from local_runtime.cli import services

    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp, services(Path(tmp), port=0) as runtime:
        os.environ.update({**runtime.environment(), "POWERTOOLS_LOG_LEVEL": "WARNING", "APP_ENV": "test"})
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            result = measure(runtime.database_url, args.turns)
    print(table(result))
    print(f"\n(turns per case: {args.turns}, in {ROUNDS} interleaved rounds; local zero-latency models)")


if __name__ == "__main__":
    main()
