-- h10reads: the budgets read (GET /organizations/{id}/budgets, and PUT's answer) as a function, so the
-- statement is parsed and planned once per connection instead of on every request: sent as text, the
-- budgets, ledger, reservations and agents query spent ~0.7 ms parsing and planning under RLS (its
-- execution ~0.2 ms). The body is the query shared/spend/service.py sent (h13outcomes), computing the
-- organization's zone once (it was copied into every expression that used it, ~15 calls per budget) and
-- each budget's period bounds once per budget. SECURITY INVOKER: RLS decides, as before, what the caller
-- reads. Rows: each budget of the organization with its current period (its kind in the organization's
-- zone, as app.reserve_budget rolls it over; a counter still on an earlier period reads as zero), the
-- ledger's spend in it, its open reservations, and every agent's current config (for their exhaustion
-- policies), in the budgets' order (the organization's first).
create function app.budget_states(p_organization_id uuid)
returns table (
    id uuid,
    organization_id uuid,
    agent_id uuid,
    period text,
    time_zone text,
    period_start date,
    period_end date,
    period_starts_at timestamptz,
    period_ends_at timestamptz,
    limit_usd numeric,
    per_conversation_limit_usd numeric,
    alert_thresholds numeric[],
    spent_usd numeric,
    counter_spent_usd numeric,
    reserved_usd numeric,
    reservations jsonb,
    agents jsonb
)
language plpgsql stable set search_path = '' as $$
#variable_conflict use_column
declare
    v_zone text := app.organization_time_zone(p_organization_id);
begin
    return query
    with p as materialized (
        select b.id, b.organization_id, b.agent_id, b.period, b.monthly_limit_usd, b.per_conversation_limit_usd,
               b.alert_thresholds, b.period_start, b.spent_usd, b.reserved_usd,
               app.budget_period_start(b.period, v_zone, now()) as start
        from public.budgets b
        where b.organization_id = p_organization_id
    ),
    q as materialized (
        select p.*, e.next_start, p.start::timestamp at time zone v_zone as starts_at,
               e.next_start::timestamp at time zone v_zone as ends_at
        from p cross join lateral (select app.budget_period_end(p.period, p.start) as next_start) e
    )
    select q.id, q.organization_id, q.agent_id, q.period, v_zone, q.start, q.next_start, q.starts_at, q.ends_at,
           q.monthly_limit_usd, q.per_conversation_limit_usd, q.alert_thresholds,
           (select coalesce(sum(u.cost_usd), 0) from public.llm_usage u
            where u.organization_id = q.organization_id and (q.agent_id is null or u.agent_id = q.agent_id)
              and u.created_at >= q.starts_at and u.created_at < q.ends_at),
           case when q.period_start < q.start then 0 else q.spent_usd end,
           case when q.period_start < q.start then 0 else q.reserved_usd end,
           (select jsonb_build_object('count', count(*), 'amount_usd', coalesce(sum(r.amount_usd), 0),
                                      'oldest_at', min(r.created_at),
                                      'expired', count(*) filter (where r.expires_at < now()))
            from public.budget_reservations r
            where r.organization_id = q.organization_id and r.status = 'reserved' and q.id = any (r.budget_ids)),
           (select coalesce(jsonb_agg(jsonb_build_object('agent_id', a.id, 'config', v.config) order by a.id), '[]')
            from public.agents a
            join public.agent_versions v on v.agent_id = a.id and v.version = a.current_version
            where a.organization_id = p_organization_id)
    from q
    order by q.agent_id nulls first, q.id;
end
$$;

revoke all on function app.budget_states(uuid) from public, anon, authenticated;
grant execute on function app.budget_states(uuid) to authenticated, service_role;
