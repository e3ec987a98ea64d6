-- Quality: each rollup row counts its conversation's unanswered knowledge questions (the rows
-- app.finish_turn writes to knowledge_unanswered when nothing in the knowledge base answered a lead),
-- so the quality report sums them like its other counts (cohort by conversation start). A miss comes
-- with the turn's assistant message, which touches the conversation, so the incremental refresh
-- already picks the conversation up.

alter table public.analytics_conversations
    add column unanswered_questions integer not null default 0
        constraint analytics_conversations_unanswered_questions_check check (unanswered_questions >= 0);
update public.analytics_conversations a set unanswered_questions = k.n
from (select q.conversation_id, count(*) as n from public.knowledge_unanswered q group by q.conversation_id) k
where k.conversation_id = a.conversation_id;

-- h13quality: body from 20261201700100_analytics_denormalised.sql; also counts the conversation's
-- knowledge_unanswered rows (every change marked).
create or replace function app.refresh_analytics_rows(p_conversation_ids uuid[]) returns integer
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
    -- h13quality: the conversation's knowledge-base misses (app.finish_turn writes one per lead message)
    k as (
        select q.conversation_id, count(*) as n
        from public.knowledge_unanswered q where q.conversation_id in (select id from ids)
        group by q.conversation_id
    ),
    up as (
        insert into public.analytics_conversations as a (
            conversation_id, organization_id, agent_id, agent_version, channel, experiment_variant_id,
            experiment_id, variant_version, -- h13outcomes: the variant's experiment and version, copied
            day, week, seconds_to_qualify, seconds_to_convert, -- h13outcomes: stored for the reads
            lead_id,
            started_at, engaged_at, qualified_at, handed_off_at, converted_at, lost, opted_out, conversions,
            conversion_value, lead_messages, assistant_messages, human_messages, llm_calls, llm_fallback_calls,
            llm_errors, tokens_in, tokens_out, llm_cost_usd,
            unanswered_questions, -- h13quality
            refreshed_at)
        select c.id, c.organization_id, c.agent_id, c.agent_version, c.channel::text, c.experiment_variant_id,
               xv.experiment_id, xv.version, -- h13outcomes
               (c.created_at at time zone 'UTC')::date, date_trunc('week', c.created_at at time zone 'UTC')::date,
               extract(epoch from ev.qualified_at - c.created_at),
               extract(epoch from least(ev.converted_at, cv.first_at) - c.created_at), -- h13outcomes
               c.lead_id, c.created_at, ev.engaged_at, ev.qualified_at,
               coalesce(ev.handed_off_at, case when c.status::text = 'human' then c.updated_at end),
               least(ev.converted_at, cv.first_at), coalesce(ev.lost, false), coalesce(ev.opted_out, false),
               coalesce(cv.n, 0), coalesce(cv.value, 0), coalesce(m.lead_n, 0), coalesce(m.assistant_n, 0),
               coalesce(m.human_n, 0), coalesce(u.calls, 0), coalesce(u.fallbacks, 0), coalesce(u.errors, 0),
               coalesce(u.tin, 0), coalesce(u.tout, 0), coalesce(u.cost, 0),
               coalesce(k.n, 0), -- h13quality
               now()
        from public.conversations c
        left join ev on ev.conversation_id = c.id
        left join cv on cv.conversation_id = c.id
        left join m on m.conversation_id = c.id
        left join u on u.conversation_id = c.id
        left join k on k.conversation_id = c.id -- h13quality
        left join public.experiment_variants xv on xv.id = c.experiment_variant_id -- h13outcomes
        where c.id in (select id from ids)
        on conflict (conversation_id) do update set
            agent_version = excluded.agent_version, experiment_variant_id = excluded.experiment_variant_id,
            experiment_id = excluded.experiment_id, variant_version = excluded.variant_version, -- h13outcomes
            seconds_to_qualify = excluded.seconds_to_qualify, seconds_to_convert = excluded.seconds_to_convert,
            engaged_at = excluded.engaged_at, qualified_at = excluded.qualified_at,
            handed_off_at = excluded.handed_off_at, converted_at = excluded.converted_at, lost = excluded.lost,
            opted_out = excluded.opted_out, conversions = excluded.conversions,
            conversion_value = excluded.conversion_value, lead_messages = excluded.lead_messages,
            assistant_messages = excluded.assistant_messages, human_messages = excluded.human_messages,
            llm_calls = excluded.llm_calls, llm_fallback_calls = excluded.llm_fallback_calls,
            llm_errors = excluded.llm_errors, tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out,
            llm_cost_usd = excluded.llm_cost_usd,
            unanswered_questions = excluded.unanswered_questions, -- h13quality
            refreshed_at = excluded.refreshed_at
        returning 1
    )
    select count(*)::integer from up
$$;

