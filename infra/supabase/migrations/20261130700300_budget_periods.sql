-- Budget periods and alerts, run by the budgetPeriods cron (shared/budget_periods.py).
alter type public.event_type add value if not exists 'budget.threshold_reached';

-- One alert per budget, per period, per threshold.
create table app.budget_alert_marks (
    budget_id uuid not null references public.budgets (id) on delete cascade,
    period_start date not null,
    threshold numeric(4, 3) not null,
    created_at timestamptz not null default now(),
    primary key (budget_id, period_start, threshold)
);
revoke all on app.budget_alert_marks from public, anon, authenticated;
grant select, insert on app.budget_alert_marks to service_role;

-- Roll every budget whose period ended over to the month of p_now (UTC), as app.reserve_budget does
-- for the budgets it touches: a read at the start of a month shows the new month.
create function app.roll_budget_periods(p_now timestamptz) returns integer
language plpgsql set search_path = '' as $$
declare
    v_month date := date_trunc('month', p_now at time zone 'UTC')::date;
    v_rolled integer;
begin
    update public.budgets b set spent_usd = 0, reserved_usd = 0, period_start = v_month
    where b.period_start < v_month;
    get diagnostics v_rolled = row_count;
    return v_rolled;
end
$$;

-- budget.threshold_reached for every budget whose spend crossed its alert threshold this period,
-- once per period and threshold (app.budget_alert_marks), through the outbox like every event.
create function app.raise_budget_alerts() returns integer
language plpgsql set search_path = '' as $$
declare
    v_raised integer;
begin
    with crossed as (
        select b.id, b.organization_id, b.agent_id, b.period_start, b.alert_threshold, b.spent_usd,
               b.monthly_limit_usd
        from public.budgets b
        where b.monthly_limit_usd > 0 and b.spent_usd >= b.alert_threshold * b.monthly_limit_usd
    ), marked as (
        insert into app.budget_alert_marks (budget_id, period_start, threshold)
        select c.id, c.period_start, c.alert_threshold from crossed c
        on conflict do nothing
        returning budget_id
    )
    insert into public.event_outbox (organization_id, type, payload)
    select c.organization_id, 'budget.threshold_reached'::public.event_type,
           jsonb_strip_nulls(jsonb_build_object('budget_id', c.id, 'agent_id', c.agent_id,
               'period_start', c.period_start, 'threshold', c.alert_threshold, 'spent_usd', c.spent_usd,
               'monthly_limit_usd', c.monthly_limit_usd))
    from crossed c join marked m on m.budget_id = c.id;
    get diagnostics v_raised = row_count;
    return v_raised;
end
$$;
revoke all on function app.roll_budget_periods(timestamptz), app.raise_budget_alerts() from public, anon, authenticated;
grant execute on function app.roll_budget_periods(timestamptz), app.raise_budget_alerts() to service_role;
