-- Experiments between agent versions. An experiment names two or more versions of one agent with
-- traffic weights; while it runs, every new conversation of that agent is assigned a variant by a
-- deterministic hash of (experiment id, lead id), so a lead keeps its variant on every conversation,
-- and the conversation is pinned to the variant's version. Created and stopped only through the
-- security-definer functions below (editors and above); members read.

create table public.experiments (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid not null,
    name text not null constraint experiments_name_check check (length(btrim(name)) between 1 and 120),
    primary_metric text not null constraint experiments_primary_metric_check
        check (primary_metric in ('conversion_rate', 'qualified_rate', 'cost_per_conversion')),
    status text not null default 'running' constraint experiments_status_check check (status in ('running', 'stopped')),
    control_version integer not null,
    winner_version integer,
    promoted_version integer,
    created_by uuid references auth.users (id) on delete set null,
    started_at timestamptz not null default now(),
    stopped_at timestamptz,
    stopped_by uuid references auth.users (id) on delete set null,
    constraint experiments_id_organization_key unique (id, organization_id),
    constraint experiments_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade,
    constraint experiments_control_version_fkey foreign key (agent_id, control_version, organization_id)
        references public.agent_versions (agent_id, version, organization_id) on delete cascade
);
create index experiments_organization_id_idx on public.experiments (organization_id, started_at desc);
create index experiments_created_by_idx on public.experiments (created_by);
create index experiments_stopped_by_idx on public.experiments (stopped_by);
-- One running experiment per agent: a conversation's assignment must be unambiguous.
create unique index experiments_agent_running_key on public.experiments (agent_id) where status = 'running';
comment on table public.experiments is 'A/B test between versions of one agent (public.create_experiment / public.stop_experiment).';

create table public.experiment_variants (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    experiment_id uuid not null,
    agent_id uuid not null,
    version integer not null,
    weight numeric(9, 4) not null constraint experiment_variants_weight_check check (weight > 0),
    position smallint not null constraint experiment_variants_position_check check (position >= 0),
    constraint experiment_variants_id_organization_key unique (id, organization_id),
    constraint experiment_variants_experiment_version_key unique (experiment_id, version),
    constraint experiment_variants_experiment_fkey foreign key (experiment_id, organization_id)
        references public.experiments (id, organization_id) on delete cascade,
    constraint experiment_variants_version_fkey foreign key (agent_id, version, organization_id)
        references public.agent_versions (agent_id, version, organization_id) on delete cascade
);
create index experiment_variants_organization_id_idx on public.experiment_variants (organization_id);
comment on table public.experiment_variants is 'The versions an experiment splits traffic between; fixed once it starts.';

alter table public.conversations add column experiment_variant_id uuid;
alter table public.conversations add constraint conversations_experiment_variant_fkey
    foreign key (experiment_variant_id, organization_id)
    references public.experiment_variants (id, organization_id) on delete set null (experiment_variant_id);
create index conversations_experiment_variant_id_idx on public.conversations (experiment_variant_id)
    where experiment_variant_id is not null;
comment on column public.conversations.experiment_variant_id is
    'The experiment variant this conversation was assigned (and whose version it is pinned to).';

alter table public.experiments enable row level security;
alter table public.experiment_variants enable row level security;
create policy "members read experiments" on public.experiments
    for select to authenticated using (organization_id in (select app.my_org_ids()));
create policy "members read experiment variants" on public.experiment_variants
    for select to authenticated using (organization_id in (select app.my_org_ids()));
revoke all on public.experiments, public.experiment_variants from anon, authenticated;
grant select on public.experiments, public.experiment_variants to authenticated;

-- A lead's position in [0, 1) for an experiment: the first 60 bits of md5(experiment:lead).
-- Deterministic, so the same lead lands in the same variant on every conversation.
create function app.experiment_bucket(p_experiment_id uuid, p_lead_id uuid) returns double precision
language sql immutable parallel safe set search_path = '' as $$
    select ('x' || left(md5(p_experiment_id::text || ':' || p_lead_id::text), 15))::bit(60)::bigint
        / 1152921504606846976.0::double precision
$$;

-- The variant of the agent's running experiment for a lead (none when no experiment runs): the
-- first variant, in position order, whose cumulative weight share exceeds the lead's bucket.
create function app.experiment_variant_for(p_agent_id uuid, p_lead_id uuid)
returns table (variant_id uuid, version integer)
language sql stable security definer set search_path = '' as $$
    select v.id, v.version
    from (
        select ev.id, ev.version, ev.position, e.id as experiment_id,
               sum(ev.weight) over (order by ev.position, ev.id) as upto,
               sum(ev.weight) over () as total
        from public.experiments e join public.experiment_variants ev on ev.experiment_id = e.id
        where e.agent_id = p_agent_id and e.status = 'running'
    ) v
    where app.experiment_bucket(v.experiment_id, p_lead_id) * v.total < v.upto
    order by v.position, v.id
    limit 1
$$;

