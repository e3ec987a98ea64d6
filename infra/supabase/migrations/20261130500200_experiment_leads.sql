-- Experiment results are per lead (the unit of assignment): one rollup row per (variant, lead) with
-- the lead's totals over its conversations in that variant, so the results read one row per lead
-- instead of grouping every conversation on each request. Filled with analytics_conversations by
-- the refreshAnalytics cron; members read under RLS.

create table public.analytics_experiment_leads (
    experiment_variant_id uuid not null,
    lead_id uuid not null,
    organization_id uuid not null references public.organizations (id) on delete cascade,
    conversations integer not null,
    qualified boolean not null,
    converted boolean not null,
    conversions integer not null,
    llm_cost_usd numeric(16, 6) not null,
    refreshed_at timestamptz not null default now(),
    constraint analytics_experiment_leads_pkey primary key (experiment_variant_id, lead_id),
    constraint analytics_experiment_leads_variant_fkey foreign key (experiment_variant_id, organization_id)
        references public.experiment_variants (id, organization_id) on delete cascade,
    constraint analytics_experiment_leads_lead_fkey foreign key (lead_id, organization_id)
        references public.leads (id, organization_id) on delete cascade
);
create index analytics_experiment_leads_organization_id_idx on public.analytics_experiment_leads (organization_id);
create index analytics_experiment_leads_lead_id_idx on public.analytics_experiment_leads (lead_id);
comment on table public.analytics_experiment_leads is
    'Per (experiment variant, lead) totals of analytics_conversations; refreshed by the refreshAnalytics cron.';

alter table public.analytics_experiment_leads enable row level security;
create policy "members read experiment leads" on public.analytics_experiment_leads
    for select to authenticated using (organization_id in (select app.my_org_ids()));
revoke all on public.analytics_experiment_leads from anon, authenticated;
grant select on public.analytics_experiment_leads to authenticated;
grant select, insert, update, delete on public.analytics_experiment_leads to service_role;

-- Recompute the (variant, lead) rows that the given conversations belong to.
create function app.refresh_experiment_leads(p_conversation_ids uuid[]) returns integer
language sql set search_path = '' as $$
    with pairs as (
        select distinct a.experiment_variant_id, a.lead_id from public.analytics_conversations a
        where a.conversation_id in (select unnest(p_conversation_ids)) and a.experiment_variant_id is not null
    ), up as (
        insert into public.analytics_experiment_leads as l (experiment_variant_id, lead_id, organization_id,
            conversations, qualified, converted, conversions, llm_cost_usd, refreshed_at)
        select a.experiment_variant_id, a.lead_id, a.organization_id, count(*), bool_or(a.qualified_at is not null),
               bool_or(a.converted_at is not null), sum(a.conversions), sum(a.llm_cost_usd), now()
        from public.analytics_conversations a
        join pairs p on p.experiment_variant_id = a.experiment_variant_id and p.lead_id = a.lead_id
        group by a.experiment_variant_id, a.lead_id, a.organization_id
        on conflict (experiment_variant_id, lead_id) do update set
            conversations = excluded.conversations, qualified = excluded.qualified, converted = excluded.converted,
            conversions = excluded.conversions, llm_cost_usd = excluded.llm_cost_usd,
            refreshed_at = excluded.refreshed_at
        returning 1
    )
    select count(*)::integer from up
$$;
revoke all on function app.refresh_experiment_leads(uuid[]) from public;
grant execute on function app.refresh_experiment_leads(uuid[]) to service_role;

-- The cron's entry point, now filling both rollups in the same transaction.
create or replace function app.refresh_analytics(p_full boolean default false) returns integer
language plpgsql set search_path = '' as $$
declare
    v_since timestamptz;
    v_started timestamptz := clock_timestamp();
    v_ids uuid[];
    v_count integer;
begin
    select r.refreshed_from into v_since from app.analytics_refresh r for update;
    if p_full then
        v_since := '-infinity';
    else
        v_since := v_since - interval '10 minutes';
    end if;
    if v_since = '-infinity' then
        select array_agg(c.id) into v_ids from public.conversations c;
    else
        select array_agg(distinct x.id) into v_ids from (
            select c.id from public.conversations c where c.updated_at >= v_since or c.created_at >= v_since
            union all select e.conversation_id from public.lead_events e where e.created_at >= v_since
            union all select v.conversation_id from public.conversions v where v.created_at >= v_since
        ) x where x.id is not null;
    end if;
    update app.analytics_refresh set refreshed_from = v_started;
    v_count := coalesce(app.refresh_analytics_rows(coalesce(v_ids, '{}')), 0);
    perform app.refresh_experiment_leads(coalesce(v_ids, '{}'));
    return v_count;
end
$$;
