"""Experiment use cases: start, read results, stop and promote; one transaction under the caller's claims."""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.auth import Principal
from shared.db import Session, user_session
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.experiments import results
from shared.experiments.models import (
    CreateExperiment,
    Experiment,
    ExperimentList,
    ExperimentResults,
    StopExperiment,
)
from shared.observability.context import bind_organization

_AGENT = """
    select a.organization_id, a.organization_id in (select app.my_org_ids_with_role('editor')) as can_write,
           array(select v.version from public.agent_versions v where v.agent_id = a.id) as versions
    from public.agents a where a.id = %s
"""
_CREATE = "select public.create_experiment(%s, %s, %s, %s::jsonb, %s) as e"
_STOP = "select public.stop_experiment(%s, %s) as e"
_WITH_VARIANTS = """
    select e.*, coalesce((select jsonb_agg(jsonb_build_object('id', v.id, 'version', v.version, 'weight', v.weight)
                                           order by v.position)
                          from public.experiment_variants v where v.experiment_id = e.id), '[]') as variants
    from public.experiments e
"""
_EXPERIMENT = _WITH_VARIANTS + "where e.id = %s"
_LIST = _WITH_VARIANTS + "where e.agent_id = %s order by e.started_at desc, e.id desc limit 100"
# Per variant, over its leads (the unit of assignment): how many qualified or converted, and the sums
# of each lead's LLM cost (x) and conversions (y) the delta method needs; kept on the variant row by the
# refreshAnalytics cron from analytics_experiment_leads (app.refresh_experiment_variant_sums).
_SUMS = """
    select v.id as variant_id, v.version, v.weight::float8 as weight, v.rollup_leads as leads,
           v.rollup_conversations as conversations, v.rollup_qualified as qualified,
           v.rollup_converted as converted, v.rollup_sx as sx, v.rollup_sy as sy, v.rollup_sxx as sxx,
           v.rollup_syy as syy, v.rollup_sxy as sxy
    from public.experiment_variants v
    where v.experiment_id = %(id)s
    order by v.position
"""


async def create_experiment(principal: Principal, agent_id: uuid.UUID, body: CreateExperiment) -> Experiment:
    """Start an experiment on the agent; new conversations are assigned from now on. Editors and above."""
    async with user_session(principal.claims) as db:
        agent = await db.one(_AGENT, (agent_id,))
        if agent is None:
            raise NotFound("agent not found")
        bind_organization(agent["organization_id"])
        if not agent["can_write"]:
            raise Forbidden("only owners, admins and editors start experiments")
        for index, variant in enumerate(body.variants):
            if variant.version not in agent["versions"]:
                raise InvalidInput.for_field(f"body.variants[{index}].version", "no such version of this agent")
        if await db.one(
            "select 1 from public.experiments e where e.agent_id = %s and e.status = 'running'", (agent_id,)
        ):
            raise Conflict("the agent already runs an experiment; stop it first")
        spec = json.dumps([v.model_dump() for v in body.variants])
        row = await db.one(_CREATE, (agent_id, body.name, body.primary_metric, spec, body.control_version))
        assert row is not None
        return await _experiment(db, uuid.UUID(row["e"]["id"]))


async def list_experiments(principal: Principal, agent_id: uuid.UUID) -> ExperimentList:
    """The agent's experiments, newest first (the latest 100); members of its organization."""
    async with user_session(principal.claims) as db:
        if await db.one("select 1 from public.agents a where a.id = %s", (agent_id,)) is None:
            raise NotFound("agent not found")
        rows = await db.all(_LIST, (agent_id,))
    return ExperimentList(data=[Experiment.model_validate(r) for r in rows])


async def experiment_results(principal: Principal, experiment_id: uuid.UUID) -> ExperimentResults:
    """Per-variant samples, metrics with 95% intervals, differences to the control and the SRM check."""
    async with user_session(principal.claims) as db:
        experiment = await _experiment(db, experiment_id)
        rows = await db.all(_SUMS, {"id": experiment_id})
    return results.build(experiment, [_sums(r) for r in rows])


async def stop_experiment(principal: Principal, experiment_id: uuid.UUID, body: StopExperiment) -> Experiment:
    """Stop assigning; with ``promote_version``, that variant's configuration becomes the agent's current one."""
    async with user_session(principal.claims) as db:
        experiment = await _experiment(db, experiment_id)
        if body.promote_version is not None and body.promote_version not in {v.version for v in experiment.variants}:
            raise InvalidInput.for_field("body.promote_version", "is not a version of this experiment's variants")
        await db.one(_STOP, (experiment_id, body.promote_version))
        return await _experiment(db, experiment_id)


async def _experiment(db: Session, experiment_id: uuid.UUID) -> Experiment:
    row = await db.one(_EXPERIMENT, (experiment_id,))
    if row is None:
        raise NotFound("experiment not found")
    bind_organization(row["organization_id"])
    return Experiment.model_validate(row)


def _sums(row: dict[str, Any]) -> results.VariantSums:
    return results.VariantSums(
        variant_id=row["variant_id"],
        version=row["version"],
        weight=row["weight"],
        leads=row["leads"],
        conversations=row["conversations"],
        qualified=row["qualified"],
        converted=row["converted"],
        cost=results.RatioSums(row["sx"], row["sy"], row["sxx"], row["syy"], row["sxy"]),
    )