-- Every path that creates a conversation (API, widget, WhatsApp) goes through this trigger: while an
-- experiment runs on the agent, the conversation records its variant and is pinned to that version.
create function app.assign_experiment_variant() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
    v_variant record;
begin
    if new.experiment_variant_id is not null then
        return new;
    end if;
    select * into v_variant from app.experiment_variant_for(new.agent_id, new.lead_id);
    if v_variant.variant_id is not null then
        new.experiment_variant_id := v_variant.variant_id;
        new.agent_version := v_variant.version;
    end if;
    return new;
end
$$;
revoke all on function app.experiment_bucket(uuid, uuid), app.experiment_variant_for(uuid, uuid),
    app.assign_experiment_variant() from public;
grant execute on function app.experiment_bucket(uuid, uuid), app.experiment_variant_for(uuid, uuid)
    to authenticated, service_role;
create trigger conversations_assign_experiment before insert on public.conversations
    for each row execute function app.assign_experiment_variant();

-- Start an experiment. p_variants: [{version, weight}] in order; p_control_version defaults to the
-- first. Editors and above (as for changing the agent).
create function public.create_experiment(
    p_agent_id uuid, p_name text, p_primary_metric text, p_variants jsonb, p_control_version integer default null
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_agent public.agents;
    v_experiment public.experiments;
begin
    select * into v_agent from public.agents a
    where a.id = p_agent_id and ((select app.is_service_path()) or a.organization_id in (select app.my_org_ids()));
    if v_agent.id is null then
        raise exception 'agent not found' using errcode = 'P0002';
    end if;
    if not (select app.is_service_path()) and v_agent.organization_id not in (select app.my_org_ids_with_role('editor')) then
        raise exception 'only owners, admins and editors start experiments' using errcode = '42501';
    end if;
    if v_agent.status = 'archived' then
        raise exception 'the agent is archived' using errcode = 'P0001';
    end if;
    insert into public.experiments (organization_id, agent_id, name, primary_metric, control_version, created_by)
    values (v_agent.organization_id, v_agent.id, btrim(p_name), p_primary_metric,
            coalesce(p_control_version, (p_variants -> 0 ->> 'version')::integer), (select auth.uid()))
    returning * into v_experiment;
    insert into public.experiment_variants (organization_id, experiment_id, agent_id, version, weight, position)
    select v_agent.organization_id, v_experiment.id, v_agent.id, (x.value ->> 'version')::integer,
           (x.value ->> 'weight')::numeric, (x.ordinality - 1)::smallint
    from jsonb_array_elements(p_variants) with ordinality x;
    if not exists (select 1 from public.experiment_variants v
                   where v.experiment_id = v_experiment.id and v.version = v_experiment.control_version) then
        raise exception 'the control version must be one of the variants' using errcode = '22023';
    end if;
    return to_jsonb(v_experiment);
end
$$;

-- Stop an experiment and, with p_promote_version, make that variant's configuration the agent's
-- current one through public.update_agent (a new version when it differs), so versions stay linear.
create function public.stop_experiment(p_experiment_id uuid, p_promote_version integer default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
    v_experiment public.experiments;
    v_agent public.agents;
    v_config jsonb;
    v_promoted jsonb;
begin
    select * into v_experiment from public.experiments e
    where e.id = p_experiment_id and ((select app.is_service_path()) or e.organization_id in (select app.my_org_ids()))
    for update;
    if v_experiment.id is null then
        raise exception 'experiment not found' using errcode = 'P0002';
    end if;
    if not (select app.is_service_path())
       and v_experiment.organization_id not in (select app.my_org_ids_with_role('editor')) then
        raise exception 'only owners, admins and editors stop experiments' using errcode = '42501';
    end if;
    if v_experiment.status <> 'running' then
        raise exception 'the experiment is already stopped' using errcode = 'P0001';
    end if;
    if p_promote_version is not null then
        select v.config into v_config from public.experiment_variants ev
        join public.agent_versions v on v.agent_id = ev.agent_id and v.version = ev.version
        where ev.experiment_id = v_experiment.id and ev.version = p_promote_version;
        if v_config is null then
            raise exception 'version % is not a variant of this experiment', p_promote_version using errcode = '22023';
        end if;
        select * into v_agent from public.agents a where a.id = v_experiment.agent_id;
        v_promoted := public.update_agent(v_agent.id, v_agent.current_version, v_config);
    end if;
    update public.experiments e set
        status = 'stopped', stopped_at = now(), stopped_by = (select auth.uid()),
        winner_version = p_promote_version, promoted_version = (v_promoted ->> 'version')::integer
    where e.id = v_experiment.id
    returning * into v_experiment;
    return to_jsonb(v_experiment);
end
$$;

revoke all on function public.create_experiment(uuid, text, text, jsonb, integer),
    public.stop_experiment(uuid, integer) from public, anon;
grant execute on function public.create_experiment(uuid, text, text, jsonb, integer),
    public.stop_experiment(uuid, integer) to authenticated, service_role;
