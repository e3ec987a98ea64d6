"""Dead reservations: a reservation expires (and the sweep releases it) within twice the worker's timeout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from local_runtime.gateway.routes import load_serverless

pytestmark = pytest.mark.integration


def test_a_reservation_expires_within_twice_the_worker_timeout(db: psycopg.Connection[Any]) -> None:
    # given the turn worker's timeout in serverless.yml
    timeout = timedelta(seconds=int(load_serverless()["functions"]["turnWorker"]["timeout"]))
    # when a reservation is made the way app.reserve_budget makes it (the column's default TTL)
    org = db.execute(
        "insert into public.organizations (name, slug) values ('TTL', 'ttl-' || md5(random()::text)) returning id"
    ).fetchone()
    assert org is not None
    row = db.execute(
        "insert into public.budget_reservations (organization_id, alias, amount_usd)"
        " values (%s, 'fast', 0.01) returning expires_at - created_at",
        (org[0],),
    ).fetchone()
    assert row is not None
    # then it expires after the worker would have finished, and no later than twice its timeout
    assert timeout < row[0] <= 2 * timeout
