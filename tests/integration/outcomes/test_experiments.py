"""Experiments through the real handlers: start, sticky assignment, results, CRM credit, stop and promote."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from bench.datasets.outcomes import Org
from shared.experiments import stats
from tests.integration.outcomes.conftest import Member
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


@pytest.fixture
def agent(database_url: str) -> dict[str, Any]:
    """An organization with an agent at version 2 (versions 1 and 2 differ in persona)."""
    org, agent_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.organizations (id, name, slug) values (%s, 'Exp', %s)", (org, f"exp-{org.hex[:12]}")
        )
        conn.execute(
            "insert into public.agents (id, organization_id, name, current_version) values (%s, %s, 'Sofia', 2)",
            (agent_id, org),
        )
        for version, persona in ((1, "Sofia"), (2, "Sofia, mais direta")):
            conn.execute(
                "insert into public.agent_versions (organization_id, agent_id, version, config)"
                " values (%s, %s, %s, %s)",
                (org, agent_id, version, json.dumps({"persona": persona, "model": "fast"})),
            )
    return {"org": org, "agent": agent_id}


def _start(api: LambdaApi, member: Member, agent: dict[str, Any], **body: Any) -> Any:
    spec = {"name": "v1 vs v2", "variants": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}], **body}
    return api.call("POST", f"/agents/{agent['agent']}/experiments", token=member.token, body=spec)


def _conversation(api: LambdaApi, member: Member, agent: dict[str, Any], email: str) -> dict[str, Any]:
    response = api.call(
        "POST",
        f"/organizations/{agent['org']}/conversations",
        token=member.token,
        body={"agent_id": str(agent["agent"]), "lead": {"email": email}},
    )
    assert response.status == 201, response.body
    return dict(response.json())


def test_a_lead_keeps_its_variant_and_version_on_every_conversation(
    api: LambdaApi, agent: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a running experiment between versions 1 and 2
    editor = member_of(agent["org"], "editor")
    started = _start(api, editor, agent)
    assert started.status == 201, started.body
    # when the same lead starts two conversations, and 40 other leads one each
    first = _conversation(api, editor, agent, "ana@example.com")
    second = _conversation(api, editor, agent, "ana@example.com")
    others = [_conversation(api, editor, agent, f"lead{i}@example.com") for i in range(40)]
    # then both of the lead's conversations have the same variant and are pinned to its version
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select c.id, c.experiment_variant_id, c.agent_version, v.version from public.conversations c"
            " join public.experiment_variants v on v.id = c.experiment_variant_id where c.id = any(%s)",
            ([uuid.UUID(c["id"]) for c in (first, second, *others)],),
        ).fetchall()
    by_id = {str(r[0]): r for r in rows}
    assert by_id[first["id"]][1:] == by_id[second["id"]][1:]
    assert all(r[2] == r[3] for r in rows)
    # and both versions receive traffic
    assert {r[2] for r in rows} == {1, 2}
    assert first["agent_version"] == by_id[first["id"]][2]


def test_results_report_each_variant_with_intervals_and_the_crm_win_goes_to_the_qualifying_variant(
    api: LambdaApi, agent: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given an experiment with 30 leads, one of them qualified in its conversation
    editor, viewer = member_of(agent["org"], "editor"), member_of(agent["org"], "viewer")
    experiment = _start(api, editor, agent).json()
    conversations = [_conversation(api, editor, agent, f"r{i}@example.com") for i in range(30)]
    winner = conversations[0]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage)"
            " values (%s, %s, %s, 'lead.qualified', 'engaged', 'qualified')",
            (agent["org"], winner["lead"]["id"], winner["id"]),
        )
        integration = conn.execute(
            "insert into public.integrations (organization_id, kind, name) values (%s, 'hubspot', 'HubSpot')"
            " returning id",
            (agent["org"],),
        ).fetchone()
        assert integration is not None
        # when the CRM reports the lead's deal won, and the rollup is refreshed
        conn.execute(
            "select app.record_crm_outcome(%s, 'won', 'deal-1', 'r0@example.com', 'deal-1', 5000, 'BRL', now())",
            (integration[0],),
        )
        conn.execute("select app.refresh_analytics()")
    response = api.call("GET", f"/experiments/{experiment['id']}/results", token=viewer.token)
    # then every variant reports its sample, metrics and interval, and the win is credited to the qualifying variant
    assert response.status == 200, response.body
    results = response.json()
    variants = {v["version"]: v for v in results["variants"]}
    assert sum(v["leads"] for v in variants.values()) == 30
    credited = variants[winner["agent_version"]]
    assert (credited["converted_leads"], credited["conversions"]) == (1, 1)
    assert credited["metrics"]["conversion_rate"]["estimate"] == pytest.approx(1 / credited["leads"])
    control = next(v for v in results["variants"] if v["is_control"])
    assert control["version"] == 1
    assert control["difference_to_control"] is None
    other = variants[2]["difference_to_control"]["conversion_rate"]
    expected = stats.newcombe_difference(
        variants[2]["converted_leads"], variants[2]["leads"], variants[1]["converted_leads"], variants[1]["leads"]
    )
    assert expected is not None
    assert (other["low"], other["high"]) == pytest.approx((expected.low, expected.high))
    assert results["sample_ratio"]["degrees_of_freedom"] == 1


def test_stopping_promotes_the_winning_version_through_the_versioning_rpc(
    api: LambdaApi, agent: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a running experiment whose control (version 1) is not the agent's current version
    editor = member_of(agent["org"], "editor")
    experiment = _start(api, editor, agent).json()
    # when an editor stops it promoting version 1
    response = api.call(
        "POST", f"/experiments/{experiment['id']}/stop", token=editor.token, body={"promote_version": 1}
    )
    # then the experiment is stopped and the agent runs version 1's configuration as a new version
    assert response.status == 200, response.body
    stopped = response.json()
    assert (stopped["status"], stopped["winner_version"], stopped["promoted_version"]) == ("stopped", 1, 3)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select a.current_version, v.config ->> 'persona' from public.agents a"
            " join public.agent_versions v on v.agent_id = a.id and v.version = a.current_version where a.id = %s",
            (agent["agent"],),
        ).fetchone()
    assert row == (3, "Sofia")
    # and the agent's list shows it stopped
    listed = api.call("GET", f"/agents/{agent['agent']}/experiments", token=editor.token).json()["data"]
    assert [(e["id"], e["status"]) for e in listed] == [(experiment["id"], "stopped")]
    # and new conversations are no longer assigned
    conversation = _conversation(api, editor, agent, "after@example.com")
    assert conversation["agent_version"] == 3


def test_who_may_do_what(
    api: LambdaApi, agent: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer, an editor, and the owner of another organization
    viewer, editor = member_of(agent["org"], "viewer"), member_of(agent["org"], "editor")
    other = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, 'B', %s)", (other, other.hex))
    outsider = member_of(other, "owner")
    # when each tries / then a viewer may not start one, and a second running one conflicts
    assert _start(api, viewer, agent).status == 403
    experiment = _start(api, editor, agent)
    assert experiment.status == 201
    assert _start(api, editor, agent).status == 409
    path = f"/experiments/{experiment.json()['id']}"
    # and the viewer reads results but may not stop it; the outsider finds neither
    assert api.call("GET", f"{path}/results", token=viewer.token).status == 200
    assert api.call("POST", f"{path}/stop", token=viewer.token, body={}).status == 403
    assert api.call("GET", f"{path}/results", token=outsider.token).status == 404
    assert api.call("POST", f"{path}/stop", token=outsider.token, body={}).status == 404
    assert _start(api, outsider, agent).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"variants": [{"version": 1, "weight": 1}, {"version": 9, "weight": 1}]}, "body.variants[1].version"),
        ({"variants": [{"version": 1, "weight": 1}]}, "body.variants"),
        ({"variants": [{"version": 1, "weight": 0}, {"version": 2, "weight": 1}]}, "body.variants.0.weight"),
        ({"primary_metric": "vibes"}, "body.primary_metric"),
    ],
)
def test_bad_experiments_are_a_422_naming_the_field(
    api: LambdaApi, agent: dict[str, Any], member_of: Callable[[Any, str], Member], body: dict[str, Any], field: str
) -> None:
    # given an editor / when an invalid experiment is started
    response = _start(api, member_of(agent["org"], "editor"), agent, **body)
    # then the problem names the field
    assert response.status == 422, response.body
    assert field in [e["field"] for e in response.json()["errors"]]


def test_results_of_the_seeded_experiment_equal_the_raw_tables(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given the seeded experiment, refreshed (its variants' sums kept on the variant rows)
    org = seeded[0]
    # when a viewer reads its results
    response = api.call("GET", f"/experiments/{org.experiment}/results", token=member_of(org.id, "viewer").token)
    # then each variant's leads, conversations, converted leads and spend are the raw tables' own
    assert response.status == 200, response.body
    raw = (
        "select v.version, count(distinct c.lead_id), count(*),"
        " count(distinct c.lead_id) filter (where exists (select 1 from public.conversions x"
        "   where x.conversation_id = c.id)),"
        " (select coalesce(sum(u.cost_usd), 0) from public.llm_usage u join public.conversations c2"
        "   on c2.id = u.conversation_id where c2.experiment_variant_id = v.id)"
        " from public.experiment_variants v join public.conversations c on c.experiment_variant_id = v.id"
        " where v.experiment_id = %s group by v.id, v.version"
    )
    with psycopg.connect(database_url) as conn:
        expected = {r[0]: (r[1], r[2], r[3], float(r[4])) for r in conn.execute(raw, (org.experiment,)).fetchall()}
    got = {
        v["version"]: (v["leads"], v["conversations"], v["converted_leads"], v["llm_cost_usd"])
        for v in response.json()["variants"]
    }
    assert got.keys() == expected.keys() == {1, 2}
    for version, (leads, conversations, converted, cost) in expected.items():
        assert got[version][:3] == (leads, conversations, converted)
        assert got[version][3] == pytest.approx(cost)
