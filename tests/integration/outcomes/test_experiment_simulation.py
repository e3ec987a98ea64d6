"""Simulation over 20,000 leads: the assignment in Postgres is sticky, splits by weight, and finds a real effect."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import psycopg
import pytest

from shared.experiments import results, stats

pytestmark = pytest.mark.integration
LEADS = 20_000
TRUE_RATES = {1: 0.10, 2: 0.13}


@pytest.fixture
def experiment(db: psycopg.Connection[Any]) -> dict[str, Any]:
    """An agent with versions 1 and 2 and a 50/50 experiment, made in the test's rolled-back transaction."""
    org, agent = uuid.uuid4(), uuid.uuid4()
    db.execute("insert into public.organizations (id, name, slug) values (%s, 'Sim', %s)", (org, org.hex))
    db.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'Sim')", (agent, org))
    for version in (1, 2):
        db.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, %s, '{}')",
            (org, agent, version),
        )
    variants = json.dumps([{"version": 1, "weight": 1}, {"version": 2, "weight": 1}])
    row = db.execute("select public.create_experiment(%s, 'sim', 'conversion_rate', %s)", (agent, variants)).fetchone()
    assert row is not None
    return {"agent": agent, "id": row[0]["id"]}


def _assign(db: psycopg.Connection[Any], agent: uuid.UUID, leads: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = db.execute(
        "select l, v.version from unnest(%s::uuid[]) l cross join lateral app.experiment_variant_for(%s, l) v",
        (leads, agent),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def test_twenty_thousand_leads_are_sticky_split_by_weight_and_the_effect_is_found(
    db: psycopg.Connection[Any], experiment: dict[str, Any]
) -> None:
    # given 20,000 leads
    rng = random.Random(13)
    leads = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(LEADS)]
    # when each is assigned twice (a second conversation) by the function the conversation trigger uses
    first = _assign(db, experiment["agent"], leads)
    again = _assign(db, experiment["agent"], list(reversed(leads)))
    # then every lead keeps its variant
    assert len(first) == LEADS
    assert first == again
    # and the split passes the sample-ratio-mismatch check
    counts = [sum(1 for v in first.values() if v == version) for version in (1, 2)]
    srm = stats.sample_ratio_check(counts, [1, 1])
    assert not srm.mismatch, (counts, srm)
    # and with true conversion rates of 10% and 13%, the difference's interval excludes zero and covers 3 points
    sums = []
    for version in (1, 2):
        n = counts[version - 1]
        converted = sum(rng.random() < TRUE_RATES[version] for _ in range(n))
        sums.append(
            results.VariantSums(
                uuid.uuid4(),
                version,
                1.0,
                n,
                n,
                converted,
                converted,
                results.RatioSums(0.0, float(converted), 0.0, float(converted), 0.0),
            )
        )
    difference = results.differences(sums[1], sums[0])["conversion_rate"]
    assert difference is not None
    assert 0 < difference.low <= 0.03 <= difference.high
    print(f"split {counts}, SRM p = {srm.p_value:.3f}, difference {difference}")
