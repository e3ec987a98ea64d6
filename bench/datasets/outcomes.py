"""A deterministic, seeded outcomes data set: organizations with agents, an experiment, leads,
conversations, messages, lead events, conversions and one ``llm_usage`` row per assistant reply.

Every value is a function of (seed, organization index, row index) through md5, computed in
Postgres with set-based inserts, so the same parameters give the same rows (ids included) on any
machine, and 100k conversations with 1M messages load in about a minute. Triggers are off while
loading (``session_replication_role = replica``: no outbox rows for a million synthetic messages);
the rows are generated consistent with every foreign key, and each conversation's experiment
variant comes from the real assignment function, ``app.experiment_variant_for``.

Per conversation: engaged 75%; qualified 45% of engaged; converted, of all conversations, 10% on
version 1 and 13% on version 2 (the experiment's true rates); handoff 20% of qualified; opt-out 2%;
4 to 16 messages (10 on average), alternating lead and assistant; half the conversions carry a
CRM deal value.

``python -m bench.datasets.outcomes --orgs 3 --conversations 100000`` loads into ``DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

ANCHOR = "2026-11-01T00:00:00Z"  # conversations start in the 90 days before this instant
RATES = {1: 0.10, 2: 0.13}  # true conversion rate per version of agent A (the experiment)
P_ENGAGED, P_QUALIFIED = 0.75, 0.45

_HASH = """
create or replace function pg_temp.h(p_seed text, p_i bigint, p_salt text) returns float8
language sql immutable as $$
    select ('x' || left(md5(p_seed || ':' || p_i || ':' || p_salt), 13))::bit(52)::bigint / 4503599627370496.0::float8
