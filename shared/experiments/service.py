"""Experiment use cases: start, read results, stop and promote; one transaction under the caller's claims."""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.auth import Principal
from shared.db import Session, user_read, user_write
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
           array(select v.version from public.agent_versions v where v.agent_id = a.id) as versions,
           exists (select 1 from public.experiments e where e.agent_id = a.id and e.status = 'running') as running
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
_RUNNING = _WITH_VARIANTS + "where e.agent_id = %s and e.status = 'running'"
# One round trip: no row means the agent is not visible; one row with a null id, no experiments. The latest 100,
# newest first, in app.list_experiments (PL/pgSQL, so its plan is kept per connection).
_VISIBLE_LIST = "select (r.experiment).*, r.variants from app.list_experiments(%s) r"
# The experiment with its variants and, per variant over its leads (the unit of assignment), how many qualified
# or converted and the sums of each lead's LLM cost (x) and conversions (y) the delta method needs, kept on the
# variant row by the refreshAnalytics cron (app.refresh_experiment_variant_sums); no row: not visible. One
# statement of app.read_experiment_results (PL/pgSQL, plan kept); the sums are put in the variants' order in Python.
_WITH_SUMS = "select (r.experiment).*, r.variants, r.variant_sums from app.read_experiment_results(%(id)s) r"


async def create_experiment(principal: Principal, agent_id: uuid.UUID, body: CreateExperiment) -> Experiment:
    """Start an experiment on the agent; new conversations are assigned from now on. Editors and above."""
    # h10writes: read, decide, then write and read back in one script: two round trips.
    found = await user_read(principal.claims, _AGENT, (agent_id,))
    agent = found[0] if found else None
    if agent is None:
        raise NotFound("agent not found")
    bind_organization(agent["organization_id"])
    if not agent["can_write"]:
        raise Forbidden("only owners, admins and editors start experiments")
    for index, variant in enumerate(body.variants):
        if variant.version not in agent["versions"]:
            raise InvalidInput.for_field(f"body.variants[{index}].version", "no such version of this agent")
    if agent["running"]:
        raise Conflict("the agent already runs an experiment; stop it first")
    spec = json.dumps([v.model_dump() for v in body.variants])
    create = (_CREATE, (agent_id, body.name, body.primary_metric, spec, body.control_version))
    return _found(await user_write(principal.claims, create, (_RUNNING, (agent_id,))))


async def list_experiments(principal: Principal, agent_id: uuid.UUID) -> ExperimentList:
    """The agent's experiments, newest first (the latest 100); members of its organization."""
    rows = await user_read(principal.claims, _VISIBLE_LIST, (agent_id,))
    if not rows:
        raise NotFound("agent not found")
    return ExperimentList(data=[Experiment.model_validate(r) for r in rows if r["id"] is not None])


async def experiment_results(principal: Principal, experiment_id: uuid.UUID) -> ExperimentResults:
    """Per-variant samples, metrics with 95% intervals, differences to the control and the SRM check."""
    rows = await user_read(principal.claims, _WITH_SUMS, {"id": experiment_id})
    if not rows:
        raise NotFound("experiment not found")
    bind_organization(rows[0]["organization_id"])
    sums = [_sums(r) for r in rows[0].pop("variant_sums")]
    experiment = Experiment.model_validate(rows[0])
    order = {variant.id: position for position, variant in enumerate(experiment.variants)}
    return results.build(experiment, sorted(sums, key=lambda s: order.get(s.variant_id, len(order))))


async def stop_experiment(principal: Principal, experiment_id: uuid.UUID, body: StopExperiment) -> Experiment:
    """Stop assigning; with ``promote_version``, that variant's configuration becomes the agent's current one."""
    # h10writes: read, decide, then write and read back in one script: two round trips.
    experiment = _found(await user_read(principal.claims, _EXPERIMENT, (experiment_id,)))
    if body.promote_version is not None and body.promote_version not in {v.version for v in experiment.variants}:
        raise InvalidInput.for_field("body.promote_version", "is not a version of this experiment's variants")
    stop = (_STOP, (experiment_id, body.promote_version))
    return _found(await user_write(principal.claims, stop, (_EXPERIMENT, (experiment_id,))))


async def _experiment(db: Session, experiment_id: uuid.UUID) -> Experiment:
    return _found([row] if (row := await db.one(_EXPERIMENT, (experiment_id,))) else [])


def _found(rows: list[dict[str, Any]]) -> Experiment:
    if not rows:
        raise NotFound("experiment not found")
    bind_organization(rows[0]["organization_id"])
    return Experiment.model_validate(rows[0])


def _sums(row: dict[str, Any]) -> results.VariantSums:
    return results.VariantSums(
        variant_id=uuid.UUID(str(row["variant_id"])),
        version=row["version"],
        weight=row["weight"],
        leads=row["leads"],
        conversations=row["conversations"],
        qualified=row["qualified"],
        converted=row["converted"],
        cost=results.RatioSums(row["sx"], row["sy"], row["sxx"], row["syy"], row["sxy"]),
    )
