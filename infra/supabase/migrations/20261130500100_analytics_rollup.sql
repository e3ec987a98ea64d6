-- Analytics: one rollup row per conversation (its dimensions, when it reached each funnel stage, its
-- outcomes, messages and LLM spend), so funnel, outcome, cost and quality reports and experiment
-- results read one narrow table instead of a million messages. A plain table with RLS (members
-- read), filled only by the refresh cron on the service path (app.refresh_analytics); the reports
-- run as the caller, so RLS decides which rows count.

create table public.analytics_conversations (
    conversation_id uuid primary key,
    organization_id uuid not null references public.organizations (id) on delete cascade,
    agent_id uuid not null,
    agent_version integer not null,
    channel text not null,
    experiment_variant_id uuid,
    lead_id uuid not null,
    started_at timestamptz not null,
    engaged_at timestamptz,
    qualified_at timestamptz,
    handed_off_at timestamptz,
    converted_at timestamptz,
    lost boolean not null default false,
    opted_out boolean not null default false,
    conversions integer not null default 0,
    conversion_value numeric(16, 2) not null default 0,
    lead_messages integer not null default 0,
    assistant_messages integer not null default 0,
    human_messages integer not null default 0,
    llm_calls integer not null default 0,
    llm_fallback_calls integer not null default 0,
    llm_errors integer not null default 0,
    tokens_in bigint not null default 0,
    tokens_out bigint not null default 0,
    llm_cost_usd numeric(16, 6) not null default 0,
    refreshed_at timestamptz not null default now(),
    constraint analytics_conversations_conversation_fkey foreign key (conversation_id, organization_id)
        references public.conversations (id, organization_id) on delete cascade,
    constraint analytics_conversations_agent_fkey foreign key (agent_id, organization_id)
        references public.agents (id, organization_id) on delete cascade,
    constraint analytics_conversations_lead_fkey foreign key (lead_id, organization_id)
        references public.leads (id, organization_id) on delete cascade,
    constraint analytics_conversations_experiment_variant_fkey foreign key (experiment_variant_id, organization_id)
        references public.experiment_variants (id, organization_id) on delete set null (experiment_variant_id)
);
create index analytics_conversations_organization_started_idx
    on public.analytics_conversations (organization_id, started_at);
create index analytics_conversations_agent_id_idx on public.analytics_conversations (agent_id, started_at);
create index analytics_conversations_lead_id_idx on public.analytics_conversations (lead_id);
create index analytics_conversations_variant_idx on public.analytics_conversations (experiment_variant_id, lead_id)
    where experiment_variant_id is not null;
comment on table public.analytics_conversations is
    'Per-conversation rollup of lead events, conversions, messages and llm_usage; refreshed by the refreshAnalytics cron.';

alter table public.analytics_conversations enable row level security;
create policy "members read analytics" on public.analytics_conversations
    for select to authenticated using (organization_id in (select app.my_org_ids()));
revoke all on public.analytics_conversations from anon, authenticated;
grant select on public.analytics_conversations to authenticated;
grant select, insert, update, delete on public.analytics_conversations to service_role;

-- Where the last incremental refresh started (one row).
create table app.analytics_refresh (
    singleton boolean primary key default true constraint analytics_refresh_singleton_check check (singleton),
    refreshed_from timestamptz not null default '-infinity'
);
insert into app.analytics_refresh default values;
revoke all on app.analytics_refresh from public, anon, authenticated;
grant select, update on app.analytics_refresh to service_role;

-- What changed since a refresh: every message, turn (usage row) and status change touches its
-- conversation's updated_at; CRM outcomes add lead events and conversions without touching it.
create index lead_events_created_at_idx on public.lead_events (created_at);
create index conversions_created_at_idx on public.conversions (created_at);
create index conversations_updated_at_idx on public.conversations (updated_at);