$$;
create or replace function pg_temp.uid(p_seed text, p_kind text, p_i bigint) returns uuid
language sql immutable as $$ select md5(p_seed || ':' || p_kind || ':' || p_i)::uuid $$;
"""


@dataclass
class Org:
    """One generated organization and the ids a test or bench needs."""

    id: uuid.UUID
    agent_a: uuid.UUID
    agent_b: uuid.UUID
    experiment: uuid.UUID
    counts: dict[str, int] = field(default_factory=dict)


def _org_sql(conn: psycopg.Connection[Any], seed: str, conversations: int) -> dict[str, Any]:
    p: dict[str, Any] = {"s": seed, "n": conversations, "leads": max(1, conversations * 4 // 5), "anchor": ANCHOR}
    ids = conn.execute(
        "select pg_temp.uid(%(s)s, 'org', 0), pg_temp.uid(%(s)s, 'agent', 1), pg_temp.uid(%(s)s, 'agent', 2),"
        " pg_temp.uid(%(s)s, 'experiment', 0)",
        p,
    ).fetchone()
    assert ids is not None
    p.update(org=ids[0], a=ids[1], b=ids[2], e=ids[3])
    return p


_STATEMENTS = [
    # the organization, its budget, two agents (A with versions 1 and 2, B with 1), A's experiment
    """insert into public.organizations (id, name, slug)
       values (%(org)s, 'Outcomes ' || left(%(s)s, 24), 'outcomes-' || md5(%(s)s))""",
    """insert into public.budgets (organization_id, monthly_limit_usd, per_conversation_limit_usd)
       values (%(org)s, 100000, 10)""",
    """insert into public.agents (id, organization_id, name, current_version)
       values (%(a)s, %(org)s, 'Sofia (SDR)', 2), (%(b)s, %(org)s, 'Bruno (Suporte)', 1)""",
    """insert into public.agent_versions (organization_id, agent_id, version, config)
       values (%(org)s, %(a)s, 1, '{"persona": "Sofia", "model": "fast"}'),
              (%(org)s, %(a)s, 2, '{"persona": "Sofia, mais direta", "model": "fast"}'),
              (%(org)s, %(b)s, 1, '{"persona": "Bruno", "model": "economy"}')""",
    """insert into public.experiments
           (id, organization_id, agent_id, name, primary_metric, control_version, started_at)
       values (%(e)s, %(org)s, %(a)s, 'v1 vs v2', 'conversion_rate', 1,
               %(anchor)s::timestamptz - interval '91 days')""",
    """insert into public.experiment_variants (id, organization_id, experiment_id, agent_id, version, weight, position)
       values (pg_temp.uid(%(s)s, 'variant', 1), %(org)s, %(e)s, %(a)s, 1, 1, 0),
              (pg_temp.uid(%(s)s, 'variant', 2), %(org)s, %(e)s, %(a)s, 2, 1, 1)""",
    """insert into public.leads (id, organization_id, name, stage, created_at)
       select pg_temp.uid(%(s)s, 'lead', j), %(org)s, 'Lead ' || j, 'new', %(anchor)s::timestamptz - interval '91 days'
       from generate_series(1, %(leads)s) j""",
    # conversations: agent A (80%) through the real assignment function, B on version 1
    """create temp table gen_conv on commit drop as
       select i, pg_temp.uid(%(s)s, 'conv', i) as id,
              pg_temp.uid(%(s)s, 'lead', 1 + floor(pg_temp.h(%(s)s, i, 'lead') * %(leads)s)::bigint) as lead_id,
              case when pg_temp.h(%(s)s, i, 'agent') < 0.8 then %(a)s::uuid else %(b)s::uuid end as agent_id,
              (array['web', 'whatsapp', 'api'])[1 + floor(pg_temp.h(%(s)s, i, 'channel') * 3)::int] as channel,
              %(anchor)s::timestamptz - pg_temp.h(%(s)s, i, 't') * interval '90 days' as created_at,
              4 + floor(pg_temp.h(%(s)s, i, 'm') * 13)::int as n_messages,
              pg_temp.h(%(s)s, i, 'e') as ue, pg_temp.h(%(s)s, i, 'q') as uq, pg_temp.h(%(s)s, i, 'c') as uc,
              pg_temp.h(%(s)s, i, 'ho') as uh, pg_temp.h(%(s)s, i, 'o') as uo, pg_temp.h(%(s)s, i, 'v') as uv
       from generate_series(1, %(n)s) i""",
    """alter table gen_conv add column variant_id uuid, add column version int""",
    """update gen_conv g set variant_id = v.variant_id, version = coalesce(v.version, 1)
       from (select g2.i, x.variant_id, x.version from gen_conv g2
             left join lateral app.experiment_variant_for(g2.agent_id, g2.lead_id) x on true) v
       where v.i = g.i""",
    """alter table gen_conv add column engaged boolean, add column qualified boolean, add column converted boolean""",
    """update gen_conv set engaged = ue < %(pe)s, qualified = ue < %(pe)s and uq < %(pq)s,
              converted = ue < %(pe)s and uq < %(pq)s
                          and uc < case when version = 2 then %(r2)s else %(r1)s end / (%(pe)s * %(pq)s)""",
    """insert into public.conversations (id, organization_id, agent_id, agent_version, lead_id, channel, status,
                                         experiment_variant_id, created_at, updated_at, last_message_at, cost_usd)
       select g.id, %(org)s, g.agent_id, g.version, g.lead_id, g.channel::public.channel,
              case when g.qualified and g.uh < 0.2 then 'human' else 'closed' end::public.conversation_status,
              g.variant_id, g.created_at, g.created_at + g.n_messages * interval '30 seconds',
              g.created_at + g.n_messages * interval '30 seconds', 0
       from gen_conv g""",
    # messages: alternating lead / assistant, 30 s apart
    """insert into public.messages (organization_id, conversation_id, role, content, status, created_at, updated_at,
                                    tokens_in, tokens_out, cost_usd, model)
       select %(org)s, g.id, case when k %% 2 = 1 then 'lead' else 'assistant' end::public.message_role,
              'mensagem ' || k, 'read', g.created_at + k * interval '30 seconds',
              g.created_at + k * interval '30 seconds',
              case when k %% 2 = 0 then 400 + k * 50 end, case when k %% 2 = 0 then 60 end,
              case when k %% 2 = 0 then 0.000060 + k * 0.0000075 end, case when k %% 2 = 0 then 'gpt-4o-mini' end
       from gen_conv g cross join lateral generate_series(1, g.n_messages) k""",
    # one usage row per assistant reply: fast (gpt-4o-mini) mostly, smart (gpt-4o) on 30%, 3% fallbacks, 1% errors
    """insert into public.llm_usage (organization_id, agent_id, conversation_id, model, alias, tokens_in, tokens_out,
                                     cost_usd, latency_ms, fallback_used, status, created_at)
       select %(org)s, g.agent_id, g.id, case when u < 0.3 then 'gpt-4o' else 'gpt-4o-mini' end,
              case when u < 0.3 then 'smart' else 'fast' end, 400 + k * 50, 60,
              round((case when u < 0.3 then 0.0000025 * (400 + k * 50) + 0.00001 * 60
                          else 0.00000015 * (400 + k * 50) + 0.0000006 * 60 end)::numeric, 6),
              300 + k * 10, pg_temp.h(%(s)s, g.i * 100 + k, 'fb') < 0.03,
              case when pg_temp.h(%(s)s, g.i * 100 + k, 'err') < 0.01 then 'error' else 'ok' end,
              g.created_at + k * interval '30 seconds'
       from gen_conv g cross join lateral generate_series(2, g.n_messages, 2) k
       cross join lateral (select pg_temp.h(%(s)s, g.i * 100 + k, 'alias') as u) x""",
    # the funnel's lead events
    """insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage, actor,
                                       data, created_at)
       select %(org)s, g.lead_id, g.id, e.type, e.from_stage::public.lead_stage, e.to_stage::public.lead_stage,
              'agent', e.data, g.created_at + e.after
       from gen_conv g cross join lateral (values
           ('conversation.started', null, null, '{}'::jsonb, interval '0', true),
           ('lead.engaged', 'new', 'engaged', '{}', interval '2 minutes', g.engaged),
           ('lead.qualified', 'engaged', 'qualified', '{}', g.uq * interval '48 hours' + interval '5 minutes',
            g.qualified),
           ('handoff.requested', 'qualified', 'handed_off', '{}', g.uq * interval '48 hours' + interval '10 minutes',
            g.qualified and g.uh < 0.2),
           ('conversion.created', 'qualified', 'converted', '{}',
            g.uq * interval '48 hours' + g.uc * interval '72 hours' + interval '1 hour', g.converted),
           ('lead.lost', 'qualified', 'lost', '{}', interval '96 hours',
            g.qualified and not g.converted and g.uv < 0.3),
           ('lead.updated', null, null, '{"fields": ["consent"], "reason": "opt_out"}', interval '3 minutes',
            g.uo < 0.02)
       ) as e(type, from_stage, to_stage, data, after, happened)
       where e.happened""",
    # conversions: half from the CRM with a deal value, half booked by the agent without one
    """insert into public.conversions (organization_id, lead_id, conversation_id, agent_id, agent_version, type, value,
                                       currency, source, external_id, occurred_at, created_at)
       select %(org)s, g.lead_id, g.id, g.agent_id, g.version, 'purchase',
              case when g.uv < 0.5 then round((1000 + g.uv * 20000)::numeric, 2) else 0 end, 'BRL',
              case when g.uv < 0.5 then 'hubspot' else 'agent' end, case when g.uv < 0.5 then 'deal-' || g.i end,
              g.created_at + g.uq * interval '48 hours' + g.uc * interval '72 hours' + interval '1 hour',
              g.created_at + g.uq * interval '48 hours' + g.uc * interval '72 hours' + interval '1 hour'
       from gen_conv g where g.converted""",
    """update public.conversations c set cost_usd = u.cost
       from (select conversation_id, sum(cost_usd) as cost from public.llm_usage
             where organization_id = %(org)s group by conversation_id) u
       where u.conversation_id = c.id""",
]


_COUNTS = """
    select (select count(*) from public.conversations where organization_id = %(org)s),
           (select count(*) from public.messages where organization_id = %(org)s),
           (select count(*) from public.llm_usage where organization_id = %(org)s),
           (select count(*) from public.lead_events where organization_id = %(org)s),
           (select count(*) from public.conversions where organization_id = %(org)s)
