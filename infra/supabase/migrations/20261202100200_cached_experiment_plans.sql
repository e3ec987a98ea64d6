-- The experiment reads as PL/pgSQL functions, so their plans are kept per backend
-- (see 20261202100000_cached_read_plans.sql for why, and why this is safe behind a transaction-mode pooler).
-- Both look rows up by id, so the kept plan is the one every id gets. Each runs as its caller: RLS decides.

-- The experiment with its variants (id, version, weight; in their order) and their rollup sums (getExperimentResults).
create function app.read_experiment_results(p_id uuid)
returns table (experiment public.experiments, variants jsonb, variant_sums jsonb)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select e,
           coalesce((select jsonb_agg(jsonb_build_object('id', v.id, 'version', v.version, 'weight', v.weight)
                                      order by v.position)
                     from public.experiment_variants v where v.experiment_id = e.id), '[]'),
           (select coalesce(jsonb_agg(to_jsonb(s)), '[]'::jsonb) from (
                select v.id as variant_id, v.version, v.weight::float8 as weight, v.rollup_leads as leads,
                       v.rollup_conversations as conversations, v.rollup_qualified as qualified,
                       v.rollup_converted as converted, v.rollup_sx as sx, v.rollup_sy as sy, v.rollup_sxx as sxx,
                       v.rollup_syy as syy, v.rollup_sxy as sxy
                from public.experiment_variants v
                where v.experiment_id = e.id
                order by v.position
            ) s)
    from public.experiments e
    where e.id = p_id;
end
$$;

-- The agent's latest 100 experiments, newest first, with their variants (listExperiments). No row: the agent
-- is not visible; one row with a null experiment: it has none.
create function app.list_experiments(p_agent_id uuid)
returns table (experiment public.experiments, variants jsonb)
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select x.experiment, x.variants
    from public.agents a
    left join lateral (
        select e as experiment, e.started_at, e.id,
               coalesce((select jsonb_agg(jsonb_build_object('id', v.id, 'version', v.version, 'weight', v.weight)
                                          order by v.position)
                         from public.experiment_variants v where v.experiment_id = e.id), '[]') as variants
        from public.experiments e
        where e.agent_id = a.id
        order by e.started_at desc, e.id desc
        limit 100
    ) x on true
    where a.id = p_agent_id
    order by x.started_at desc, x.id desc;
end
$$;

revoke all on function app.read_experiment_results(uuid), app.list_experiments(uuid) from public;
grant execute on function app.read_experiment_results(uuid), app.list_experiments(uuid) to authenticated, service_role;
