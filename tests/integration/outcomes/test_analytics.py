"""Analytics reports through the real handlers: totals equal independent sums over the raw tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from bench.datasets.outcomes import Org
from tests.integration.outcomes.conftest import RANGE, Member, scalar
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration

# Conversations of the organization that started in the report's range (the cohort every report counts).
_IN_RANGE = (
    "select c.id from public.conversations c where c.organization_id = %(org)s"
    " and c.created_at >= '2026-08-01T00:00:00Z' and c.created_at < '2026-11-01T00:00:00Z'"
)


def _report(api: LambdaApi, member: Member, org: Org, name: str, query: str = "") -> dict[str, Any]:
    response = api.call("GET", f"/organizations/{org.id}/analytics/{name}?{RANGE}{query}", token=member.token)
    assert response.status == 200, response.body
    return dict(response.json())


def test_cost_totals_equal_the_ledger(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer of the first organization
    org = seeded[0]
    viewer = member_of(org.id, "viewer")
    # when the cost report is read
    totals = _report(api, viewer, org, "cost")["totals"]
    # then spend, tokens, calls and fallbacks are the llm_usage sums of its conversations in range
    ledger = (
        "select coalesce(sum(u.cost_usd), 0), sum(u.tokens_in), sum(u.tokens_out), count(*),"
        " count(*) filter (where u.fallback_used) from public.llm_usage u where u.conversation_id in ("
        + _IN_RANGE
        + ")"
    )
    with psycopg.connect(database_url) as conn:
        cost, tin, tout, calls, fallbacks = conn.execute(ledger, {"org": org.id}).fetchone()
    assert totals["llm_cost_usd"] == float(cost)
    assert (totals["tokens_in"], totals["tokens_out"], totals["llm_calls"]) == (tin, tout, calls)
    assert totals["llm_fallback_calls"] == fallbacks
    assert totals["conversations"] == scalar(
        database_url, "select count(*) from (" + _IN_RANGE + ") c", {"org": org.id}
    )


def test_outcome_totals_equal_the_conversions_table(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer
    org = seeded[0]
    viewer = member_of(org.id, "viewer")
    # when the outcomes report is read
    totals = _report(api, viewer, org, "outcomes")["totals"]
    # then conversions and their value are the conversions rows of its conversations in range
    count = scalar(
        database_url,
        "select count(*) from public.conversions v where v.conversation_id in (" + _IN_RANGE + ")",
        {"org": org.id},
    )
    value = scalar(
        database_url,
        "select coalesce(sum(v.value), 0) from public.conversions v where v.conversation_id in (" + _IN_RANGE + ")",
        {"org": org.id},
    )
    assert count > 0
    assert (totals["conversions"], totals["conversion_value"]) == (count, float(value))
    handoffs = scalar(
        database_url,
        "select count(distinct e.conversation_id) from public.lead_events e where e.type = 'handoff.requested'"
        " and e.conversation_id in (" + _IN_RANGE + ")",
        {"org": org.id},
    )
    assert totals["handoffs"] == handoffs


def test_funnel_counts_leads_by_stage_reached(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer
    org = seeded[0]
    viewer = member_of(org.id, "viewer")
    # when the funnel is read
    totals = _report(api, viewer, org, "funnel")["totals"]
    # then leads and qualified leads are the distinct leads of its conversations and of their qualify events
    leads = scalar(
        database_url,
        "select count(distinct c.lead_id) from public.conversations c where c.id in (" + _IN_RANGE + ")",
        {"org": org.id},
    )
    qualified = scalar(
        database_url,
        "select count(distinct e.lead_id) from public.lead_events e where e.type = 'lead.qualified'"
        " and e.conversation_id in (" + _IN_RANGE + ")",
        {"org": org.id},
    )
    assert (totals["leads"], totals["qualified"]) == (leads, qualified)
    assert totals["median_seconds_to_qualify"] is not None
    assert totals["median_seconds_to_qualify"] > 0
    assert totals["conversion_rate"] == pytest.approx(totals["converted"] / leads)


def test_quality_counts_turns_from_the_messages(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer / when the quality report is read
    org = seeded[0]
    totals = _report(api, member_of(org.id, "viewer"), org, "quality")["totals"]
    # then turns are the assistant messages of its conversations in range
    turns = scalar(
        database_url,
        "select count(*) from public.messages m where m.role = 'assistant' and m.conversation_id in ("
        + _IN_RANGE
        + ")",
        {"org": org.id},
    )
    assert totals["turns"] == turns
    assert totals["turns_per_conversation"] == pytest.approx(turns / totals["conversations"])


@pytest.mark.parametrize("group_by", ["agent", "agent_version", "channel", "experiment_variant", "week", "agent,day"])
def test_groups_add_up_to_the_totals(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], group_by: str
) -> None:
    # given a viewer / when the cost report is grouped
    org = seeded[0]
    report = _report(api, member_of(org.id, "viewer"), org, "cost", f"&group_by={group_by}")
    # then the filters are echoed and the groups' additive numbers sum to the totals
    assert report["filters"]["group_by"] == group_by.split(",")
    assert report["filters"]["from"].startswith("2026-08-01")
    groups = report["groups"]
    assert len(groups) >= 2
    assert all(g["key"] for g in groups)
    for metric in ("conversations", "llm_calls", "tokens_in"):
        assert sum(g["metrics"][metric] for g in groups) == report["totals"][metric]
    assert sum(g["metrics"]["llm_cost_usd"] for g in groups) == pytest.approx(report["totals"]["llm_cost_usd"])


def test_filters_narrow_the_cohort(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer / when the funnel is read for agent A's experiment only
    org = seeded[0]
    report = _report(api, member_of(org.id, "viewer"), org, "funnel", f"&experiment_id={org.experiment}")
    # then it counts only the conversations assigned a variant of that experiment
    assigned = scalar(
        database_url,
        "select count(*) from public.conversations c"
        " join public.experiment_variants v on v.id = c.experiment_variant_id where v.experiment_id = %(e)s",
        {"e": org.experiment},
    )
    assert report["totals"]["conversations"] == assigned
    assert report["filters"]["experiment_id"] == str(org.experiment)


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("agent_id={agent_a}", "c.agent_id = %(agent_a)s"),
        ("agent_id={agent_a}&agent_version=1", "c.agent_id = %(agent_a)s and c.agent_version = 1"),
        ("channel=whatsapp", "c.channel = 'whatsapp'"),
        ("channel=web&agent_id={agent_b}", "c.channel = 'web' and c.agent_id = %(agent_b)s"),
    ],
)
def test_each_filter_narrows_the_cohort_to_the_conversations_it_names(
    api: LambdaApi,
    seeded: list[Org],
    member_of: Callable[[Any, str], Member],
    database_url: str,
    query: str,
    where: str,
) -> None:
    # given a viewer / when the cost report is read with filters (only those set are in its statement)
    org = seeded[0]
    ids = {"org": org.id, "agent_a": org.agent_a, "agent_b": org.agent_b}
    report = _report(api, member_of(org.id, "viewer"), org, "cost", "&" + query.format(**ids))
    # then it counts exactly the conversations of the range that match them all
    count = scalar(database_url, "select count(*) from (" + _IN_RANGE + " and " + where + ") c", ids)
    assert count > 0
    assert report["totals"]["conversations"] == count


def test_another_tenant_is_never_counted(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member]
) -> None:
    # given a viewer of the first organization only
    mine, theirs = seeded[0], seeded[1]
    viewer = member_of(mine.id, "viewer")
    # when they ask for the other organization's report / then it does not exist for them
    response = api.call("GET", f"/organizations/{theirs.id}/analytics/cost?{RANGE}", token=viewer.token)
    assert response.status == 404
    # and filtering their own report by the other organization's experiment counts nothing
    report = _report(api, viewer, mine, "cost", f"&experiment_id={theirs.experiment}")
    assert report["totals"]["conversations"] == 0
    assert report["totals"]["llm_cost_usd"] is None


def test_a_member_of_two_organizations_sees_each_alone(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given one user in two organizations
    first, second = seeded[1], seeded[2]
    user = member_of(first.id, "viewer")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'viewer')",
            (second.id, user.user_id),
        )
    # when each organization's report is read
    a = _report(api, user, first, "outcomes")["totals"]
    b = _report(api, user, second, "outcomes")["totals"]
    # then each equals that organization's own conversions
    for org, totals in ((first, a), (second, b)):
        count = scalar(
            database_url,
            "select count(*) from public.conversions v where v.conversation_id in (" + _IN_RANGE + ")",
            {"org": org.id},
        )
        assert totals["conversions"] == count


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=planet", "query.group_by"),
        ("group_by=day,week", "query.group_by"),
        ("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "query.from"),
        ("from=2026-11-01T00:00:00", "query.from"),
        ("channel=fax", "query.channel"),
    ],
)
def test_bad_filters_are_a_422_naming_the_field(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], query: str, field: str
) -> None:
    # given a viewer / when a report is asked with a bad filter
    org = seeded[0]
    response = api.call(
        "GET", f"/organizations/{org.id}/analytics/funnel?{query}", token=member_of(org.id, "viewer").token
    )
    # then the problem names the field
    assert response.status == 422, response.body
    assert field in [e["field"] for e in response.json()["errors"]]


def test_grouped_funnel_counts_each_groups_leads_from_the_raw_tables(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer / when the funnel is grouped by agent version and week
    org = seeded[0]
    report = _report(api, member_of(org.id, "viewer"), org, "funnel", "&group_by=agent_version,week")
    # then each group's leads and qualified leads are the distinct leads of its conversations, from the raw tables
    raw = (
        "select c.agent_id::text, c.agent_version, date_trunc('week', c.created_at at time zone 'UTC')::date::text,"
        " count(distinct c.lead_id),"
        " count(distinct c.lead_id) filter (where exists (select 1 from public.lead_events e"
        "   where e.conversation_id = c.id and e.type = 'lead.qualified'))"
        " from public.conversations c where c.id in (" + _IN_RANGE + ") group by 1, 2, 3"
    )
    with psycopg.connect(database_url) as conn:
        expected = {(r[0], r[1], r[2]): (r[3], r[4]) for r in conn.execute(raw, {"org": org.id}).fetchall()}
    got = {
        (g["key"]["agent_id"], g["key"]["agent_version"], g["key"]["week"]): (
            g["metrics"]["leads"],
            g["metrics"]["qualified"],
        )
        for g in report["groups"]
    }
    assert got == expected
    # and a lead with conversations in two groups counts in each, but once in the totals
    assert sum(v[0] for v in got.values()) >= report["totals"]["leads"]
    assert report["totals"]["leads"] == scalar(
        database_url,
        "select count(distinct c.lead_id) from public.conversations c where c.id in (" + _IN_RANGE + ")",
        {"org": org.id},
    )


def test_cost_by_experiment_variant_keys_each_variant_with_its_experiment_and_version(
    api: LambdaApi, seeded: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a viewer / when cost is grouped by experiment variant and channel
    org = seeded[0]
    report = _report(api, member_of(org.id, "viewer"), org, "cost", "&group_by=experiment_variant,channel")
    # then each assigned group names its variant's experiment and version, and its spend is the ledger's
    assigned = [g for g in report["groups"] if g["key"]["experiment_variant_id"] is not None]
    assert {g["key"]["experiment_id"] for g in assigned} == {str(org.experiment)}
    assert {g["key"]["variant_version"] for g in assigned} == {1, 2}
    for g in assigned:
        spend = scalar(
            database_url,
            "select coalesce(sum(u.cost_usd), 0) from public.llm_usage u join public.conversations c"
            " on c.id = u.conversation_id where c.id in (" + _IN_RANGE + ")"
            " and c.experiment_variant_id = %(v)s and c.channel::text = %(ch)s",
            {"org": org.id, "v": g["key"]["experiment_variant_id"], "ch": g["key"]["channel"]},
        )
        assert g["metrics"]["llm_cost_usd"] == pytest.approx(float(spend))


@pytest.fixture(scope="module")
def knowledge_misses(seeded: list[Org], database_url: str) -> list[Org]:
    """The first two organizations get a knowledge source and unanswered questions (every 3rd and 5th
    lead message), the third none; the rollup is refreshed from the raw tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for org, every in ((seeded[0], 3), (seeded[1], 5)):
            conn.execute(
                "insert into public.knowledge_documents (organization_id, title, content) values (%s, 'FAQ', 'x')",
                (org.id,),
            )
            conn.execute(
                "insert into public.knowledge_unanswered (organization_id, agent_id, conversation_id, message_id,"
                " question) select m.organization_id, c.agent_id, c.id, m.id, left(m.content || '?', 2000)"
                " from (select m.*, row_number() over (order by m.id) as n from public.messages m"
                "       where m.organization_id = %s and m.role = 'lead') m"
                " join public.conversations c on c.id = m.conversation_id where m.n %% %s = 0",
                (org.id, every),
            )
        conn.execute("select app.refresh_analytics(true)")
    return seeded