-- Recompute the rollup rows of the given conversations from the raw tables (one statement).
create function app.refresh_analytics_rows(p_conversation_ids uuid[]) returns integer
language sql set search_path = '' as $$
    with ids as (select unnest(p_conversation_ids) as id),
    ev as (
        select e.conversation_id,
               min(e.created_at) filter (where e.to_stage in ('engaged', 'qualified', 'handed_off', 'converted'))
                   as engaged_at,
               min(e.created_at) filter (where e.to_stage in ('qualified', 'converted') or e.type = 'lead.qualified')
                   as qualified_at,
               min(e.created_at) filter (where e.to_stage = 'handed_off' or e.type in ('handoff.requested',
                   'conversation.taken_over')) as handed_off_at,
               min(e.created_at) filter (where e.to_stage = 'converted') as converted_at,
               bool_or(e.to_stage = 'lost') as lost,
               bool_or(e.type = 'lead.updated' and e.data ->> 'reason' = 'opt_out') as opted_out
        from public.lead_events e where e.conversation_id in (select id from ids)
        group by e.conversation_id
    ),
    cv as (
        select v.conversation_id, count(*) as n, sum(v.value) as value, min(v.occurred_at) as first_at
        from public.conversions v where v.conversation_id in (select id from ids)
        group by v.conversation_id
    ),
    m as (
        select x.conversation_id,
               count(*) filter (where x.role = 'lead') as lead_n,
               count(*) filter (where x.role = 'assistant') as assistant_n,
               count(*) filter (where x.role = 'human') as human_n
        from public.messages x where x.conversation_id in (select id from ids)
        group by x.conversation_id
    ),
    u as (
        select l.conversation_id, count(*) as calls, count(*) filter (where l.fallback_used) as fallbacks,
               count(*) filter (where l.status = 'error') as errors, sum(l.tokens_in) as tin,
               sum(l.tokens_out) as tout, sum(l.cost_usd) as cost
        from public.llm_usage l where l.conversation_id in (select id from ids)
        group by l.conversation_id
    ),
    up as (
        insert into public.analytics_conversations as a (
            conversation_id, organization_id, agent_id, agent_version, channel, experiment_variant_id, lead_id,
            started_at, engaged_at, qualified_at, handed_off_at, converted_at, lost, opted_out, conversions,
            conversion_value, lead_messages, assistant_messages, human_messages, llm_calls, llm_fallback_calls,
            llm_errors, tokens_in, tokens_out, llm_cost_usd, refreshed_at)
        select c.id, c.organization_id, c.agent_id, c.agent_version, c.channel::text, c.experiment_variant_id,
               c.lead_id, c.created_at, ev.engaged_at, ev.qualified_at,
               coalesce(ev.handed_off_at, case when c.status::text = 'human' then c.updated_at end),
               least(ev.converted_at, cv.first_at), coalesce(ev.lost, false), coalesce(ev.opted_out, false),
               coalesce(cv.n, 0), coalesce(cv.value, 0), coalesce(m.lead_n, 0), coalesce(m.assistant_n, 0),
               coalesce(m.human_n, 0), coalesce(u.calls, 0), coalesce(u.fallbacks, 0), coalesce(u.errors, 0),
               coalesce(u.tin, 0), coalesce(u.tout, 0), coalesce(u.cost, 0), now()
        from public.conversations c
        left join ev on ev.conversation_id = c.id
        left join cv on cv.conversation_id = c.id
        left join m on m.conversation_id = c.id
        left join u on u.conversation_id = c.id
        where c.id in (select id from ids)
        on conflict (conversation_id) do update set
            agent_version = excluded.agent_version, experiment_variant_id = excluded.experiment_variant_id,
            engaged_at = excluded.engaged_at, qualified_at = excluded.qualified_at,
            handed_off_at = excluded.handed_off_at, converted_at = excluded.converted_at, lost = excluded.lost,
            opted_out = excluded.opted_out, conversions = excluded.conversions,
            conversion_value = excluded.conversion_value, lead_messages = excluded.lead_messages,
            assistant_messages = excluded.assistant_messages, human_messages = excluded.human_messages,
            llm_calls = excluded.llm_calls, llm_fallback_calls = excluded.llm_fallback_calls,
            llm_errors = excluded.llm_errors, tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out,
            llm_cost_usd = excluded.llm_cost_usd, refreshed_at = excluded.refreshed_at
        returning 1
    )
    select count(*)::integer from up
$$;

-- The cron's entry point. Incremental: every conversation touched since the previous run started
-- (minus a margin for transactions that were still open then) is recomputed; p_full recomputes all.
create function app.refresh_analytics(p_full boolean default false) returns integer
language plpgsql set search_path = '' as $$
declare
    v_since timestamptz;
    v_started timestamptz := clock_timestamp();
    v_ids uuid[];
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
    return coalesce(app.refresh_analytics_rows(coalesce(v_ids, '{}')), 0);
end
$$;

revoke all on function app.refresh_analytics_rows(uuid[]), app.refresh_analytics(boolean) from public;
grant execute on function app.refresh_analytics_rows(uuid[]), app.refresh_analytics(boolean) to service_role;
