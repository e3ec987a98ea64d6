"""Every list filter keeps an index plan under RLS: no sequential scan, no filter over more than 1,000 rows.

Under RLS a condition can become an index condition only if its operator is leakproof; an enum
comparison is not, so a status filter turned into a filter over the whole organization. The plans
are taken with EXPLAIN ANALYZE as role ``authenticated`` with a member's claims, on a database of
its own seeded with two tenants (the seed and cases of ``python -m bench.rls``, on fewer rows), for
the exact SQL the services send, and for every statement it runs inside a PL/pgSQL function (``app.list_agents``
and the like), with the generic plan such a function keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from bench.rls import CASE_NAMES, explain_as_member, list_cases, plan_nodes, seed
from local_runtime.migrate import apply_migrations
from local_runtime.postgres import PostgresServer

pytestmark = pytest.mark.integration

ROWS = 20_000  # per tenant: conversations, agents (1% active) and integrations each
MAX_FILTERED = 1_000


@pytest.fixture(scope="module")
def seeded(pg_server: PostgresServer) -> Iterator[dict[str, Any]]:
    """A database of its own with two tenants; the member belongs to the first."""
    url = pg_server.create_database()
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        tenant = seed(conn, ROWS)
    yield {"url": url, **tenant}
    pg_server.drop_database(str(psycopg.conninfo.conninfo_to_dict(url)["dbname"]))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_list_filter_is_an_index_plan_under_rls(seeded: dict[str, Any], case: str) -> None:
    # given two tenants of tens of thousands of rows, and a member of the first
    sql, params = list_cases(seeded)[case]
    # when the list's statement, and those it runs inside functions, are explained under RLS with the member's claims
    plans = explain_as_member(seeded["url"], seeded["user"], sql, params)
    # then no node scans a table sequentially past the threshold, and none filters away more than 1,000 rows
    for node in (node for plan in plans for node in plan_nodes(plan)):
        loops = node.get("Actual Loops", 1)
        examined = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
        assert not (node["Node Type"] == "Seq Scan" and examined > MAX_FILTERED), (case, node)
        assert node.get("Rows Removed by Filter", 0) * loops <= MAX_FILTERED, (case, node)
        assert node.get("Rows Removed by Index Recheck", 0) * loops <= MAX_FILTERED, (case, node)