def test_quality_counts_unanswered_knowledge_questions_of_the_organization_alone(
    api: LambdaApi, knowledge_misses: list[Org], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given two organizations with unanswered questions and a member of the first
    mine, theirs = knowledge_misses[0], knowledge_misses[1]
    viewer = member_of(mine.id, "viewer")
    # when the quality report is read
    totals = _report(api, viewer, mine, "quality")["totals"]
    # then it counts exactly the organization's knowledge_unanswered rows of conversations in range
    raw = "select count(*) from public.knowledge_unanswered q where q.conversation_id in (" + _IN_RANGE + ")"
    mine_n = scalar(database_url, raw, {"org": mine.id})
    theirs_n = scalar(database_url, raw, {"org": theirs.id})
    assert mine_n > 0
    assert theirs_n > 0
    assert totals["unanswered_questions"] == mine_n
    # and never another tenant's rows
    everyone = scalar(database_url, "select count(*) from public.knowledge_unanswered", None)
    assert totals["unanswered_questions"] < everyone
    assert _report(api, member_of(theirs.id, "viewer"), theirs, "quality")["totals"]["unanswered_questions"] == theirs_n


@pytest.mark.parametrize("group_by", ["agent", "agent,day"])
def test_unanswered_questions_by_agent_add_up_to_the_total(
    api: LambdaApi,
    knowledge_misses: list[Org],
    member_of: Callable[[Any, str], Member],
    database_url: str,
    group_by: str,
) -> None:
    # given an organization with unanswered questions
    org = knowledge_misses[0]
    # when its quality report is grouped
    report = _report(api, member_of(org.id, "viewer"), org, "quality", f"&group_by={group_by}")
    # then each agent's count is its raw rows and the groups sum to the total
    groups = report["groups"]
    assert len(groups) >= 2
    assert sum(g["metrics"]["unanswered_questions"] for g in groups) == report["totals"]["unanswered_questions"]
    if group_by == "agent":
        for g in groups:
            raw = scalar(
                database_url,
                "select count(*) from public.knowledge_unanswered q where q.agent_id = %(agent)s"
                " and q.conversation_id in (" + _IN_RANGE + ")",
                {"org": org.id, "agent": g["key"]["agent_id"]},
            )
            assert g["metrics"]["unanswered_questions"] == raw


def test_unanswered_questions_are_null_without_a_knowledge_base(
    api: LambdaApi, knowledge_misses: list[Org], member_of: Callable[[Any, str], Member]
) -> None:
    # given an organization with no knowledge source
    org = knowledge_misses[2]
    # when its quality report is read, grouped or not
    report = _report(api, member_of(org.id, "viewer"), org, "quality", "&group_by=agent")
    # then the count is null (nothing to miss), not zero, in the totals and every group
    assert report["totals"]["unanswered_questions"] is None
    assert report["groups"]
    assert all(g["metrics"]["unanswered_questions"] is None for g in report["groups"])
    # and its other numbers are there
    assert report["totals"]["conversations"] > 0