"""


# The enum casts in the statements name today's types; another migration may turn a column into text
# (with a check constraint), so each cast is rewritten to whatever type the column has now.
_CASTS = {
    "::public.channel": ("conversations", "channel"),
    "::public.conversation_status": ("conversations", "status"),
    "::public.message_role": ("messages", "role"),
    "::public.lead_stage": ("lead_events", "to_stage"),
}
_COLUMN_TYPE = (
    "select format_type(atttypid, atttypmod) from pg_attribute where attrelid = %s::regclass and attname = %s"
)


def _statements(conn: psycopg.Connection[Any]) -> list[str]:
    types = {}
    for token, (table, column) in _CASTS.items():
        row = conn.execute(_COLUMN_TYPE, (f"public.{table}", column)).fetchone()
        assert row is not None
        types[token] = "::" + str(row[0])
    out = []
    for statement in _STATEMENTS:
        for token, actual in types.items():
            statement = statement.replace(token, actual)
        out.append(statement)
    return out


def generate(database_url: str, seed: str = "outcomes", orgs: int = 3, conversations: int = 1000) -> list[Org]:
    """Load ``orgs`` organizations of ``conversations`` each (about 10 messages per conversation)."""
    made: list[Org] = []
    with psycopg.connect(database_url) as conn:
        for index in range(orgs):
            conn.execute("set local session_replication_role = replica")
            conn.execute(_HASH)
            p = _org_sql(conn, f"{seed}:{index}", conversations)
            p.update(pe=P_ENGAGED, pq=P_QUALIFIED, r1=RATES[1], r2=RATES[2])
            for statement in _statements(conn):
                conn.execute(statement, p)
            conn.commit()
            org = Org(p["org"], p["a"], p["b"], p["e"])
            row = conn.execute(_COUNTS, {"org": org.id}).fetchone()
            assert row is not None
            org.counts = dict(
                zip(("conversations", "messages", "llm_usage", "lead_events", "conversions"), row, strict=True)
            )
            conn.commit()
            made.append(org)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.datasets.outcomes")
    parser.add_argument("--seed", default="outcomes")
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--conversations", type=int, default=100_000, help="per organization")
    args = parser.parse_args()
    started = time.perf_counter()
    for org in generate(os.environ["DATABASE_URL"], args.seed, args.orgs, args.conversations):
        print(org.id, org.counts)
    print(f"loaded in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
