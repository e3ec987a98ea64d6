"""``python -m bench.rls``: every list filter under RLS against the same statement as superuser.

Two tenants of ``--rows`` conversations, agents and integrations each (100k by default) in a
database of their own; each list statement is sent as the services send it (bound client-side,
one script with the role and claims) ``--runs`` times as a member (role authenticated, RLS on)
and as the superuser (RLS bypassed). The integration test ``tests/integration/db/test_list_plans.py``
uses the same seed and cases on fewer rows and checks the plans instead of the clock.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import psycopg

from shared.agents.service import _PAGE as AGENTS_PAGE
from shared.conversations.service import _LIST as CONVERSATIONS_PAGE
from shared.integrations.service import _PAGE as INTEGRATIONS_PAGE
from shared.organizations.service import _MY_ORGANIZATIONS

_NO_CURSOR = {"after_t": None, "after_id": None}


def seed_tenant(conn: psycopg.Connection[Any], user: uuid.UUID, rows: int) -> dict[str, Any]:
    """One tenant with ``user`` as viewer: ``rows`` agents (1% active), leads with conversations
    (0.2% 'human', a third 'closed', 0.4% on a rare agent) and integrations (a few hubspot)."""
    org = uuid.uuid4()
    conn.execute("insert into public.organizations (id, name, slug) values (%s, 'T', %s)", (org, f"t-{org.hex[:12]}"))
    conn.execute(
        "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'viewer')", (org, user)
    )
    conn.execute(
        "insert into public.agents (organization_id, name, status, created_at)"
        " select %s, 'a' || i, case when i %% 100 = 0 then 'active' else 'archived' end,"
        " now() - i * interval '1 minute' from generate_series(1, %s) i",
        (org, rows),
    )
    agents = [r[0] for r in conn.execute("select id from public.agents where organization_id = %s limit 2", (org,))]
    for agent in agents:
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, '{}')",
            (org, agent),
        )
    conn.execute(
        "insert into public.leads (organization_id, name) select %s, 'l' || i from generate_series(1, %s) i",
        (org, rows),
    )
    conn.execute(
        """
        insert into public.conversations
            (organization_id, agent_id, agent_version, lead_id, channel, status, created_at)
        select %(org)s,
               case when n %% 250 = 0 then %(rare)s::uuid else %(common)s::uuid end,
               1, l.id, 'api',
               case when n %% 500 = 0 then 'human' when n %% 3 = 0 then 'closed' else 'bot' end,
               now() - n * interval '1 second'
        from (select id, row_number() over () as n from public.leads where organization_id = %(org)s) l
        """,
        {"org": org, "rare": agents[0], "common": agents[1]},
    )
    conn.execute(
        "insert into public.integrations (organization_id, kind, name, external_id, created_at)"
        " select %s, case when i %% 300 = 0 then 'hubspot' else 'webhook' end, 'i' || i, %s || i,"
        " now() - i * interval '1 minute' from generate_series(1, %s) i",
        (org, org.hex, rows),
    )
    return {"org": org, "rare_agent": agents[0], "common_agent": agents[1], "middle": _middle(conn, org)}


def _middle(conn: psycopg.Connection[Any], org: uuid.UUID) -> dict[str, Any]:
    """The cursor position (``after_t``, ``after_id``) halfway down the organization's conversations."""
    row = conn.execute(
        "select created_at, id from public.conversations where organization_id = %(org)s"
        " order by created_at desc, id desc offset (select count(*) / 2 from public.conversations"
        " where organization_id = %(org)s) limit 1",
        {"org": org},
    ).fetchone()
    assert row is not None
    return {"after_t": row[0], "after_id": row[1]}


def seed(conn: psycopg.Connection[Any], rows: int) -> dict[str, Any]:
    """Two tenants; the member (``user``) belongs to the first, whose ids are returned."""
    user, other = uuid.uuid4(), uuid.uuid4()
    for who in (user, other):
        conn.execute("insert into auth.users (id, email) values (%s, %s)", (who, f"{who.hex}@example.com"))
    tenant = seed_tenant(conn, user, rows)
    seed_tenant(conn, other, rows)
    conn.execute("analyze")
    return {"user": user, **tenant}


def list_cases(t: dict[str, Any]) -> dict[str, tuple[LiteralString, dict[str, Any]]]:
    """Each list route's statement with each filter it accepts, for tenant ``t``."""
    conversations = {"organization_id": t["org"], "status": None, "agent_id": None, "fetch": 21, **_NO_CURSOR}
    integrations = {"org": t["org"], "kind": None, "limit": 50, **_NO_CURSOR}
    agents = {"org": t["org"], "archived": False, "limit": 20, **_NO_CURSOR}
    return {
        "conversations": (CONVERSATIONS_PAGE, conversations),
        "conversations?status=human": (CONVERSATIONS_PAGE, {**conversations, "status": "human"}),
        "conversations?status=closed": (CONVERSATIONS_PAGE, {**conversations, "status": "closed"}),
        "conversations?agent_id=rare": (CONVERSATIONS_PAGE, {**conversations, "agent_id": t["rare_agent"]}),
        "conversations?agent_id=common": (CONVERSATIONS_PAGE, {**conversations, "agent_id": t["common_agent"]}),
        "conversations?agent_id&status": (
            CONVERSATIONS_PAGE,
            {**conversations, "agent_id": t["rare_agent"], "status": "human"},
        ),
        # halfway down: the page starts at its position in the index, whatever plan the statement keeps
        "conversations?cursor": (CONVERSATIONS_PAGE, {**conversations, **t["middle"]}),
        "conversations?status=closed&cursor": (
            CONVERSATIONS_PAGE,
            {**conversations, "status": "closed", **t["middle"]},
        ),
        "agents": (AGENTS_PAGE, agents),
        "agents?include_archived": (AGENTS_PAGE, {**agents, "archived": True}),
        "integrations": (INTEGRATIONS_PAGE, integrations),
        "integrations?kind=hubspot": (INTEGRATIONS_PAGE, {**integrations, "kind": "hubspot"}),
        "organizations": (_MY_ORGANIZATIONS, {}),
    }


