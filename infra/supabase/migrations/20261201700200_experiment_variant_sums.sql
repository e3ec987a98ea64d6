-- Experiment results read one row per variant: the refresh keeps each variant's sums over its leads
-- (lead count, conversations, qualified and converted leads, and the sums of each lead's LLM cost x
-- and conversions y that the delta method needs: x, y, x², y², xy) on the variant row itself, so a
-- results request no longer aggregates tens of thousands of analytics_experiment_leads rows. Written
-- only by the refresh (service path); members read them with the variant (select grant, RLS).

alter table public.experiment_variants
    add column rollup_leads bigint not null default 0,
    add column rollup_conversations bigint not null default 0,
    add column rollup_qualified bigint not null default 0,
    add column rollup_converted bigint not null default 0,
    add column rollup_sx float8 not null default 0,
    add column rollup_sy float8 not null default 0,
    add column rollup_sxx float8 not null default 0,
    add column rollup_syy float8 not null default 0,
    add column rollup_sxy float8 not null default 0,
    add column rollup_refreshed_at timestamptz;
comment on column public.experiment_variants.rollup_leads is
    'Sums over the variant''s analytics_experiment_leads rows (rollup_*), kept by app.refresh_analytics.';

-- Recompute the sums of the given variants from their (variant, lead) rollup rows.
create function app.refresh_experiment_variant_sums(p_variant_ids uuid[]) returns integer
language plpgsql set search_path = '' as $$
declare
    v_count integer;
begin
    update public.experiment_variants v set
        rollup_leads = s.leads, rollup_conversations = s.conversations, rollup_qualified = s.qualified,
        rollup_converted = s.converted, rollup_sx = s.sx, rollup_sy = s.sy, rollup_sxx = s.sxx,
        rollup_syy = s.syy, rollup_sxy = s.sxy, rollup_refreshed_at = now()
    from (
        select x.id, count(l.lead_id) as leads, coalesce(sum(l.conversations), 0) as conversations,
               count(l.lead_id) filter (where l.qualified) as qualified,
               count(l.lead_id) filter (where l.converted) as converted,
               coalesce(sum(l.llm_cost_usd), 0)::float8 as sx, coalesce(sum(l.conversions), 0)::float8 as sy,
               coalesce(sum(l.llm_cost_usd::float8 * l.llm_cost_usd::float8), 0) as sxx,
               coalesce(sum(l.conversions::float8 * l.conversions), 0) as syy,
               coalesce(sum(l.llm_cost_usd::float8 * l.conversions), 0) as sxy
        from unnest(p_variant_ids) as x(id)
        left join public.analytics_experiment_leads l on l.experiment_variant_id = x.id
        group by x.id
    ) s
    where v.id = s.id;
    get diagnostics v_count = row_count;
    return v_count;
end
$$;
revoke all on function app.refresh_experiment_variant_sums(uuid[]) from public, anon, authenticated;
grant execute on function app.refresh_experiment_variant_sums(uuid[]) to service_role;

-- h13outcomes: body from 20261130500200_experiment_leads.sql; the touched variants' sums follow
-- their lead rows in the same transaction.
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
    -- h13outcomes: every variant the recomputed conversations belong to (all of them on a full refresh)
    perform app.refresh_experiment_variant_sums(array(
        select distinct a.experiment_variant_id from public.analytics_conversations a
        where a.conversation_id in (select unnest(coalesce(v_ids, '{}'))) and a.experiment_variant_id is not null
        union
        select v.id from public.experiment_variants v where p_full));
    return v_count;
end
$$;