CASE_NAMES = list(list_cases({"org": None, "rare_agent": None, "common_agent": None, "middle": _NO_CURSOR}))


def _as(role: str, user: uuid.UUID) -> str:
    claims = json.dumps({"sub": str(user), "role": "authenticated"})
    return f"select set_config('role', '{role}', true), set_config('request.jwt.claims', '{claims}', true)"


def explain_as_member(url: str, user: uuid.UUID, sql: LiteralString, params: dict[str, Any]) -> list[dict[str, Any]]:
    """EXPLAIN ANALYZE of ``sql`` bound client-side (as ``user_read`` sends it), as role authenticated: its plan,
    then the plan of every statement it ran inside a function (``app.list_agents`` and the like).

    Those come from ``auto_explain`` (nested statements, logged to this client), with the plans a function keeps
    forced generic: what every call makes after its first few, whatever the parameters.
    """
    plans: list[dict[str, Any]] = []

    def nested(diagnostic: psycopg.errors.Diagnostic) -> None:
        _, found, plan = (diagnostic.message_primary or "").partition("plan:")
        if found:
            plans.append(dict(json.loads(plan)["Plan"]))

    with psycopg.connect(url) as conn:
        conn.add_notice_handler(nested)
        conn.execute(
            "load 'auto_explain'; set local auto_explain.log_min_duration = 0;"
            " set local auto_explain.log_analyze = on; set local auto_explain.log_nested_statements = on;"
            " set local auto_explain.log_format = json; set local auto_explain.log_level = notice;"
            " set local plan_cache_mode = force_generic_plan"
        )
        conn.execute(_as("authenticated", user).encode())
        bound = psycopg.ClientCursor(conn).mogrify(sql, params)
        row = conn.execute(f"explain (analyze, format json) {bound}".encode()).fetchone()
        conn.rollback()
    assert row is not None
    return [dict(row[0][0]["Plan"]), *plans]


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def timings(url: str, t: dict[str, Any], runs: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per statement for every case, as the member (RLS) and as the superuser, interleaved.

    Each role has a connection of its own, as a container's connection always reads as the same role:
    a plan a function keeps was made for one role, and is made again when the next call runs as another.
    """
    out: dict[str, dict[str, list[float]]] = {}
    with psycopg.connect(url, autocommit=True) as member, psycopg.connect(url, autocommit=True) as conn:
        client = psycopg.ClientCursor(conn)
        superuser = str(conn.execute("select current_user").fetchone()[0])  # type: ignore[index]
        connections = {"authenticated": member, superuser: conn}
        for name, (sql, params) in list_cases(t).items():
            statement = client.mogrify(sql, params)
            scripts = {
                role: f"begin; {_as(role, t['user'])}; {statement}; commit".encode()
                for role in ("authenticated", superuser)
            }
            samples: dict[str, list[float]] = {"rls": [], "superuser": []}
            for _ in range(runs):
                for key, role in (("rls", "authenticated"), ("superuser", superuser)):
                    started = time.perf_counter()
                    connections[role].execute(scripts[role])
                    samples[key].append(time.perf_counter() - started)
            out[name] = samples
    return out


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def table(results: dict[str, dict[str, list[float]]], rows: int) -> str:
    """RLS against superuser per list filter, as markdown."""
    lines = [
        f"| list filter ({rows:,} rows per tenant, 2 tenants) | RLS p50 ms | RLS p99 ms | superuser p50 ms"
        " | superuser p99 ms | RLS / superuser (p50) | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in results.items():
        rls, su = _ms(s["rls"], 0.5), _ms(s["superuser"], 0.5)
        lines.append(
            f"| {name} | {rls:.2f} | {_ms(s['rls'], 0.99):.2f} | {su:.2f} | {_ms(s['superuser'], 0.99):.2f}"
            f" | {rls / su:.2f} | {'ok' if rls / su <= 2 else 'MISSED'} (<= 2) |"
        )
    spread = [statistics.pstdev(s["superuser"]) * 1000 for s in results.values()]
    lines.append(
        f"\n(runs per case and role: {len(next(iter(results.values()))['rls'])};"
        f" superuser stdev per case {min(spread):.2f}-{max(spread):.2f} ms)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rls")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    from local_runtime.migrate import apply_migrations
    from local_runtime.postgres import start_postgres

    with tempfile.TemporaryDirectory(prefix="ca-bench-rls-") as tmp:
        server = start_postgres(Path(tmp) / "pg")
        try:
            url = server.create_database()
            apply_migrations(url)
            with psycopg.connect(url, autocommit=True) as conn:
                tenant = seed(conn, args.rows)
            print(table(timings(url, tenant, args.runs), args.rows))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
